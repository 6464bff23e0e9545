import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, DelegationSubject, ExchangeInput } from '../../delegation/types.ts';
import { auditedGrant, decideOrExplain } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import { canonicalResource, parseScopeParam } from '../authz-params.ts';
import { authenticateClient } from '../client-auth.ts';
import { OAuthError } from '../errors.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti, signDelegatedToken, workloadProfile, type DelegatedClaims } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustDomainBundles } from '../trust.ts';

/**
 * grant_type=client_credentials (RFC 6749 §4.4): an agent acting on its own behalf,
 * no person involved (docs/mcp.md "Agents acting for themselves"). The client proves
 * its SPIFFE ID with its X.509-SVID (mTLS) or a JWT-SVID assertion; there are no client
 * secrets and no public clients here.
 *
 * Authorization is the delegation policy engine, default deny: the agent is the subject
 * (issuer = this authorization server's issuer, name = its SPIFFE ID) and the actor, so
 * a policy whose subject_issuer is our issuer and whose actors match the agent lets it
 * act for itself, with that policy's audiences, scopes and max_ttl. The token:
 * sub = client_id = the SPIFFE ID, sub_profile ai_agent/service, aud = resource,
 * `act` naming the same workload (so actor revocation and every verifier's "current
 * actor" work unchanged), `cnf` over mTLS. No refresh token (RFC 6749 §4.4.3): the
 * client can always ask again.
 */
export const CLIENT_CREDENTIALS = 'client_credentials';
const MAX_RESOURCES = 16;

export interface ClientCredentialsDeps {
  issuer: string;
  tokenEndpoint: string;
  tokenTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey'>;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'getOAuthClient'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate'>;
  audit: OAuthAudit;
  clock: Clock;
}

export function clientCredentialsGrant(d: ClientCredentialsDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: CLIENT_CREDENTIALS,
    repeatable: ['resource'],
    who: ['client_id'],
    run: (r, known) => issue(d, r, known),
  });
}

async function issue(d: ClientCredentialsDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  // Parameters.
  if (form.get('audience') !== undefined) {
    throw new OAuthError('invalid_request', 'audience is not a client_credentials parameter here; name the resource server with resource (RFC 8707)');
  }
  const resources = parseResources(form.all('resource'));
  const scope = parseScopeParam(form.get('scope'));
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);

  // Client: an attested workload, never a public client.
  const client = await authenticateClient(r, form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: false,
    requiredMethod: async (id) => (await d.store.getOAuthClient(id))?.authMethod,
  });
  const id = client.spiffeId!.toString();
  known.client_id = id;
  known.client_auth = client.method;

  // Policy: the agent acting for itself.
  const self: DelegationSubject = { issuer: d.issuer, name: id, groups: [] };
  const actor: ChainActor = { spiffeId: id, claims: client.claims };
  const input: ExchangeInput = {
    subject: self, actor, priorActors: [], subjectScopes: undefined, parentAudiences: undefined,
    subjectExpiresAt: now + d.tokenTtl, requestedScopes: scope.value, requestedAudiences: resources,
    requestedTtl: undefined, now, serverMaxTtl: d.tokenTtl,
  };
  const decision = decideOrExplain(d.core, input, (why) => `no delegation policy lets ${id} act for itself: client credentials need a policy `
    + `with subject_issuer ${d.issuer} whose actors match ${id} (${why})`);

  // Mint.
  const key = d.keys.signingKey();
  const claims: DelegatedClaims = {
    iss: d.issuer,
    sub: id,
    aud: decision.audiences,
    scope: decision.scopes.join(' '),
    exp: decision.expiresAt, iat: now, nbf: now,
    jti: newJti(), client_id: id, grant_id: newGrantId(), chain: [],
    subject: { iss: d.issuer, sub: id, groups: [] },
    sub_profile: workloadProfile(client.claims),
    act: actClaim([actor]),
    ...(client.x5t ? { cnf: { 'x5t#S256': client.x5t } } : {}),
  };
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.token_exchange', id, {
    grant: CLIENT_CREDENTIALS, subject: id, client_id: id, client_auth: client.method, actor_chain: [id],
    scopes: decision.scopes, audience: decision.audiences, jti: claims.jti, grant_id: claims.grant_id, policy: decision.policyId,
    exp: claims.exp, bound: client.x5t !== undefined, kid: key.kid,
  });
  return { access_token: token, token_type: 'Bearer', expires_in: claims.exp - now, scope: claims.scope };
}

function parseResources(raw: string[]): string[] {
  if (raw.length === 0) {
    throw new OAuthError('invalid_target', 'resource is required: name the resource server the token is for (RFC 8707; its canonical URI, e.g. https://mcp.example.com/mcp)');
  }
  if (raw.length > MAX_RESOURCES) throw new OAuthError('invalid_target', `${raw.length} resources requested; at most ${MAX_RESOURCES}`);
  const out: string[] = [];
  for (const r of raw) {
    const c = canonicalResource(r);
    if (!c.ok) throw new OAuthError('invalid_target', c.description);
    if (!out.includes(c.value)) out.push(c.value);
  }
  return out;
}
