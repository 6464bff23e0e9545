import type http from 'node:http';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { RevocationIndex } from './revocations.ts';
import type { RevocationRecord } from './types.ts';

const DEFAULT_HEARTBEAT_MS = 5000;
/** Backlog (bytes) a subscriber may keep for a whole heartbeat interval without draining. */
const DEFAULT_MAX_BUFFERED = 1 << 20;
/** Backlog beyond which a subscriber is cut at once, whatever the timing (memory bound). */
const HARD_LIMIT_FACTOR = 64;

export interface RevocationFeedDeps {
  index: RevocationIndex;
  clock: Clock;
  logger: Logger;
  /** Default 5000. */
  heartbeatMs?: number;
  /**
   * A subscriber whose unsent backlog stays above this for two heartbeat checks in a row
   * without draining is disconnected (it reconnects with ?since); one 64 times over it is
   * disconnected at once. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /** Server stop: every stream ends cleanly. */
  signal: AbortSignal;
}

/** The feed's wire form of a record (docs/delegation.md): `by` is audit-only and stays off the wire. */
export function revocationToWire(r: RevocationRecord): { seq: number; kind: string; value: string; at: number; expires_at: number } {
  return { seq: r.seq, kind: r.kind, value: r.value, at: r.at, expires_at: r.expiresAt };
}

/**
 * `GET /oauth2/revocations`: the revocation push feed as Server-Sent Events. The caller
 * (server/oauth) authenticates the client's SVID before calling the handler. Each
 * stream gets a snapshot (or, with `?since=SEQ` / `Last-Event-ID`, only later records),
 * then every new record as it is applied, and a heartbeat every `heartbeatMs` carrying
 * the current seq, so a validator can fail closed when events stop.
 *
 * Writes never wait for a subscriber: events go into each response's buffer. A
 * subscriber that stops reading is disconnected once its backlog stayed over
 * `maxBufferedBytes` without draining for a heartbeat interval (a burst written in one
 * tick is not held against a reader that keeps up), so it can neither block the others
 * nor grow memory without bound.
 */
export function revocationFeedHandler(deps: RevocationFeedDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { index, clock, signal } = deps;
  const logger = deps.logger.child({ component: 'revocation-feed' });
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxBuffered = deps.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const streams = new Set<Stream>();

  const broadcast = (frame: string) => { for (const s of [...streams]) s.send(frame); };
  const unsubscribe = index.subscribe((r) => broadcast(frame('revocation', JSON.stringify(revocationToWire(r)), r.seq)));
  void (async () => {
    while (!signal.aborted) {
      try { await clock.sleep(heartbeatMs, signal); } catch { break; }
      if (!streams.size) continue;
      for (const s of [...streams]) s.checkProgress();
      broadcast(heartbeat(index.seq, clock));
    }
  })();
  signal.addEventListener('abort', () => {
    unsubscribe();
    for (const s of [...streams]) s.end();
  }, { once: true });

  return (req, res) => {
    if (req.method !== 'GET') {
      jsonError(res, 405, 'invalid_request', `${req.method} is not allowed on the revocation feed; use GET`, { Allow: 'GET' });
      return;
    }
    if (signal.aborted) { jsonError(res, 503, 'temporarily_unavailable', 'the server is stopping'); return; }
    const since = parseSince(req);
    if (since === 'invalid') {
      jsonError(res, 400, 'invalid_request', 'since must be a non-negative integer revocation sequence number');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const stream = new Stream(res, maxBuffered, logger, () => streams.delete(stream));
    // Synchronous from here to streams.add: no record can be applied in between, so the
    // initial frames and the live ones neither overlap nor leave a gap.
    const later = since === undefined ? undefined : index.since(since);
    if (later) {
      for (const r of later) stream.send(frame('revocation', JSON.stringify(revocationToWire(r)), r.seq));
      stream.send(heartbeat(index.seq, clock)); // tells the client it is live at once
    } else {
      const snap = index.snapshot();
      stream.send(frame('snapshot', JSON.stringify({ seq: snap.seq, revocations: snap.revocations.map(revocationToWire) }), snap.seq));
    }
    streams.add(stream);
    logger.debug('revocation feed subscriber connected', { since, subscribers: streams.size, resumed: later !== undefined });
  };
}

class Stream {
  private done = false;
  private drained = false;
  private suspect = false;
  constructor(private readonly res: http.ServerResponse, private readonly maxBuffered: number, private readonly logger: Logger,
    private readonly onDone: () => void) {
    res.on('close', () => this.finish());
    res.on('error', () => this.finish());
    res.on('drain', () => { this.drained = true; });
  }

  send(data: string): void {
    if (this.done) return;
    if (this.res.writableLength > this.maxBuffered * HARD_LIMIT_FACTOR) { this.cut(); return; }
    this.res.write(data);
  }

  /** At each heartbeat: over the limit with no drain since the last check, twice running, is a stalled reader. */
  checkProgress(): void {
    const stuck = this.res.writableLength > this.maxBuffered && !this.drained;
    this.drained = false;
    if (!stuck) { this.suspect = false; return; }
    if (this.suspect) this.cut(); else this.suspect = true;
  }

  private cut(): void {
    this.logger.warn('revocation feed subscriber is not reading; disconnecting it', { buffered: this.res.writableLength });
    this.finish();
    this.res.destroy();
  }

  end(): void {
    if (this.done) return;
    this.finish();
    this.res.end();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onDone();
  }
}

function frame(event: string, data: string, id?: number): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`;
}

function heartbeat(seq: number, clock: Clock): string {
  return frame('heartbeat', JSON.stringify({ seq, time: Math.floor(clock.now() / 1000) }));
}

/** `?since=N`, else the EventSource `Last-Event-ID` header; undefined when neither is present. */
function parseSince(req: http.IncomingMessage): number | undefined | 'invalid' {
  const q = new URL(req.url ?? '/', 'http://feed').searchParams.getAll('since');
  const header = req.headers['last-event-id'];
  const raw = q.length ? q : typeof header === 'string' ? [header] : [];
  if (raw.length === 0) return undefined;
  if (raw.length > 1 || !/^\d{1,15}$/.test(raw[0])) return 'invalid';
  return Number(raw[0]);
}

function jsonError(res: http.ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify({ error, error_description: description }));
}
