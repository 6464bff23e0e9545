import { createHash } from 'node:crypto';
import type { Datastore } from '../../datastore/types.ts';
import type { ExchangeDecision } from '../../delegation/types.ts';
import type { OAuthAudit } from '../audit.ts';
import { parseScopeParam } from '../authz-params.ts';
import { authenticateClient } from '../client-auth.ts';
import type { TrustedDomain } from '../chaining/domain-keys.ts';
import type { ChainingBundles } from '../chaining/federated-bundles.ts';
import { JWT_BEARER_GRANT } from '../chaining/grant.ts';
import { parseResources } from '../chaining/params.ts';
import { grantError, verifyChainingGrant } from '../chaining/verify-grant.ts';
import { OAuthError } from '../errors.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti, signDelegatedToken, type DelegatedClaims } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';

/**
 * The foreign side of identity chaining (docs/identity-chaining.md): RFC 7523 §2.1
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with the home domain's
 * grant as `assertion`. The grant is verified (chaining/verify-grant.ts), used once
 * across every server sharing the store, and its client_id must be the client that
 * authenticates here: a workload of the home trust domain with a JWT-SVID
 * client_assertion verified by the federated bundle (or a workload of ours by mTLS).
 *
 * The delegation policies of this domain then decide as for any exchange: the user
 * is the grant's subject (policies name the IdP issuer), the current actor is the
 * home agent (its SPIFFE ID must match a policy's actors), the earlier actors of the
 * chain must have delegated by policy, and scope only narrows from the grant's. The
 * local delegated token keeps the whole `act` chain with the foreign SPIFFE IDs and
 * names the grant it came from (`chained`).
 */
export interface JwtBearerDeps {
  issuer: string;
  tokenEndpoint: string;
  tokenTtl: number;
  leeway: number;
  domains: ReadonlyMap<string, TrustedDomain>;
  /** Our bundles plus the federated ones of the trusted domains (client authentication). */
  bundles: ChainingBundles;
  keys: Pick<OAuthKeyManager, 'signingKey'>;
  store: Pick<Datastore, 'useTokenOnce'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate'>;
  audit: OAuthAudit;
}

export function jwtBearerGrant(d: JwtBearerDeps): GrantHandler {
  return {
    grantType: JWT_BEARER_GRANT,
    repeatable: ['resource'],
    async handle(r) {
      await d.audit.admit();
      const known: Record<string, unknown> = {};
      try {
        return await redeem(d, r, known);
      } catch (e) {
        if (e instanceof OAuthError && e.status < 500) {
          d.audit.record('oauth.chaining_grant_refused', String(known.subject ?? known.client ?? 'unknown'),
            { grant: JWT_BEARER_GRANT, side: 'foreign', error: e.error, error_description: e.message, ...known }, 'warn');
        }
        throw e;
      }
    },
  };
}

async function redeem(d: JwtBearerDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  const assertion = form.require('assertion');
  const scope = parseScopeParam(form.get('scope'));
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);
  const resources = parseResources(form.all('resource'));

  const client = await authenticateClient(r, form, { issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now });
  known.client = client.clientId;
  const g = await verifyChainingGrant(assertion, { issuer: d.issuer, domains: d.domains, now, leeway: d.leeway });
  const c = g.claims;
  known.subject = c.sub; known.home_issuer = c.iss; known.home_jti = c.jti; known.actor_chain = g.actors.map((a) => a.spiffeId);
  // ID-JAG: the client_id claim must identify the client authenticating this request.
  if (client.clientId !== c.client_id) {
    throw grantError(`assertion was issued to client ${c.client_id}, but ${client.clientId} presented it: only the client it names may redeem it`);
  }
  // Single use on every server of this domain, kept until the grant can no longer verify.
  const hash = createHash('sha256').update(`${c.iss}\n${c.jti}`).digest('hex');
  if (!await d.store.useTokenOnce(`jag:${hash}`, c.exp + d.leeway)) {
    throw grantError(`assertion ${c.jti} of ${c.iss} was already redeemed: grants are single use, request a new one from the home domain`);
  }

  // Resources: asked for ⊆ the grant's; none asked = the grant's.
  if (c.resource && resources.length) {
    const outside = resources.filter((x) => !c.resource!.includes(x));
    if (outside.length) throw new OAuthError('invalid_target', `resource ${outside.join(' ')} is not among the grant's resources ${c.resource.join(' ')}`);
  }
  const audiences = resources.length ? resources : (c.resource ?? []);
  if (!audiences.length) throw new OAuthError('invalid_target', 'resource is required: the grant names none; name the resource server the token is for');

  const subject = { issuer: c.subject.iss, name: c.subject.sub, groups: c.subject.groups };
  const [current, ...prior] = g.actors;
  let decision: ExchangeDecision;
  try {
    decision = d.core.evaluate({
      subject, actor: current!, priorActors: prior,
      subjectScopes: g.scopes, parentAudiences: undefined,
      // The grant authorizes issuing a token, it does not bound its life: this domain's policies do.
      subjectExpiresAt: now + d.tokenTtl,
      requestedScopes: scope.value?.length ? scope.value : g.scopes, requestedAudiences: audiences, requestedTtl: undefined,
      now, serverMaxTtl: d.tokenTtl,
    }, d.core.policies());
  } catch (e) {
    if (e instanceof OAuthError && e.error === 'unauthorized_client') {
      throw new OAuthError('unauthorized_client', `no delegation policy of ${d.issuer} admits this cross-domain grant from ${c.iss}: ${e.message}`);
    }
    throw e;
  }

  const key = d.keys.signingKey();
  const claims: DelegatedClaims & { chained: { iss: string; jti: string; grant_id: string } } = {
    iss: d.issuer, sub: c.sub, aud: decision.audiences, scope: decision.scopes.join(' '),
    exp: decision.expiresAt, iat: now, nbf: now, jti: newJti(), client_id: current!.spiffeId,
    grant_id: newGrantId(), chain: [], subject: { iss: subject.issuer, sub: subject.name, groups: subject.groups },
    act: actClaim(g.actors),
    ...(client.x5t ? { cnf: { 'x5t#S256': client.x5t } } : {}),
    chained: { iss: c.iss, jti: c.jti, grant_id: c.grant_id },
  };
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.chaining_grant_redeemed', c.sub, {
    grant: JWT_BEARER_GRANT, home_issuer: c.iss, home_jti: c.jti, home_grant_id: c.grant_id, subject: c.sub,
    actor_chain: known.actor_chain, client_auth: client.method, scopes: decision.scopes, audience: decision.audiences,
    jti: claims.jti, grant_id: claims.grant_id, policy: decision.policyId, exp: claims.exp, kid: key.kid,
  });
  return { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: claims.exp - now, scope: claims.scope };
}
