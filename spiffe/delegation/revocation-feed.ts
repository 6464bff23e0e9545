import type * as http from 'node:http';
import * as https from 'node:https';
import { Backoff, sleep, type BackoffOptions } from '../lib/backoff.ts';
import type { X509SvidSource } from '../source/types.ts';
import { Listeners } from '../source/types.ts';
import type { SdkLogger } from '../workloadapi/watch.ts';
import { DelegationError, invalid } from './errors.ts';
import { issuerUrl, serverAgent } from './https.ts';
import { parseRevocationRecord, RevocationIndex } from './revocation-index.ts';
import { SseParser, type SseEvent } from './sse.ts';
import type { DelegatedToken, RevocationChecker, RevocationRecord, ServerTrust } from './types.ts';

export interface RevocationFeedOptions extends ServerTrust {
  /** The authorization server; the feed is `<issuer>/oauth2/revocations`. */
  issuer: string;
  /** Our X.509-SVID for the mTLS connection (read at each connect); also the bundle source when it is one. */
  source: X509SvidSource;
  /** Override the feed URL. */
  url?: string;
  /** Fail closed when no event arrived for this long, ms (default 30 000). */
  maxStaleness?: number;
  backoff?: BackoffOptions;
  logger?: SdkLogger;
  /** Test seam: wall clock, ms. */
  now?: () => number;
}

/**
 * The revocation push feed (docs/delegation.md "Push feed"): one long-lived SSE
 * stream over mTLS, the live records kept in memory and matched in O(chain) per
 * token. The stream is re-opened with backoff and `?since=<last seq>`, so nothing is
 * missed across reconnects (the server answers with a fresh snapshot when it no
 * longer has those records). Fails closed: when no event (snapshot, revocation,
 * heartbeat) arrived within `maxStaleness`, every check throws
 * ERR_DELEGATION_FEED_STALE, and a silent connection is dropped and re-opened.
 * A record the SDK cannot parse drops the connection too: skipping it would let a
 * revoked token through.
 */
export class RevocationFeed implements RevocationChecker {
  private readonly index = new RevocationIndex();
  private readonly listeners = new Listeners<[RevocationRecord]>();
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private readonly agent: https.Agent;
  private readonly url: URL;
  private readonly now: () => number;
  private readonly maxStaleness: number;
  private lastSeq: number | undefined;
  private lastEventAt = Number.NEGATIVE_INFINITY;
  private snapshotSeen = false;
  private closed = false;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;

