import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthorizationError } from '../errors.ts';
import type { Authorizer } from '../tls/authorizers.ts';
import type { Peer } from '../tls/peer.ts';
import type { WitBundleSource } from './bundle.ts';
import { WitError } from './errors.ts';
import { decodeCompact } from './jws.ts';
import { targetUriAudience } from './hash.ts';
import { JtiReplayCache } from './replay.ts';
import { verifyWitSvid } from './verify.ts';
import { verifyWorkloadProofToken } from './wpt-verify.ts';
import { WIT_HEADER, WIT_TYP, WPT_HEADER, type WitSvid } from './types.ts';

export interface WitRequestValidatorOptions {
  /** WIT bundles (a WITSource, or a WitBundleSet). */
  bundles: WitBundleSource;
  /**
   * The origin(s) this service is reached at, e.g. "https://billing.internal"; with the
   * request path they make the accepted WPT audiences. Configuration, never the
   * request's Host (draft-ietf-wimse-wpt 3). Several = aliases of the same service.
   */
  origins: string | string[];
  /** Who may call, after WIT and proof verified. Default: any verified WIT-SVID. */
  authorize?: Authorizer;
  /** Default: a JtiReplayCache of its own; pass one to share it, or false to turn replay protection off. */
  replay?: JtiReplayCache | false;
  leewaySeconds?: number;
  maxProofLifetimeSeconds?: number;
  maxWitLifetimeSeconds?: number;
  /** Refuse proofs that do not bind the method (`htm`). Default false. */
  requireMethodBinding?: boolean;
  /** Injected clock (ms). */
  now?: () => number;
}

/** The caller authenticated by WIT + WPT. */
export interface WitPeer extends Peer { wit: WitSvid }

const witPeers = new WeakMap<object, WitPeer>();

/** The caller witMiddleware / the validator authenticated for this request. */
export function getWitPeer(req: IncomingMessage | Request): WitPeer | undefined { return witPeers.get(req); }

/** A request as both node:http and fetch-style handlers have it. */
interface RequestView { method: string; path: string; header(name: string): string[] }

/**
 * Authenticates a request by its Workload-Identity-Token (a WIT-SVID, verified against
 * the bundles) and Workload-Proof-Token (its proof of possession, bound to this
 * method, target URI, WIT and access token), with replay protection, then authorizes
 * the caller. Rejects with WitError (or AuthorizationError).
 */
export function createWitRequestValidator(o: WitRequestValidatorOptions): (req: IncomingMessage | Request) => Promise<WitPeer> {
  const origins = (Array.isArray(o.origins) ? o.origins : [o.origins]).map((s) => new URL(s).origin);
  if (origins.length === 0) throw new TypeError('createWitRequestValidator: at least one origin is required');
  const replay = o.replay === false ? undefined : o.replay ?? new JtiReplayCache();
  const clock = o.now ?? Date.now;
  return async (req) => {
    const r = viewOf(req);
    const now = new Date(clock());
    const witToken = single(r, WIT_HEADER, 'ERR_WIT_MISSING');
    const wptToken = single(r, WPT_HEADER, 'ERR_WPT_MISSING');
    const accessToken = bearerOf(r);
    const wit = verifyWitSvid(witToken, o.bundles, { now, leewaySeconds: o.leewaySeconds, maxLifetimeSeconds: o.maxWitLifetimeSeconds });
    const path = r.path.split(/[?#]/, 1)[0] || '/';
    const txn = r.header('txn-token');
    verifyWorkloadProofToken(wptToken, wit, {
      method: r.method,
      audiences: origins.map((origin) => targetUriAudience(origin + path)),
      accessToken,
      txnToken: txn.length === 1 ? txn[0] : undefined,
      header: (name) => { const v = r.header(name); return v.length === 1 ? v[0] : undefined; },
    }, { now, leewaySeconds: o.leewaySeconds, maxLifetimeSeconds: o.maxProofLifetimeSeconds, requireMethod: o.requireMethodBinding, replay });
    const peer: WitPeer = { id: wit.id, claims: wit.agentClaims, wit };
    o.authorize?.(peer);
    witPeers.set(req, peer);
    return peer;
  };
}

/**
 * Connect/Express-style middleware for node:http. Verified and authorized → next()
 * with getWitPeer(req) set; otherwise 400 (the WPT draft's status for a bad WIT or
 * proof; 401 would call for WWW-Authenticate and Authorization, which WITs never
 * use) or 403 (not authorized), with an RFC 9457 problem body; next is not called.
 */
export function witMiddleware(o: WitRequestValidatorOptions): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const check = createWitRequestValidator(o);
  return (req, res, next) => {
    check(req).then(() => next(), (err: unknown) => {
      const p = problemOf(err);
      res.writeHead(p.status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify(p));
    });
  };
}

/** For fetch-style handlers (`(req: Request) => Response`): answers refusals itself, else calls `handler` with the peer. */
export function withWit(o: WitRequestValidatorOptions, handler: (req: Request, peer: WitPeer) => Response | Promise<Response>): (req: Request) => Promise<Response> {
  const check = createWitRequestValidator(o);
  return async (req) => {
    let peer: WitPeer;
    try { peer = await check(req); } catch (err) {
      const p = problemOf(err);
      return new Response(JSON.stringify(p), { status: p.status, headers: { 'content-type': 'application/problem+json' } });
    }
    return handler(req, peer);
  };
}

/** RFC 9457 problem details of a refusal; the code and reason are the stable parts. */
export function problemOf(err: unknown): { status: number; title: string; code: string; reason?: string; detail: string } {
  if (err instanceof AuthorizationError) return { status: 403, title: 'caller not authorized', code: err.code, detail: err.message };
  if (err instanceof WitError) return { status: 400, title: 'workload authentication failed', code: err.code, reason: err.reason, detail: err.message };
  return { status: 500, title: 'workload authentication failed', code: 'ERR_INTERNAL', detail: 'internal error' };
}

function viewOf(req: IncomingMessage | Request): RequestView {
  if (typeof Request !== 'undefined' && req instanceof Request) {
    const u = new URL(req.url);
    // Fetch's Headers joins repeated fields with ", "; no JWT contains one, so a split finds duplicates.
    return { method: req.method, path: u.pathname, header: (n) => { const v = req.headers.get(n); return v === null ? [] : v.split(', '); } };
  }
  const m = req as IncomingMessage;
  return { method: m.method ?? 'GET', path: m.url ?? '/', header: (n) => m.headersDistinct[n] ?? [] };
}

function single(r: RequestView, name: string, code: 'ERR_WIT_MISSING' | 'ERR_WPT_MISSING'): string {
  const v = r.header(name);
  if (v.length === 0) throw new WitError(code, 'missing_header', `request has no ${name} header`);
  if (v.length > 1) throw new WitError(code, 'duplicate_header', `request has ${v.length} ${name} header fields; exactly one is allowed`);
  return v[0]!.trim();
}

/**
 * The OAuth access token of the request (Authorization: Bearer or DPoP), bound by
 * `ath`. A WIT-SVID found there is refused: it must never be presented as a bearer
 * token nor in Authorization (WIT-SVID 5, 7.1).
 */
function bearerOf(r: RequestView): string | undefined {
  const h = r.header('authorization');
  if (h.length === 0) return undefined;
  const m = /^(?:Bearer|DPoP)[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(h[0]!);
  if (!m) return undefined;
  if (decodeCompact(m[1])?.header.typ === WIT_TYP) {
    throw new WitError('ERR_WIT_INVALID', 'bearer_presentation', 'a WIT-SVID was sent in the Authorization header; it is never a bearer token');
  }
  return m[1];
}
