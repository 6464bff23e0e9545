import { createHash } from 'node:crypto';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import type { Datastore } from '../datastore/types.ts';
import { OAuthError } from './errors.ts';
import { clip } from './http.ts';
import type { ClientCertificate } from './listener.ts';
import { x5tS256 } from './mint.ts';
import type { TrustDomainBundles } from './trust.ts';

/**
 * The actor of a token exchange proves its workload identity, never by a parameter it
 * chooses (docs/delegation.md): its X.509-SVID as TLS client certificate, or a JWT-SVID
 * `actor_token` whose aud names the token endpoint, usable once (its SHA-256 is kept in
 * the store until its exp, so a second presentation fails on every server). Both
 * present: they must name the same SPIFFE ID.
 */
export interface AuthenticatedActor {
  id: SpiffeId;
  claims: AgentClaims;
  /** RFC 8705 thumbprint of the client certificate: set when the actor used mTLS. */
  x5t?: string;
  via: 'mtls' | 'actor_token' | 'mtls+actor_token';
}

export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export async function authenticateActor(p: {
  client: ClientCertificate | undefined;
  actorToken: string | undefined;
  actorTokenType: string | undefined;
  tokenEndpoint: string;
  bundles: TrustDomainBundles;
  store: Pick<Datastore, 'useTokenOnce'>;
  now: number;
}): Promise<AuthenticatedActor> {
  if (p.actorToken === undefined && p.actorTokenType !== undefined) {
    throw new OAuthError('invalid_request', 'actor_token_type is given without actor_token');
  }
  if (p.actorToken === undefined) {
    if (!p.client) {
      throw new OAuthError('invalid_client',
        'no actor identity: present an X.509-SVID of this trust domain as the TLS client certificate, or a JWT-SVID as actor_token');
    }
    return { id: p.client.id, claims: p.client.claims, x5t: x5tS256(p.client.leaf), via: 'mtls' };
  }
  if (p.actorTokenType === undefined) throw new OAuthError('invalid_request', 'parameter actor_token_type is required with actor_token');
  if (p.actorTokenType !== JWT_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', `actor_token_type ${clip(p.actorTokenType, 100)} is not supported; the actor_token must be a JWT-SVID (${JWT_TOKEN_TYPE})`);
  }
  let svid;
  try {
    svid = await verifyJwtSvid(p.actorToken, p.bundles, p.tokenEndpoint, { now: new Date(p.now * 1000) });
  } catch (e) {
    if (!(e instanceof SpiffeError)) throw e;
    throw new OAuthError('invalid_request', `actor_token is not a valid JWT-SVID of trust domain ${p.bundles.trustDomain}: ${describe(e, p.actorToken, p.tokenEndpoint)}`);
  }
  if (p.client && !p.client.id.equals(svid.id)) {
    throw new OAuthError('invalid_request', `actor_token names ${svid.id} but the TLS client certificate names ${p.client.id}: both must name the actor`);
  }
  const hash = createHash('sha256').update(p.actorToken).digest('hex');
  if (!await p.store.useTokenOnce(hash, Math.floor(svid.expiresAt.getTime() / 1000))) {
    throw new OAuthError('invalid_request', `actor_token (JWT-SVID of ${svid.id}) was already used: actor tokens are single use, fetch a fresh one`);
  }
  if (p.client) return { id: p.client.id, claims: p.client.claims, x5t: x5tS256(p.client.leaf), via: 'mtls+actor_token' };
  return { id: svid.id, claims: svid.agentClaims, via: 'actor_token' };
}

function describe(e: SpiffeError, token: string, endpoint: string): string {
  if (e.reason === 'audience_mismatch') {
    let aud: unknown;
    try { aud = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).aud; } catch { /* shown as unknown */ }
    return `its aud ${clip(JSON.stringify(aud ?? null), 200)} does not contain the token endpoint ${endpoint}`;
  }
  return e.message;
}
