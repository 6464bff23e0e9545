import type { Clock } from '../../common/clock.ts';
import { TokenRejected, verifyDelegatedToken } from './delegated-token.ts';
import { OAuthError } from './errors.ts';
import { sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';

/**
 * POST /oauth2/introspect (RFC 7662). Callers are resource servers of this trust
 * domain: they authenticate with their X.509-SVID (mTLS), anyone else gets 401
 * invalid_client. An invalid, expired or revoked token is `{"active": false}` and
 * nothing more (RFC 7662 §2.2: no hint why).
 */
export function introspectRoute(d: {
  issuer: string; keys: Pick<OAuthKeyManager, 'findKey'>; core: Pick<DelegationCore, 'revokedBy'>; clock: Clock; trustDomain: string;
}): Route {
  return {
    method: 'POST', path: '/oauth2/introspect',
    async handler(ctx) {
      if (!ctx.client()) {
        throw new OAuthError('invalid_client', `introspection requires an X.509-SVID of trust domain ${d.trustDomain} as the TLS client certificate`);
      }
      const form = await ctx.form();
      form.assertSingle();
      const token = form.require('token');
      const now = Math.floor(d.clock.now() / 1000);
      let v;
      try {
        v = await verifyDelegatedToken(token, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now, what: 'token' });
      } catch (e) {
        if (e instanceof TokenRejected) { sendJson(ctx.res, 200, { active: false }); return; }
        throw e;
      }
      if (d.core.revokedBy(v.revocable)) { sendJson(ctx.res, 200, { active: false }); return; }
      const c = v.claims;
      sendJson(ctx.res, 200, {
        active: true, iss: c.iss, sub: c.sub, aud: c.aud, scope: c.scope, exp: c.exp, iat: c.iat, nbf: c.nbf, jti: c.jti,
        client_id: c.client_id, grant_id: c.grant_id, chain: c.chain, act: c.act, subject: c.subject,
        token_type: 'Bearer', ...(c.cnf ? { cnf: c.cnf } : {}),
      });
    },
  };
}
