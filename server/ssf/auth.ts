import type { Clock } from '../../common/clock.ts';
import { TokenRejected, verifyDelegatedToken } from '../oauth/delegated-token.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { OAuthKeyManager } from '../oauth/keys.ts';
import type { RouteContext } from '../oauth/listener.ts';
import type { DelegationCore } from '../oauth/ports.ts';
import { SsfError } from './errors.ts';

/**
 * Who is calling the SSF management or poll API. A receiver authenticates as a
 * workload of the trust domain: its X.509-SVID on the TLS connection (the stream's
 * owner is then its SPIFFE ID), or an access token of this authorization server
 * (client credentials, say) whose `aud` names the issuer (the transmitter is the
 * resource); the owner is then the token's client_id, which for a workload is the
 * same SPIFFE ID. A stream belongs to the receiver that created it.
 */
export interface ReceiverAuthDeps {
  issuer: string;
  trustDomain: string;
  keys: Pick<OAuthKeyManager, 'findKey'>;
  core: Pick<DelegationCore, 'revokedBy'>;
  clock: Clock;
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="ssf"' };

export async function authenticateReceiver(d: ReceiverAuthDeps, ctx: RouteContext): Promise<string> {
  const authz = ctx.req.headers.authorization;
  if (authz !== undefined) {
    const m = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authz);
    if (!m) throw new SsfError('invalid_token', 'the Authorization header must be "Bearer <access token>"', CHALLENGE);
    let v;
    try {
      v = await verifyDelegatedToken(m[1]!, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now: Math.floor(d.clock.now() / 1000), what: 'access token' });
    } catch (e) {
      if (e instanceof TokenRejected) throw new SsfError('invalid_token', e.message, { 'www-authenticate': 'Bearer realm="ssf", error="invalid_token"' });
      throw e;
    }
    if (d.core.revokedBy(v.revocable)) throw new SsfError('invalid_token', 'the access token is revoked', { 'www-authenticate': 'Bearer realm="ssf", error="invalid_token"' });
    if (!v.claims.aud.includes(d.issuer)) {
      throw new SsfError('invalid_token', `the access token's aud ${JSON.stringify(v.claims.aud).slice(0, 200)} does not name this transmitter (${d.issuer})`,
        { 'www-authenticate': 'Bearer realm="ssf", error="invalid_token"' });
    }
    return v.claims.client_id;
  }
  let cert;
  try { cert = ctx.client(); } catch (e) {
    if (e instanceof OAuthError) throw new SsfError('invalid_token', e.message, CHALLENGE);
    throw e;
  }
  if (!cert) {
    throw new SsfError('invalid_token', `the SSF API requires an X.509-SVID of trust domain ${d.trustDomain} as the TLS client certificate, or an access token of this authorization server`, CHALLENGE);
  }
  return cert.id.toString();
}
