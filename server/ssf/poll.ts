import { readBody, sendJson } from '../oauth/http.ts';
import type { RouteContext } from '../oauth/listener.ts';
import { authenticateReceiver } from './auth.ts';
import { badRequest } from './errors.ts';
import { ownStream, type SsfRouteDeps } from './routes.ts';

const DEFAULT_MAX_EVENTS = 100;
const MAX_EVENTS = 1000;

/**
 * RFC 8936 poll delivery: POST <poll endpoint>?stream_id=… with {ack, setErrs,
 * maxEvents, returnImmediately}. Acknowledged SETs (and those the receiver reports
 * errors for, which are logged) leave the queue first; then up to maxEvents queued SETs
 * are returned as {sets: {jti: SET}, moreAvailable}. A SET returned but not
 * acknowledged is returned again by the next poll. Without returnImmediately an empty
 * queue is a long poll: the answer comes when a SET is queued on this server or after
 * `longPollMs`. A paused stream answers with no SETs (they wait).
 */
export async function pollRoute(d: SsfRouteDeps, ctx: RouteContext): Promise<void> {
  const owner = await authenticateReceiver(d, ctx);
  const raw = await readBody(ctx.req);
  let body: Record<string, unknown> = {};
  if (raw.length > 0) {
    const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw badRequest(`the poll request must be application/json, not ${JSON.stringify(type.slice(0, 80))}`);
    try { body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>; } catch { throw badRequest('the poll request is not valid JSON'); }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the poll request must be a JSON object');
  }
  const s = await ownStream(d, owner, ctx.url.searchParams.get('stream_id') ?? undefined);
  if (s.method !== 'poll') throw badRequest(`stream ${s.id} is configured for push delivery, not poll`);
  const ack = body.ack ?? [];
  if (!Array.isArray(ack) || !ack.every((j) => typeof j === 'string')) throw badRequest('ack must be an array of SET jti strings');
  const errs = body.setErrs ?? {};
  if (typeof errs !== 'object' || errs === null || Array.isArray(errs)) throw badRequest('setErrs must be an object {jti: {err, description}}');
  const maxEvents = body.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (!Number.isSafeInteger(maxEvents) || (maxEvents as number) < 0) throw badRequest('maxEvents must be a non-negative integer');
  const immediate = body.returnImmediately ?? false;
  if (typeof immediate !== 'boolean') throw badRequest('returnImmediately must be a boolean');

  const ssf = d.store.ssf;
  const errJtis = Object.keys(errs);
  for (const j of errJtis) d.logger.warn('receiver reported an error for a shared signal', { stream: s.id, jti: j, error: (errs as Record<string, unknown>)[j] });
  await ssf.ack(s.id, [...(ack as string[]), ...errJtis]);
  const limit = Math.min(maxEvents as number, MAX_EVENTS);
  if (limit === 0 || s.status !== 'enabled') { sendJson(ctx.res, 200, { sets: {}, moreAvailable: false }); return; }
  let rows = await ssf.pending(s.id, limit + 1);
  if (rows.length === 0 && !immediate) {
    const gone = new AbortController();
    ctx.res.once('close', () => gone.abort());
    await d.transmitter.waitQueued(s.id, d.longPollMs, gone.signal);
    if (gone.signal.aborted && ctx.res.destroyed) return;
    rows = await ssf.pending(s.id, limit + 1);
  }
  const sets: Record<string, string> = {};
  for (const r of rows.slice(0, limit)) sets[r.jti] = r.set;
  sendJson(ctx.res, 200, { sets, moreAvailable: rows.length > limit });
}
