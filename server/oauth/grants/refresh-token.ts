import type { Clock } from '../../../common/clock.ts';
import type { Datastore } from '../../datastore/types.ts';
import type { RefreshTokenRecord } from '../../datastore/sql-refresh.ts';
import type { ChainActor, ExchangeInput } from '../../delegation/types.ts';
import { auditedGrant } from './audited.ts';
import type { OAuthAudit } from '../audit.ts';
import { canonicalResource, parseScopeParam } from '../authz-params.ts';
import { authenticateClient, type AuthenticatedClient } from '../client-auth.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { OAuthKeyManager } from '../keys.ts';
import { actClaim, newJti, signDelegatedToken, type DelegatedClaims } from '../mint.ts';
import type { DelegationCore } from '../ports.ts';
import { accessScopes, grantDataOf, mintRefreshToken, refreshTokenHash } from '../refresh-tokens.ts';
import type { GrantHandler, GrantRequest } from '../token-endpoint.ts';
import type { TrustDomainBundles } from '../trust.ts';

/**
 * grant_type=refresh_token (OAuth 2.1 §4.3, docs/mcp.md "Refresh tokens"): a new
 * access token of the same delegation grant, and a new refresh token in place of the
 * presented one (rotation on every use).
 *
 * - Bound to the client: the same client_id must authenticate as it did (an attested
 *   workload with an SVID of its SPIFFE ID; over mTLS again if it got the token over
 *   mTLS — any current SVID, since SVIDs rotate hourly and refresh tokens live days).
 * - Reuse of a rotated token revokes the whole family (OAuth 2.1 §4.3.1): the grant is
 *   revoked through the revocation index, which kills the access tokens of the grant
 *   everywhere and, in the same datastore transaction, every refresh token of it.
 * - Dies with its grant: a revoked grant, subject or actor refuses with invalid_grant.
 * - The policy is evaluated again (it may have narrowed since the person approved).
 */
export const REFRESH_TOKEN = 'refresh_token';

export interface RefreshTokenDeps {
  issuer: string;
  tokenEndpoint: string;
  tokenTtl: number;
  keys: Pick<OAuthKeyManager, 'signingKey'>;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce' | 'getOAuthClient' | 'getRefreshToken' | 'rotateRefreshToken'>;
  core: Pick<DelegationCore, 'policies' | 'evaluate' | 'revokedBy' | 'revoke'>;
  audit: OAuthAudit;
  clock: Clock;
}

export function refreshTokenGrant(d: RefreshTokenDeps): GrantHandler {
  return auditedGrant(d.audit, {
    grantType: REFRESH_TOKEN,
    who: ['subject', 'client_id'],
    run: (r, known) => refresh(d, r, known),
  });
}

