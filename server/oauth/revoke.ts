import type { Clock } from '../../common/clock.ts';
import type { OAuthAudit } from './audit.ts';
import { TokenRejected, verifyDelegatedToken } from './delegated-token.ts';
import { OAuthError } from './errors.ts';
import { sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';

/**
 * POST /oauth2/revoke (RFC 7009): a token's holder (or an agent up its chain) ends it.
 * The token's jti is revoked, which kills everything derived from it, on every server.
 *
 * Who may revoke (decided here, documented in docs/delegation.md's spirit: "mTLS SVID,
 * or the token itself as proof"):
 * - a bearer token (no cnf): whoever presents it. Whoever holds it can use it; ending
 *   it takes authority away and gives none.
 * - a certificate-bound token (cnf): only over mTLS with the SVID of an actor in its
 *   `act` chain (its holder, or an agent that handed it down). Merely having seen a
 *   bound token (a log, a proxy) must not let anyone kill a whole delegation chain,
 *   and "any SVID of the trust domain" would let every workload do just that.
 *
 * Invalid, forged, expired and already revoked tokens get 200 and change nothing
 * (RFC 7009 §2.2): a forged token's jti must never revoke a real one.
 */
export function revokeRoute(d: {
  issuer: string; keys: Pick<OAuthKeyManager, 'findKey'>; core: Pick<DelegationCore, 'revokedBy' | 'revoke'>;
  audit: OAuthAudit; clock: Clock;
}): Route {
  return {
    method: 'POST', path: '/oauth2/revoke',
    async handler(ctx) {
      const client = ctx.client();
      const form = await ctx.form();
      form.assertSingle();
      const token = form.require('token');
      const now = Math.floor(d.clock.now() / 1000);
      let v;
      try {
        v = await verifyDelegatedToken(token, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now, what: 'token' });
      } catch (e) {
        if (e instanceof TokenRejected) { sendJson(ctx.res, 200, {}); return; }
        throw e;
      }
      const c = v.claims;
      const actors = v.actors.map((a) => a.spiffeId);
      if (c.cnf) {
        if (!client) {
          throw new OAuthError('invalid_client',
            `token ${c.jti} is bound to a certificate (cnf): revoke it over mTLS with the X.509-SVID of an actor in its chain (${actors.join(', ')})`);
        }
        if (!actors.includes(client.id.toString())) {
          throw new OAuthError('unauthorized_client', `${client.id} is not an actor of token ${c.jti} (actors: ${actors.join(', ')}) and may not revoke it`);
        }
      }
      if (!d.core.revokedBy(v.revocable)) {
        const by = client ? `rfc7009 ${client.id}` : 'rfc7009 bearer';
        // The core writes the audit row (delegation.revoked); this line adds the token's chain.
        const rec = await d.core.revoke('jti', c.jti, by, { subject: c.sub, actor: actors[0], jti: c.jti, grant: c.grant_id });
        d.audit.log('oauth.token_revoked', {
          kind: 'jti', value: c.jti, seq: rec.seq, by, subject: c.sub, actor_chain: actors, grant_id: c.grant_id, jti: c.jti,
        });
      }
      sendJson(ctx.res, 200, {});
    },
  };
}
