import type { Clock } from '../../common/clock.ts';
import { TokenRejected, verifyDelegatedToken } from './delegated-token.ts';
import { OAuthError } from './errors.ts';
import { sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';
import type { Datastore } from '../datastore/types.ts';
import { inspectBiscuit } from '../../spiffe/biscuit/verify.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import type { BiscuitKeyManager } from './biscuit-keys.ts';
import { parseTokenBudgets } from './consume.ts';

/**
 * POST /oauth2/introspect (RFC 7662). Callers are resource servers of this trust
 * domain: they authenticate with their X.509-SVID (mTLS), anyone else gets 401
 * invalid_client. An invalid, expired or revoked token is `{"active": false}` and
 * nothing more (RFC 7662 §2.2: no hint why).
 */
export function introspectRoute(d: {
  issuer: string; keys: Pick<OAuthKeyManager, 'findKey'>; core: Pick<DelegationCore, 'revokedBy'>; clock: Clock; trustDomain: string;
  /** Budgets (docs/attenuation.md): the remaining uses are shown when given. */
  store?: Pick<Datastore, 'listBudgets'>;
  biscuitKeys?: BiscuitKeyManager;
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
      if (token.split('.').length !== 3 && d.biscuitKeys) { await introspectBiscuit(d, ctx.res, token); return; }
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
        ...await budgetsView(d, c.grant_id, parseTokenBudgets(c)),
      });
    },
  };
}

/** `budgets`: per operation the token's limit and the uses it has left (shared grant counter). */
async function budgetsView(d: { store?: Pick<Datastore, 'listBudgets'> }, grantId: string, budgets: Record<string, number> | undefined) {
  if (!budgets || !d.store) return {};
  const rows = new Map((await d.store.listBudgets(grantId)).map((r) => [r.operation, r]));
  const out: Record<string, { limit: number; remaining: number }> = {};
  for (const [op, n] of Object.entries(budgets)) {
    const r = rows.get(op);
    const limit = Math.min(n, r?.maxUses ?? n);
    out[op] = { limit, remaining: Math.max(0, limit - (r?.used ?? 0)) };
  }
  return { budgets: out };
}

async function introspectBiscuit(d: Parameters<typeof introspectRoute>[0], res: Parameters<typeof sendJson>[0], token: string): Promise<void> {
  let t;
  try {
    t = await inspectBiscuit(token, { rootKeys: d.biscuitKeys!, now: new Date(d.clock.now()) });
  } catch (e) {
    if (e instanceof DelegationError) { sendJson(res, 200, { active: false }); return; }
    throw e;
  }
  const revoked = d.core.revokedBy({ jti: t.jti, grantId: t.grantId, chain: t.chain, sub: t.subject, actors: t.actors.map((a) => a.id.toString()),
    iat: Math.floor(t.issuedAt.getTime() / 1000), biscuitIds: t.biscuitRevocationIds });
  if (revoked || t.issuer !== d.issuer) { sendJson(res, 200, { active: false }); return; }
  sendJson(res, 200, {
    active: true, iss: t.issuer, sub: t.subject, aud: t.audience, scope: t.scopes.join(' '), exp: Math.floor(t.expiresAt.getTime() / 1000),
    iat: Math.floor(t.issuedAt.getTime() / 1000), jti: t.jti, client_id: t.clientId, grant_id: t.grantId, chain: t.chain,
    actors: t.actors.map((a) => a.id.toString()), token_type: 'N_A', token_format: 'biscuit', revocation_ids: t.biscuitRevocationIds,
    ...await budgetsView(d, t.grantId, t.budgets),
  });
}