async function refresh(d: RefreshTokenDeps, r: GrantRequest, known: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { form, now } = r;
  const presented = form.require('refresh_token');
  const scope = parseScopeParam(form.get('scope'));
  if (!scope.ok) throw new OAuthError('invalid_scope', scope.description);
  const client = await authenticateClient(r, form, {
    issuer: d.issuer, tokenEndpoint: d.tokenEndpoint, bundles: d.bundles, store: d.store, now, allowPublic: true,
    requiredMethod: async (id) => (await d.store.getOAuthClient(id))?.authMethod,
  });
  known.client_id = client.clientId;

  const hash = refreshTokenHash(presented);
  const rec = await d.store.getRefreshToken(hash);
  if (!rec) throw new OAuthError('invalid_grant', 'refresh_token is unknown: it was never issued here, or expired long ago');
  known.subject = rec.subject;
  known.grant_id = rec.grantId;
  checkHolder(rec, client);
  await checkLive(d, rec, client, now);

  // What the refresh may ask for: at most what the person approved, for the same resource.
  const data = grantDataOf(rec);
  const requested = scope.value;
  if (requested) {
    const wide = requested.filter((s) => !data.scopes.includes(s));
    if (wide.length) {
      throw new OAuthError('invalid_scope', `${wide.length > 1 ? 'scopes' : 'scope'} ${wide.join(' ')} ${wide.length > 1 ? 'were' : 'was'} not granted: this refresh token covers ${data.scopes.join(' ')}`);
    }
  }
  const resourceParam = form.get('resource');
  if (resourceParam !== undefined) {
    const res = canonicalResource(resourceParam);
    if (!res.ok) throw new OAuthError('invalid_target', res.description);
    if (res.value !== data.resource) {
      throw new OAuthError('invalid_target', `resource ${clip(res.value, 200)} is not the resource ${clip(data.resource, 200)} this refresh token was issued for`);
    }
  }

  const actor: ChainActor = { spiffeId: client.spiffeId?.toString() ?? client.clientId, claims: client.claims };
  const input: ExchangeInput = {
    subject: data.subject, actor, priorActors: [], subjectScopes: undefined, parentAudiences: undefined,
    subjectExpiresAt: now + d.tokenTtl, requestedScopes: requested ?? data.scopes, requestedAudiences: [data.resource],
    requestedTtl: undefined, now, serverMaxTtl: d.tokenTtl,
  };
  const decision = d.core.evaluate(input, d.core.policies());

  // Rotate: exactly one presentation of this token wins, on any server.
  const next = mintRefreshToken({ grantId: rec.grantId, client, data, now, expiresAt: rec.expiresAt });
  if (!await d.store.rotateRefreshToken(hash, next.record)) {
    const cur = await d.store.getRefreshToken(hash);
    if (cur) await checkLive(d, cur, client, now);
    throw new OAuthError('invalid_grant', 'refresh_token is no longer valid');
  }

  const key = d.keys.signingKey();
  const claims: DelegatedClaims = {
    iss: d.issuer,
    sub: rec.subject,
    aud: decision.audiences,
    scope: accessScopes(decision.scopes).join(' '),
    exp: decision.expiresAt, iat: now, nbf: now,
    jti: newJti(), client_id: client.clientId, grant_id: rec.grantId, chain: [],
    subject: { iss: data.subject.issuer, sub: data.subject.name, groups: data.subject.groups },
    sub_profile: 'user',
    ...(client.spiffeId ? { act: actClaim([actor]) } : {}),
    ...(client.x5t ? { cnf: { 'x5t#S256': client.x5t } } : {}),
  };
  const token = signDelegatedToken(claims, key);
  d.audit.record('oauth.token_exchange', rec.subject, {
    grant: REFRESH_TOKEN, subject: rec.subject, client_id: client.clientId, client_auth: client.method,
    actor_chain: client.spiffeId ? [actor.spiffeId] : [], scopes: decision.scopes, audience: decision.audiences,
    jti: claims.jti, grant_id: rec.grantId, policy: decision.policyId, exp: claims.exp, bound: client.x5t !== undefined, kid: key.kid,
  });
  return {
    access_token: token, token_type: 'Bearer', expires_in: claims.exp - now, scope: claims.scope, refresh_token: next.token,
  };
}

/** The refresh token belongs to the client that authenticated, as it authenticated then. */
function checkHolder(rec: RefreshTokenRecord, client: AuthenticatedClient): void {
  if (rec.clientId !== client.clientId) {
    throw new OAuthError('invalid_grant', `refresh_token was issued to another client, not ${clip(client.clientId, 200)}`);
  }
  if (rec.x5t !== '' && client.x5t === undefined) {
    throw new OAuthError('invalid_grant', `refresh_token was issued over mTLS: present an X.509-SVID of ${rec.clientId} as the TLS client certificate`);
  }
}

/**
 * Not expired, not revoked (in the store, or by a record the index holds), not used
 * before. A used one is a replay: its whole family is revoked, here and everywhere.
 */
async function checkLive(d: RefreshTokenDeps, rec: RefreshTokenRecord, client: AuthenticatedClient, now: number): Promise<void> {
  if (rec.revokedAt !== 0) {
    throw new OAuthError('invalid_grant', `refresh_token is revoked: its grant ${rec.grantId} was revoked at ${iso(rec.revokedAt)}`);
  }
  const byIndex = d.core.revokedBy({
    jti: '', grantId: rec.grantId, chain: [], sub: rec.subject, actors: rec.actor ? [rec.actor] : [], iat: rec.issuedAt,
  });
  if (byIndex) {
    throw new OAuthError('invalid_grant', `refresh_token is revoked: ${byIndex.kind} ${byIndex.value} was revoked at ${iso(byIndex.at)}`);
  }
  if (rec.expiresAt <= now) {
    throw new OAuthError('invalid_grant', `refresh_token expired at ${iso(rec.expiresAt)}: sign in again`);
  }
  if (rec.usedAt !== 0) {
    await d.core.revoke('grant', rec.grantId, `refresh token reuse by ${client.clientId}`, { subject: rec.subject, grant: rec.grantId });
    throw new OAuthError('invalid_grant', `refresh_token was already used (rotated at ${iso(rec.usedAt)}); reusing a rotated refresh token `
      + `revokes its whole grant ${rec.grantId}: its refresh and access tokens are revoked, sign in again`);
  }
}

const iso = (s: number) => new Date(s * 1000).toISOString();
