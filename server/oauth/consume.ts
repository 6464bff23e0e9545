import type { Clock } from '../../common/clock.ts';
import { inspectBiscuit } from '../../spiffe/biscuit/verify.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import type { Datastore } from '../datastore/types.ts';
import type { RevocableToken } from '../delegation/types.ts';
import type { OAuthAudit } from './audit.ts';
import type { BiscuitKeyManager } from './biscuit-keys.ts';
import { TokenRejected, verifyDelegatedToken } from './delegated-token.ts';
import { OAuthError } from './errors.ts';
import { clip, sendJson } from './http.ts';
import type { OAuthKeyManager } from './keys.ts';
import type { Route } from './listener.ts';
import type { DelegationCore } from './ports.ts';

/**
 * POST /oauth2/consume (docs/attenuation.md): a resource server spends a token's
 * per-operation budget before doing the work. The caller authenticates with its
 * X.509-SVID (mTLS); the token is the delegated JWT or Biscuit it was presented.
 * Form: `token`, `operation` (may repeat: one result per operation, each spent on its
 * own), optional `count` (repeats with `operation`; default 1).
 *
 * 200 {"allowed": true|false, "remaining": N, "operation": "…"} (with "results" for
 * several operations); `remaining` is null for an operation the token has no budget
 * for (not metered). invalid_grant for an invalid, expired or revoked token.
 */
const OPERATION = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const MAX_OPERATIONS = 32;
const MAX_COUNT = 1000;

export interface ConsumeResult { operation: string; allowed: boolean; remaining: number | null }

export function consumeRoute(d: {
  issuer: string; keys: Pick<OAuthKeyManager, 'findKey'>; biscuitKeys?: BiscuitKeyManager;
  core: Pick<DelegationCore, 'revokedBy'>; store: Pick<Datastore, 'consumeBudget'>; audit: OAuthAudit; clock: Clock; trustDomain: string;
}): Route {
  return {
    method: 'POST', path: '/oauth2/consume',
    async handler(ctx) {
      const client = ctx.client();
      if (!client) throw new OAuthError('invalid_client', `consume requires an X.509-SVID of trust domain ${d.trustDomain} as the TLS client certificate`);
      const form = await ctx.form();
      form.assertSingle(['operation', 'count']);
      const token = form.require('token');
      const ops = form.all('operation');
      const counts = form.all('count');
      if (ops.length === 0) throw new OAuthError('invalid_request', 'parameter operation is required');
      if (ops.length > MAX_OPERATIONS) throw new OAuthError('invalid_request', `${ops.length} operations; at most ${MAX_OPERATIONS} per call`);
      if (counts.length > 0 && counts.length !== ops.length) {
        throw new OAuthError('invalid_request', `count is given ${counts.length} times for ${ops.length} operations: give one per operation or none`);
      }
      const wanted = ops.map((op, i) => {
        if (!OPERATION.test(op)) throw new OAuthError('invalid_request', `operation ${clip(JSON.stringify(op), 80)} must be 1 to 128 printable ASCII characters without space, " or \\`);
        const c = counts[i] ?? '1';
        if (!/^[1-9]\d{0,3}$/.test(c) || Number(c) > MAX_COUNT) throw new OAuthError('invalid_request', `count ${clip(JSON.stringify(c), 20)} must be a whole number from 1 to ${MAX_COUNT}`);
        return { op, n: Number(c) };
      });
      const t = await tokenForConsume(d, token);
      const results: ConsumeResult[] = [];
      for (const { op, n } of wanted) {
        const limit = t.budgets[op];
        if (limit === undefined) { results.push({ operation: op, allowed: true, remaining: null }); continue; }
        const use = await d.store.consumeBudget(t.grantId, op, n, limit);
        // A budget the grant's rows lack (issued by a server before budgets existed): the token's own limit, no counter to draw on.
        if (!use) { results.push({ operation: op, allowed: false, remaining: 0 }); continue; }
        results.push({ operation: op, allowed: use.allowed, remaining: use.remaining });
        if (!use.allowed) {
          d.audit.record('oauth.token_refused', t.sub, { grant: 'consume', error: 'insufficient_budget', operation: op, count: n,
            remaining: use.remaining, grant_id: t.grantId, jti: t.jti, caller: client.id.toString() }, 'warn');
        }
      }
      const first = results[0]!;
      sendJson(ctx.res, 200, results.length === 1 ? first : { allowed: results.every((r) => r.allowed), results });
    },
  };
}

interface ConsumableToken { grantId: string; jti: string; sub: string; budgets: Record<string, number> }

async function tokenForConsume(d: Parameters<typeof consumeRoute>[0], token: string): Promise<ConsumableToken> {
  const now = Math.floor(d.clock.now() / 1000);
  let revocable: RevocableToken;
  let out: ConsumableToken;
  if (token.split('.').length === 3) {
    let v;
    try {
      v = await verifyDelegatedToken(token, { issuer: d.issuer, findKey: (kid) => d.keys.findKey(kid), now, what: 'token' });
    } catch (e) {
      if (e instanceof TokenRejected) throw new OAuthError('invalid_grant', e.message);
      throw e;
    }
    revocable = v.revocable;
    out = { grantId: v.claims.grant_id, jti: v.claims.jti, sub: v.claims.sub, budgets: parseTokenBudgets(v.claims) ?? {} };
  } else {
    if (!d.biscuitKeys) throw new OAuthError('invalid_grant', 'token is not a JWT, and this server issues no Biscuits');
    let t;
    try {
      t = await inspectBiscuit(token, { rootKeys: d.biscuitKeys, now: new Date(d.clock.now()) });
    } catch (e) {
      if (e instanceof DelegationError) throw new OAuthError('invalid_grant', e.message);
      throw e;
    }
    if (t.issuer !== d.issuer) throw new OAuthError('invalid_grant', `token issuer ${t.issuer} is not ${d.issuer}`);
    revocable = { jti: t.jti, grantId: t.grantId, chain: t.chain, sub: t.subject, actors: t.actors.map((a) => a.id.toString()),
      iat: Math.floor(t.issuedAt.getTime() / 1000), biscuitIds: t.biscuitRevocationIds };
    out = { grantId: t.grantId, jti: t.jti, sub: t.subject, budgets: t.budgets ?? {} };
  }
  const rec = d.core.revokedBy(revocable);
  if (rec) throw new OAuthError('invalid_grant', `token ${out.jti} is revoked (${rec.kind} ${rec.value})`);
  return out;
}

/** A delegated token's `budgets` claim, when it is an object of whole numbers. */
export function parseTokenBudgets(claims: object): Record<string, number> | undefined {
  const b = (claims as { budgets?: unknown }).budgets;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return undefined;
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(b)) if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) out[op] = n;
  return Object.keys(out).length ? out : undefined;
}
