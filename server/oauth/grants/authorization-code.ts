import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { ChainActor, ExchangeInput } from '../../delegation/types.ts';
import { auditedGrant } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import { canonicalResource, checkVerifier } from '../authz-params.ts';
import { authenticateClient, type AuthenticatedClient } from '../client-auth.ts';
import type { ClientRegistry } from '../clients.ts';
import { codeHash, type CodeData } from '../codes.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newGrantId, newJti, signDelegatedToken, type DelegatedClaims } from '../mint.ts';
import { accessScopes, issueRefreshToken, OFFLINE_ACCESS } from '../refresh-tokens.ts';
import type { DelegationCore } from '../ports.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustDomainBundles } from '../trust.ts';

/**
 * grant_type=authorization_code (OAuth 2.1 §4.1.3, MCP 2026-07-28): the code the person
 * approved, redeemed once by the client it was issued to, with the PKCE verifier, the
 * same redirect_uri and the same resource. The token is a delegated token
 * (docs/delegation.md): sub = the person, aud = the resource, scope = what was approved
 * and a policy still allows now, client_id; `act` (and `cnf` over mTLS) when the client
 * proved a workload identity.
 *
 * A code presented twice is refused, and what its first redemption issued is revoked
 * (by jti and by grant: refresh-derived tokens die too), OAuth 2.1 §4.1.3.
 */
export const AUTHORIZATION_CODE = 'authorization_code';

export interface AuthorizationCodeDeps {
  issuer: string;
  tokenEndpoint: string;
  tokenTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey'>;
  clients: ClientRegistry;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'redeemAuthorizationCode' | 'putRefreshToken'>;
  /**
   * oauth.refresh_token_ttl: with it, a grant whose scope includes offline_access also
   * gets a refresh token (refresh-tokens.ts); without it, never.
   */
  refreshTokenTtl?: number;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revoke'>;
  audit: OAuthAudit;
  clock: Clock;
}

export function authorizationCodeGrant(d: AuthorizationCodeDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: AUTHORIZATION_CODE,
    who: ['subject', 'client_id'],
    run: (r, known) => redeem(d, r, known),
  });
}

async function redeem(d: AuthorizationCodeDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  const code = form.require('code');
  const redirectUri = form.require('redirect_uri');
  const client = await authenticateClient(r, form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: true,
    requiredMethod: (id) => d.clients.requiredMethod(id),
  });
  known.client_id = client.clientId;

  // The code: first redemption wins everywhere; a replay revokes what the first issued.
  const jti = newJti();
  const grantId = newGrantId();
  const rec = await d.store.redeemAuthorizationCode(codeHash(code), { jti, grantId });
  if (!rec) throw new OAuthError('invalid_grant', 'code is unknown: it was never issued here, or expired long ago');
  if (!rec.first) {
    known.replayed_jti = rec.issuedJti;
    await d.core.revoke('jti', rec.issuedJti, `code replay by ${client.clientId}`);
    await d.core.revoke('grant', rec.issuedGrantId, `code replay by ${client.clientId}`);
    throw new OAuthError('invalid_grant', `code was already used; the tokens issued from its first redemption (jti ${rec.issuedJti}, grant ${rec.issuedGrantId}) are revoked`);
  }
  const data = JSON.parse(rec.data) as CodeData;
  known.subject = `${data.subject.issuer}#${data.subject.name}`;
  if (rec.expiresAt <= now) throw new OAuthError('invalid_grant', `code expired at ${new Date(rec.expiresAt * 1000).toISOString()} (codes live 60 s)`);
  if (data.clientId !== client.clientId) {
    throw new OAuthError('invalid_grant', `code was issued to another client, not ${clip(client.clientId, 200)}`);
  }
  if (redirectUri !== data.redirectUri) {
    throw new OAuthError('invalid_grant', `redirect_uri ${clip(redirectUri, 200)} is not the redirect_uri of the authorization request`);
  }
  const verifier = form.get('code_verifier');
  if (verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  const why = checkVerifier(verifier, data.codeChallenge);
  if (why) throw new OAuthError('invalid_grant', why);
  const resource = canonicalResource(form.get('resource'));
  if (!resource.ok) throw new OAuthError('invalid_target', resource.description);
  if (resource.value !== data.resource) {
    throw new OAuthError('invalid_target', `resource ${clip(resource.value, 200)} is not the resource ${clip(data.resource, 200)} the code was issued for`);
  }

  // Policy again: it may have narrowed since the person approved.
  const actor: ChainActor = { spiffeId: client.spiffeId?.toString() ?? client.clientId, claims: client.claims };
  const input: ExchangeInput = {
    subject: data.subject, actor, priorActors: [], subjectScopes: undefined, parentAudiences: undefined,
    subjectExpiresAt: now + d.tokenTtl, requestedScopes: data.scopes, requestedAudiences: [data.resource],
    requestedTtl: undefined, now, serverMaxTtl: d.tokenTtl,
  };
  const decision = d.core.evaluate(input, d.core.policies());

  const key = d.keys.signingKey();
  const claims: DelegatedClaims = {
    iss: d.issuer,
    sub: `${data.subject.issuer}#${data.subject.name}`,
    aud: decision.audiences,
    scope: accessScopes(decision.scopes).join(' '),
    exp: decision.expiresAt, iat: now, nbf: now,
    jti, client_id: client.clientId, grant_id: grantId, chain: [],
    subject: { iss: data.subject.issuer, sub: data.subject.name, groups: data.subject.groups },
    sub_profile: 'user',
    ...(client.spiffeId ? { act: actClaim([actor]) } : {}),
    ...(client.x5t ? { cnf: { 'x5t#S256': client.x5t } } : {}),
  };
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.token_exchange', claims.sub, {
    grant: AUTHORIZATION_CODE, subject: claims.sub, client_id: client.clientId, client_auth: client.method,
    actor_chain: client.spiffeId ? [actor.spiffeId] : [], scopes: decision.scopes, audience: decision.audiences,
    jti, grant_id: grantId, policy: decision.policyId, exp: claims.exp, bound: client.x5t !== undefined, kid: key.kid,
  });
  const body: Record<string, unknown> = { access_token: token, token_type: 'Bearer', expires_in: claims.exp - now, scope: claims.scope };
  if (d.refreshTokenTtl !== undefined && decision.scopes.includes(OFFLINE_ACCESS)) {
    body.refresh_token = await issueRefreshToken(d.store, {
      grantId, client, now, expiresAt: now + d.refreshTokenTtl,
      data: { subject: data.subject, scopes: decision.scopes, resource: data.resource, approvedAt: data.approvedAt },
    });
  }
  return body;
}

export type { AuthenticatedClient };