  constructor(private readonly o: RevocationFeedOptions) {
    this.url = o.url ? new URL(o.url) : issuerUrl(o.issuer, '/oauth2/revocations');
    this.agent = serverAgent({ ...o, client: o.source, keepAlive: false });
    this.backoff = new Backoff(o.backoff);
    this.now = o.now ?? Date.now;
    this.maxStaleness = o.maxStaleness ?? 30_000;
    this.readyPromise = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject; });
    this.readyPromise.catch(() => { /* surfaced to ready() callers only */ });
    void this.run();
  }

  /** Resolves on the first snapshot; rejects when closed before that. */
  ready(): Promise<void> { return this.readyPromise; }

  /** The record revoking `token`, or undefined; throws ERR_DELEGATION_FEED_STALE when the feed cannot vouch. */
  revocationOf(token: DelegatedToken): RevocationRecord | undefined {
    const now = this.now();
    if (this.closed) throw new DelegationError('ERR_DELEGATION_FEED_STALE', 'revocation feed is closed', { reason: 'closed' });
    if (!this.snapshotSeen) throw new DelegationError('ERR_DELEGATION_FEED_STALE', `revocation feed ${this.url.href} has not delivered its first snapshot yet`, { reason: 'not_ready' });
    if (now - this.lastEventAt > this.maxStaleness) {
      throw new DelegationError('ERR_DELEGATION_FEED_STALE', `revocation feed ${this.url.href} has been silent for ${Math.round(now - this.lastEventAt)} ms (limit ${this.maxStaleness} ms)`, { reason: 'stale' });
    }
    return this.index.match(token, now / 1000);
  }

  isRevoked(token: DelegatedToken): boolean { return this.revocationOf(token) !== undefined; }

  /** Called once per record, the first time the feed learns it (snapshots included). */
  onRevocation(cb: (r: RevocationRecord) => void): () => void { return this.listeners.add(cb); }

  /** The seq of the last record seen (what a reconnect resumes from). */
  get seq(): number | undefined { return this.lastSeq; }
  /** Live records held. */
  get size(): number { this.index.sweep(this.now() / 1000); return this.index.size; }
  records(): RevocationRecord[] { this.index.sweep(this.now() / 1000); return this.index.records(); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new DelegationError('ERR_DELEGATION_FEED_STALE', 'revocation feed is closed', { reason: 'closed' }));
    this.rejectReady(new DelegationError('ERR_DELEGATION_FEED_STALE', 'revocation feed closed before its first snapshot', { reason: 'closed' }));
    this.listeners.clear();
    this.agent.destroy();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.stream();
        if (!this.closed) this.o.logger?.warn?.('revocation feed ended; reconnecting', { url: this.url.href, since: this.lastSeq });
      } catch (err) {
        if (this.closed) break;
        this.o.logger?.warn?.('revocation feed failed; reconnecting', { url: this.url.href, since: this.lastSeq, error: (err as Error).message });
      }
      try { await sleep(this.backoff.next(), this.abort.signal); } catch { break; }
    }
  }

  /** One SSE connection; settles when it ends, fails, or stays silent past maxStaleness. */
  private stream(): Promise<void> {
    const url = new URL(this.url);
    if (this.lastSeq !== undefined) url.searchParams.set('since', String(this.lastSeq));
    return new Promise<void>((resolve, reject) => {
      let watchdog: NodeJS.Timeout | undefined;
      const req = https.request(url, {
        agent: this.agent, headers: { accept: 'text/event-stream', 'cache-control': 'no-cache' }, signal: this.abort.signal,
      });
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => req.destroy(new Error(`no event within ${this.maxStaleness} ms`)), this.maxStaleness);
        watchdog.unref();
      };
      const done = (err?: Error) => { clearTimeout(watchdog); if (err) reject(err); else resolve(); };
      arm();
      req.on('error', done);
      req.on('response', (res: http.IncomingMessage) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.resume();
          req.destroy(new Error(`feed answered HTTP ${res.statusCode} (${res.headers['content-type'] ?? 'no content-type'})`));
          return;
        }
        const parser = new SseParser((e) => {
          try { if (this.handle(e)) arm(); } catch (err) { req.destroy(err as Error); }
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.push(chunk));
        res.on('end', () => { parser.end(); done(); });
        res.on('error', done);
      });
      req.end();
    });
  }

  /** Applies one event; true when it counts as a sign of life. */
  private handle(e: SseEvent): boolean {
    let data: Record<string, unknown>;
    switch (e.event) {
      case 'snapshot': {
        data = parseJson(e);
        if (!Number.isSafeInteger(data.seq) || !Array.isArray(data.revocations)) throw invalid('malformed', 'snapshot event is not {seq, revocations}');
        const records = (data.revocations as unknown[]).map(parseRevocationRecord);
        const fresh = this.index.replace(records);
        this.lastSeq = records.reduce((m, r) => Math.max(m, r.seq), data.seq as number);
        this.alive();
        if (!this.snapshotSeen) { this.snapshotSeen = true; this.resolveReady(); }
        this.o.logger?.debug?.('revocation feed snapshot', { seq: this.lastSeq, records: records.length });
        for (const r of fresh) this.listeners.emit(r);
        return true;
      }
      case 'revocation': {
        const r = parseRevocationRecord(parseJson(e));
        this.lastSeq = Math.max(this.lastSeq ?? 0, r.seq);
        const fresh = this.index.add(r);
        this.alive();
        if (fresh) this.listeners.emit(r);
        return true;
      }
      case 'heartbeat':
        data = parseJson(e);
        if (!Number.isSafeInteger(data.seq)) throw invalid('malformed', 'heartbeat event has no seq');
        this.alive();
        return true;
      default:
        return false;
    }
  }

  private alive(): void {
    this.lastEventAt = this.now();
    this.backoff.reset();
    this.index.sweep(this.lastEventAt / 1000);
  }
}

function parseJson(e: SseEvent): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(e.data); } catch (err) { throw invalid('malformed', `${e.event} event data is not JSON`, err); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('malformed', `${e.event} event data is not a JSON object`);
  return v as Record<string, unknown>;
}
