import { setMaxListeners } from 'node:events';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { SsfQueuedSet, SsfStore } from '../datastore/sql-ssf.ts';
import type { StoredConfig } from './stream-config.ts';

/** One push attempt may hold its claim this long (a server that dies mid-push frees it then). */
const CLAIM_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 60_000;
/** Looked at again at least this often: retries and claims freed by other servers. */
const IDLE_MS = 5_000;
const BATCH = 64;

export type PushOutcome = { kind: 'delivered' } | { kind: 'refused'; status: number; err: string; description: string } | { kind: 'retry'; why: string };

/**
 * RFC 8935 push delivery: each queued SET of an enabled push stream is POSTed as
 * application/secevent+jwt to the receiver's endpoint by the one server that claimed
 * it (a conditional UPDATE), and deleted only when the receiver answered 2xx (202 per
 * the RFC) or refused it for good with 400 and an error JSON (a SET it cannot accept
 * now will not be accepted later). Anything else (5xx, 401/403, a timeout, a reset) is
 * retried with exponential backoff and jitter, for as long as the stream exists and is
 * enabled: while paused, SETs wait in the queue.
 */
export class SsfPusher {
  private wakeUp = new AbortController();

  constructor(private readonly o: { store: { ssf: SsfStore }; clock: Clock; logger: Logger; post?: typeof postSet }) {}

  wake(): void { this.wakeUp.abort(); }

  async run(signal: AbortSignal): Promise<void> {
    const ssf = this.o.store.ssf;
    // One listener for the whole run (a combined signal per sleep would pile listeners on `signal`).
    signal.addEventListener('abort', () => this.wakeUp.abort(), { once: true });
    setMaxListeners(BATCH + 16, signal); // each of up to BATCH concurrent POSTs listens for the stop
    while (!signal.aborted) {
      const wake = (this.wakeUp = new AbortController());
      let wait = IDLE_MS;
      try {
        const now = this.o.clock.now();
        const due = await ssf.due(now, BATCH);
        await Promise.all(due.map((row) => this.attempt(row, signal)));
        if (due.length === BATCH) continue;
        const next = await ssf.nextDue();
        if (next !== undefined) wait = Math.max(0, Math.min(IDLE_MS, next - this.o.clock.now() + 1));
      } catch (err) {
        if (signal.aborted) return;
        this.o.logger.warn('shared signals push loop failed; retrying', { err: err as Error });
      }
      if (wake.signal.aborted) continue;
      await this.o.clock.sleep(wait, wake.signal).catch(() => undefined);
    }
  }

  private async attempt(row: SsfQueuedSet, signal: AbortSignal): Promise<void> {
    const ssf = this.o.store.ssf;
    const now = this.o.clock.now();
    if (!await ssf.claim(row.seq, now, now + CLAIM_MS)) return; // another server has it
    const stream = await ssf.getStream(row.streamId);
    if (!stream || stream.method !== 'push' || stream.status !== 'enabled') { await ssf.retryAt(row.seq, 0, row.attempts); return; }
    const c = JSON.parse(stream.config) as StoredConfig;
    const out = await (this.o.post ?? postSet)(c.endpoint_url!, row.set, c.authorization_header, signal);
    if (out.kind === 'delivered') {
      await ssf.drop(row.seq);
      this.o.logger.debug('shared signal pushed', { stream: row.streamId, jti: row.jti, attempts: row.attempts + 1 });
    } else if (out.kind === 'refused') {
      await ssf.drop(row.seq);
      this.o.logger.warn('receiver refused a shared signal; dropped', { stream: row.streamId, jti: row.jti, status: out.status, err: out.err, description: out.description });
    } else {
      const attempts = row.attempts + 1;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempts - 1, 20)) * (0.8 + Math.random() * 0.4);
      await ssf.retryAt(row.seq, this.o.clock.now() + Math.round(delay), attempts);
      this.o.logger.info('shared signal push failed; will retry', { stream: row.streamId, jti: row.jti, attempts, retry_in_ms: Math.round(delay), why: out.why });
    }
  }
}

/** One RFC 8935 POST. */
export function postSet(url: string, set: string, authorization: string | undefined, signal: AbortSignal): Promise<PushOutcome> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(u, {
      method: 'POST', signal, timeout: REQUEST_TIMEOUT_MS, agent: false,
      headers: {
        'content-type': 'application/secevent+jwt', accept: 'application/json', 'content-length': Buffer.byteLength(set),
        ...(authorization ? { authorization } : {}),
      },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 4096) body += d; });
      res.on('error', (e) => resolve({ kind: 'retry', why: e.message }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) { resolve({ kind: 'delivered' }); return; }
        if (status === 400) {
          let j: { err?: unknown; description?: unknown } = {};
          try { j = JSON.parse(body); } catch { /* not JSON */ }
          resolve({ kind: 'refused', status, err: String(j.err ?? 'invalid_request'), description: String(j.description ?? '') });
          return;
        }
        resolve({ kind: 'retry', why: `HTTP ${status}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e) => resolve({ kind: 'retry', why: e.message }));
    req.end(set);
  });
}
