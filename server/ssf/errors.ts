import type { ServerResponse } from 'node:http';
import { TesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { OAuthError } from '../oauth/errors.ts';
import { readBody, sendJson } from '../oauth/http.ts';
import type { RouteContext } from '../oauth/listener.ts';

/**
 * Refusals of the SSF management and poll endpoints. SSF 1.0 gives the status codes
 * (400, 401, 403, 404, 409, 429); the body is the authorization server's error JSON,
 * {error, error_description}, with `error` a stable code callers branch on.
 */
export type SsfErrorCode = 'invalid_request' | 'invalid_token' | 'access_denied' | 'not_found' | 'method_not_allowed' | 'temporarily_unavailable';

const STATUS: Record<SsfErrorCode, number> = {
  invalid_request: 400, invalid_token: 401, access_denied: 403, not_found: 404, method_not_allowed: 405, temporarily_unavailable: 503,
};

export class SsfError extends Error {
  readonly status: number;
  constructor(readonly code: SsfErrorCode, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'SsfError';
    this.status = STATUS[code];
  }
  toJSON() { return { error: this.code, error_description: this.message }; }
}

export const badRequest = (m: string) => new SsfError('invalid_request', m);
/** No stream with this id for this receiver: another receiver's stream is not even acknowledged to exist. */
export const noStream = (id: string) => new SsfError('not_found', `no stream ${JSON.stringify(id.slice(0, 100))} for this receiver`);

/** The one place SSF errors become HTTP: typed refusals as themselves, a datastore outage as 503, the rest as 500. */
export function sendSsfError(res: ServerResponse, e: unknown, logger: Logger, path: string): void {
  let err: SsfError;
  if (e instanceof SsfError) err = e;
  else if (e instanceof OAuthError && e.status === 413) err = new SsfError('invalid_request', e.message);
  else if (e instanceof TesseraError && e.kind === 'unavailable') err = new SsfError('temporarily_unavailable', 'the datastore is unavailable; retry later', { 'retry-after': '1' });
  else {
    logger.error('ssf request failed', { err: e as Error, path });
    if (res.headersSent) { res.destroy(); return; }
    sendJson(res, 500, { error: 'server_error', error_description: 'internal error' });
    return;
  }
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, err.status, err.toJSON(), { headers: err.headers });
}

/** The JSON object body (application/json, at most 64 KiB). */
export async function readJsonObject(ctx: RouteContext): Promise<Record<string, unknown>> {
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const body = await readBody(ctx.req);
  if (type !== 'application/json') throw badRequest(`the request body must be application/json, not ${type ? JSON.stringify(type.slice(0, 80)) : 'missing a content type'}`);
  let v: unknown;
  try { v = JSON.parse(body.toString('utf8')); } catch { throw badRequest('the request body is not valid JSON'); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('the request body must be a JSON object');
  return v as Record<string, unknown>;
}
