import type { IncomingMessage, ServerResponse } from 'node:http';
import { canonicalJson } from './canonical.ts';
import { TxnTokenError } from './errors.ts';
import { TXN_TOKEN_HEADER } from './mint.ts';
import type { TxnToken, VerifyTxnTokenOptions } from './types.ts';
import { verifyTxnToken } from './verify.ts';

/**
 * Resource side of transaction tokens (docs/transaction-tokens.md): the token comes in
 * the `Txn-Token` header (exactly one; never `Authorization`, which may carry the
 * caller's own credential), is verified, and the request must agree with its `tctx`:
 * `contextOf(req)` maps the request to the tctx members it claims ({ ticker: 'MSFT',
 * quantity: '100' }); any member whose value differs from the token's (as JSON) is a
 * contradiction, and so, unless `missing: 'allow'`, is a member the token does not fix.
 */
export interface TxnMiddlewareOptions extends Omit<VerifyTxnTokenOptions, 'now'> {
  contextOf?: (req: IncomingMessage) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** A member the mapping names that tctx lacks: 'reject' (default: nothing fixed it) or 'allow'. */
  missing?: 'reject' | 'allow';
}

const verified = new WeakMap<IncomingMessage, TxnToken>();

/** The transaction token txnTokenMiddleware verified for this request (forward `.token` downstream unchanged). */
export function getTxnToken(req: IncomingMessage): TxnToken | undefined { return verified.get(req); }

/** The Txn-Token header's value; throws when absent or repeated (node joins repeated headers with ", "). */
export function txnTokenOf(req: IncomingMessage): string {
  const v = req.headers[TXN_TOKEN_HEADER];
  if (v === undefined || v === '') throw new TxnTokenError('ERR_TXN_INVALID', 'request has no Txn-Token header', { reason: 'no_header' });
  const value = Array.isArray(v) ? v.join(',') : v;
  if (value.includes(',')) throw new TxnTokenError('ERR_TXN_INVALID', 'request carries more than one Txn-Token; the header must hold exactly one', { reason: 'several_headers' });
  return value.trim();
}

/** The members of `claimed` that contradict (or, with missing 'reject', are absent from) `tctx`. */
export function contradictions(tctx: Record<string, unknown>, claimed: Record<string, unknown>, missing: 'reject' | 'allow' = 'reject'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(claimed)) {
    if (v === undefined) continue;
    if (!Object.hasOwn(tctx, k)) { if (missing === 'reject') out.push(k); continue; }
    if (canonicalJson(tctx[k]) !== canonicalJson(v)) out.push(k);
  }
  return out;
}

export function createTxnValidator(o: TxnMiddlewareOptions): (req: IncomingMessage) => Promise<TxnToken> {
  const { contextOf, missing = 'reject', ...verify } = o;
  return async (req) => {
    const t = await verifyTxnToken(txnTokenOf(req), verify);
    if (contextOf) {
      const claimed = await contextOf(req);
      const bad = contradictions(t.context, claimed, missing);
      if (bad.length) {
        const what = bad.map((k) => (Object.hasOwn(t.context, k)
          ? `${k}: request ${canonicalJson(claimed[k])}, tctx ${canonicalJson(t.context[k])}`
          : `${k}: request ${canonicalJson(claimed[k])}, not in tctx`)).join('; ');
        throw new TxnTokenError('ERR_TXN_CONTEXT', `request contradicts the transaction context of txn ${t.txn} (${what})`,
          { reason: Object.hasOwn(t.context, bad[0]!) ? 'context_mismatch' : 'context_missing', fields: bad });
      }
    }
    verified.set(req, t);
    return t;
  };
}

/**
 * Connect/Express-style middleware. Valid → next() with getTxnToken(req) set.
 * Otherwise JSON `{"error", "error_description", "code"}`: 401 invalid_token (missing,
 * malformed, forged, expired, wrong trust domain, revoked, an access token), 403
 * txn_context_mismatch (the request contradicts tctx) or insufficient_scope, 503 with
 * Retry-After when keys or the revocation feed cannot vouch (the token may be fine).
 */
export function txnTokenMiddleware(o: TxnMiddlewareOptions): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const check = createTxnValidator(o);
  return (req, res, next) => {
    check(req).then(() => next(), (err: unknown) => {
      if (!(err instanceof TxnTokenError)) { next(err); return; }
      const [status, error] = err.code === 'ERR_TXN_UNAVAILABLE' ? [503, 'temporarily_unavailable']
        : err.code === 'ERR_TXN_CONTEXT' ? [403, 'txn_context_mismatch']
          : err.code === 'ERR_TXN_SCOPE' ? [403, 'insufficient_scope'] : [401, 'invalid_token'];
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(status === 503 ? { 'retry-after': '1' } : {}) });
      res.end(JSON.stringify({ error, error_description: err.message, code: err.code }));
    });
  };
}
