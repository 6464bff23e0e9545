import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/logger.ts';
import type { SsfStatus, SsfStreamRecord } from '../datastore/sql-ssf.ts';
import { sendJson } from '../oauth/http.ts';
import type { Route, RouteContext } from '../oauth/listener.ts';
import { authenticateReceiver, type ReceiverAuthDeps } from './auth.ts';
import { badRequest, noStream, readJsonObject, sendSsfError, SsfError } from './errors.ts';
import { verificationEvent } from './events.ts';
import { pollRoute } from './poll.ts';
import type { SsfPusher } from './push.ts';
import { checkTransmitterFields, DELIVERY_METHODS, parseReceiverFields, streamView, type StoredConfig } from './stream-config.ts';
import type { SsfTransmitter } from './transmitter.ts';

/**
 * The SSF 1.0 transmitter endpoints on the authorization server's listener
 * (docs/shared-signals.md): the metadata document, stream configuration (POST create,
 * GET read/list, PATCH update, PUT replace, DELETE), stream status (GET, POST),
 * verification (POST) and RFC 8936 polling. Every endpoint but the metadata needs an
 * authenticated receiver (auth.ts), and sees only the streams that receiver created.
 */
export const SSF_METADATA_PATH = '/.well-known/ssf-configuration';
export const STREAM_PATH = '/ssf/stream';
export const STATUS_PATH = '/ssf/status';
export const VERIFY_PATH = '/ssf/verify';
export const POLL_PATH = '/ssf/poll';
/** Streams one receiver may hold: enough for per-environment streams, not a way to multiply our work. */
export const MAX_STREAMS_PER_RECEIVER = 16;

export interface SsfRouteDeps extends ReceiverAuthDeps {
  transmitter: SsfTransmitter;
  pusher: SsfPusher;
  store: { ssf: import('../datastore/sql-ssf.ts').SsfStore };
  logger: Logger;
  cacheSeconds: number;
  longPollMs: number;
}

export function ssfMetadata(issuer: string): Record<string, unknown> {
  return {
    spec_version: '1_0', issuer, jwks_uri: `${issuer}/oauth2/jwks`, delivery_methods_supported: [...DELIVERY_METHODS],
    configuration_endpoint: `${issuer}${STREAM_PATH}`, status_endpoint: `${issuer}${STATUS_PATH}`, verification_endpoint: `${issuer}${VERIFY_PATH}`,
    // Receivers authenticate as workloads: mTLS with an X.509-SVID (RFC 8705) or an OAuth access token (RFC 6749).
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:8705' }, { spec_urn: 'urn:ietf:rfc:6749' }],
    default_subjects: 'ALL',
  };
}

/** `deps()` is called per request: the routes are mounted before the transmitter has its issuer and keys. */
export function ssfRoutes(deps: () => SsfRouteDeps): Route[] {
  const guard = (f: (d: SsfRouteDeps, ctx: RouteContext) => Promise<void>) => async (ctx: RouteContext) => {
    let d: SsfRouteDeps;
    try { d = deps(); } catch { sendJson(ctx.res, 503, { error: 'temporarily_unavailable', error_description: 'the shared signals transmitter is starting' }); return; }
    try { await f(d, ctx); } catch (e) { sendSsfError(ctx.res, e, d.logger, ctx.url.pathname); }
  };
  return [
    { method: 'GET', path: SSF_METADATA_PATH, handler: guard(async (d, ctx) => sendJson(ctx.res, 200, ssfMetadata(d.issuer), { cache: `public, max-age=${d.cacheSeconds}` })) },
    { method: '*', path: STREAM_PATH, handler: guard(streamConfig) },
    { method: '*', path: STATUS_PATH, handler: guard(status) },
    { method: 'POST', path: VERIFY_PATH, handler: guard(verify) },
    { method: 'POST', path: POLL_PATH, handler: guard((d, ctx) => pollRoute(d, ctx)) },
  ];
}

const allow = (ctx: RouteContext, methods: string[]): string => {
  const m = ctx.req.method ?? '';
  if (!methods.includes(m)) throw new SsfError('method_not_allowed', `method ${m.slice(0, 16)} is not allowed on ${ctx.url.pathname}; use ${methods.join(', ')}`, { allow: methods.join(', ') });
  return m;
};

/** The owner's stream `id`, or 404 (also for another receiver's stream). */
export async function ownStream(d: SsfRouteDeps, owner: string, id: unknown): Promise<SsfStreamRecord> {
  if (typeof id !== 'string' || id.length === 0) throw badRequest('stream_id is required');
  const s = await d.store.ssf.getStream(id);
  if (!s || s.owner !== owner) throw noStream(id);
  return s;
}

const pollUrl = (d: SsfRouteDeps) => `${d.issuer}${POLL_PATH}`;

