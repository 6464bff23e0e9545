import type { IncomingMessage, ServerResponse } from 'node:http';
import { TesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { OAuthError } from './errors.ts';

/**
 * Request and response plumbing of the authorization server: bounded bodies, form
 * parsing that knows which parameters may repeat, and the one place where errors
 * become RFC 6749 §5.2 JSON.
 */

/** Request bodies over this are refused (docs/delegation.md). */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * An oversized body is read and dropped up to this much so the client sees the 413
 * instead of a reset connection; beyond it the connection is cut.
 */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** The body (at most MAX_BODY_BYTES), or OAuthError invalid_request 413. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = Number.isFinite(declared) && declared > MAX_BODY_BYTES;
    const fail = () => reject(new OAuthError('invalid_request',
      `request body is larger than ${MAX_BODY_BYTES} bytes${Number.isFinite(declared) ? ` (content-length ${declared})` : ''}`, { status: 413 }));
    if (tooLarge && declared > DRAIN_LIMIT_BYTES) { fail(); return; }
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > MAX_BODY_BYTES) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (total > DRAIN_LIMIT_BYTES) { req.pause(); fail(); }
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => (tooLarge ? fail() : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
  });
}

/** A parsed application/x-www-form-urlencoded body. Empty values count as absent (RFC 6749 §3.1). */
export class Form {
  private constructor(private readonly params: Map<string, string[]>) {}

  static parse(body: Buffer, contentType: string | undefined): Form {
    const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== 'application/x-www-form-urlencoded') {
      throw new OAuthError('invalid_request',
        `the request body must be application/x-www-form-urlencoded, not ${mediaType ? `"${mediaType.slice(0, 80)}"` : 'missing a content type'}`);
    }
    const params = new Map<string, string[]>();
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
      if (v === '') continue;
      const cur = params.get(k);
      if (cur) cur.push(v); else params.set(k, [v]);
    }
    return new Form(params);
  }

  /**
   * Refuses a repeated parameter unless it is one of `repeatable` (RFC 6749 §3.2:
   * parameters must not be included more than once).
   */
  assertSingle(repeatable: readonly string[] = []): void {
    for (const [k, v] of this.params) {
      if (v.length > 1 && !repeatable.includes(k)) {
        throw new OAuthError('invalid_request', `parameter ${clip(k, 64)} is given ${v.length} times; it must appear at most once`);
      }
    }
  }

  get(name: string): string | undefined {
    const v = this.params.get(name);
    if (v && v.length > 1) throw new OAuthError('invalid_request', `parameter ${name} is given ${v.length} times; it must appear at most once`);
    return v?.[0];
  }

  require(name: string): string {
    const v = this.get(name);
    if (v === undefined) throw new OAuthError('invalid_request', `parameter ${name} is required`);
    return v;
  }

  all(name: string): string[] { return [...(this.params.get(name) ?? [])]; }
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function sendJson(res: ServerResponse, status: number, body: unknown, opts: { cache?: string; headers?: Record<string, string> } = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const cache = opts.cache === undefined ? NO_STORE : { 'cache-control': opts.cache };
  res.writeHead(status, {
    'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...cache, ...opts.headers,
  });
  res.end(text);
}

/**
 * The single mapping of errors to the wire: OAuthError as itself; an unreachable
 * datastore as 503 temporarily_unavailable; anything else as 500 server_error with a
 * generic description (the details go to the log, never to the caller).
 */
export function sendError(res: ServerResponse, err: unknown, logger: Logger, route: string): void {
  const e = toOAuthError(err);
  if (e.status >= 500) logger.error('oauth request failed', { route, err, status: e.status });
  if (res.headersSent) { res.destroy(); return; }
  const headers: Record<string, string> = {};
  if (e.status === 413) headers.connection = 'close';
  if (e instanceof MethodNotAllowed) headers.allow = e.allow;
  sendJson(res, e.status, e.toJSON(), { headers });
}

/** 405 with the Allow header: the one non-§5.2 status, still carried as an OAuth error body. */
export class MethodNotAllowed extends OAuthError {
  constructor(method: string, path: string, readonly allow: string) {
    super('invalid_request', `method ${clip(method, 16)} is not allowed on ${path}; use ${allow}`, { status: 405 });
  }
}

export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof TesseraError && err.kind === 'unavailable') {
    return new OAuthError('temporarily_unavailable', 'the datastore is unavailable; retry later', { cause: err });
  }
  return new OAuthError('server_error', 'internal error', { cause: err });
}

export const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}…` : s);