async function streamConfig(d: SsfRouteDeps, ctx: RouteContext): Promise<void> {
  const method = allow(ctx, ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
  const owner = await authenticateReceiver(d, ctx);
  const ssf = d.store.ssf;
  const now = d.clock.now();
  if (method === 'GET') {
    const id = ctx.url.searchParams.get('stream_id');
    if (id === null) { sendJson(ctx.res, 200, (await ssf.listStreams(owner)).map((s) => streamView(s, d.issuer, pollUrl(d)))); return; }
    sendJson(ctx.res, 200, streamView(await ownStream(d, owner, id), d.issuer, pollUrl(d)));
    return;
  }
  if (method === 'DELETE') {
    const id = ctx.url.searchParams.get('stream_id') ?? '';
    if (!id) throw badRequest('stream_id is required (query parameter)');
    if (!await ssf.deleteStream(id, owner)) throw noStream(id);
    ctx.res.writeHead(204, { 'cache-control': 'no-store' }).end();
    return;
  }
  const body = await readJsonObject(ctx);
  if (method === 'POST') {
    if (body.stream_id !== undefined) throw badRequest('stream_id is set by the transmitter; leave it out of a create request');
    checkTransmitterFields(body, { iss: d.issuer, aud: owner });
    if ((await ssf.listStreams(owner)).length >= MAX_STREAMS_PER_RECEIVER) {
      throw new SsfError('access_denied', `receiver ${owner} already has ${MAX_STREAMS_PER_RECEIVER} streams; delete one first`);
    }
    const f = parseReceiverFields(body, owner);
    const rec: SsfStreamRecord = {
      id: `ssf_${randomBytes(16).toString('base64url')}`, owner, method: f.method, status: 'enabled', reason: '',
      config: JSON.stringify(f.config), createdAt: now, updatedAt: now,
    };
    await ssf.createStream(rec);
    d.logger.info('ssf stream created', { stream: rec.id, receiver: owner, method: rec.method });
    sendJson(ctx.res, 201, streamView(rec, d.issuer, pollUrl(d)));
    return;
  }
  // PATCH (update what is given) or PUT (replace the receiver-supplied fields).
  const cur = await ownStream(d, owner, body.stream_id);
  const config = JSON.parse(cur.config) as StoredConfig;
  checkTransmitterFields(body, streamView(cur, d.issuer, pollUrl(d)));
  const f = parseReceiverFields(body, owner, method === 'PATCH' ? { method: cur.method, config } : undefined);
  const next = { ...cur, method: f.method, config: JSON.stringify(f.config), updatedAt: now };
  if (!await ssf.updateStream(next)) throw noStream(cur.id);
  d.pusher.wake();
  sendJson(ctx.res, 200, streamView(next, d.issuer, pollUrl(d)));
}

const STATUSES: readonly SsfStatus[] = ['enabled', 'paused', 'disabled'];

async function status(d: SsfRouteDeps, ctx: RouteContext): Promise<void> {
  const method = allow(ctx, ['GET', 'POST']);
  const owner = await authenticateReceiver(d, ctx);
  if (method === 'GET') {
    const s = await ownStream(d, owner, ctx.url.searchParams.get('stream_id') ?? undefined);
    sendJson(ctx.res, 200, { stream_id: s.id, status: s.status, ...(s.reason ? { reason: s.reason } : {}) });
    return;
  }
  const body = await readJsonObject(ctx);
  const s = await ownStream(d, owner, body.stream_id);
  if (!STATUSES.includes(body.status as SsfStatus)) throw badRequest(`status must be one of ${STATUSES.join(', ')}`);
  if (body.reason !== undefined && typeof body.reason !== 'string') throw badRequest('reason must be a string');
  const next = { ...s, status: body.status as SsfStatus, reason: (body.reason as string | undefined)?.slice(0, 1024) ?? '', updatedAt: d.clock.now() };
  if (!await d.store.ssf.updateStream(next)) throw noStream(s.id);
  // Disabled: the transmitter holds nothing (SSF §8.1.2); paused: SETs wait; enabled: what waited goes out now.
  if (next.status === 'disabled') await d.store.ssf.clearQueue(s.id);
  if (next.status === 'enabled') d.transmitter.queued([s.id]);
  d.logger.info('ssf stream status changed', { stream: s.id, receiver: owner, from: s.status, to: next.status });
  sendJson(ctx.res, 200, { stream_id: s.id, status: next.status, ...(next.reason ? { reason: next.reason } : {}) });
}

async function verify(d: SsfRouteDeps, ctx: RouteContext): Promise<void> {
  const owner = await authenticateReceiver(d, ctx);
  const body = await readJsonObject(ctx);
  const s = await ownStream(d, owner, body.stream_id);
  if (body.state !== undefined && (typeof body.state !== 'string' || body.state.length > 1024)) throw badRequest('state must be a string of at most 1024 characters');
  if (s.status === 'disabled') throw badRequest(`stream ${s.id} is disabled: enable it before asking for a verification event`);
  await d.transmitter.emit(verificationEvent(s.id, body.state as string | undefined), s.id);
  ctx.res.writeHead(204, { 'cache-control': 'no-store' }).end();
}
