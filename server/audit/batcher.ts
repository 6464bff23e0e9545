import type { Clock } from '../../common/clock.ts';
import { TesseraError, unavailable } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * The in-memory batcher in front of the transparency log (docs/audit.md "Batching").
 * Producers hand over an item and go on: items arriving while a flush runs go into the
 * next one, so the log costs one write transaction per batch, not per event, and never
 * a round trip on the caller's path.
 *
 * Nothing is ever dropped. A flush that fails because the database is unavailable is
 * retried (same items, same order) with backoff until it succeeds; the queue is bounded,
 * and a producer that finds it full waits for room (`waitForRoom`) for a bounded time and
 * then fails its own request with ERR_AUDIT_BACKLOG: an action that cannot be audited is
 * refused rather than performed unrecorded.
 */
export interface BatcherOptions<T, R> {
  /** Writes the items in order (one transaction); returns one result per item. */
  flush(items: T[]): Promise<R[]>;
  clock: Clock;
  logger: Logger;
  /** Items per flush. Default 1000. */
  maxBatch?: number;
  /** Items queued before producers must wait. Default 10 000. */
  maxQueue?: number;
  /**
   * How long a flush waits for more items when fewer than maxBatch are queued (ms, real
   * time), at least. Every flush is a commit, and SQLite commits on the event loop: fewer,
   * larger transactions keep the issuance path's share of the loop. Default 0 (next turn).
   */
  lingerMs?: number;
  /**
   * The share of wall time flushes may take (default 0.05; with lingerMs only). After a
   * flush that took d ms the next one waits at least d·(1/share − 1) ms, at most
   * maxLingerMs: a commit blocks the event loop for its fsync on SQLite, and its length
   * says what the disk costs here (docs/audit.md "Batching").
   */
  maxShare?: number;
  /** Upper bound of the paced wait (ms): what a kill -9 can lose and a receipt waits, at most. Default 250. */
  maxLingerMs?: number;
}

/** The wait before the next flush: the linger, stretched so flushes of `lastFlushMs` take at most `maxShare` of the time. */
export function pacedLinger(lingerMs: number, lastFlushMs: number, maxShare = 0.05, maxLingerMs = 250): number {
  if (lingerMs <= 0) return 0;
  const paced = lastFlushMs * (1 / maxShare - 1);
  return Math.max(lingerMs, Math.min(maxLingerMs, paced));
}

interface Pending<T, R> { item: T; resolve(r: R): void; reject(e: unknown): void }

const retryable = (e: unknown) => e instanceof TesseraError && e.kind === 'unavailable';

export class Batcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private running = false;
  private closed = false;
  private idle: (() => void)[] = [];
  private room: (() => void)[] = [];
  private readonly maxBatch: number;
  readonly maxQueue: number;
  private readonly stop = new AbortController();
  /** How long the last successful flush took (ms, real time). */
  private lastFlushMs = 0;

  constructor(private readonly o: BatcherOptions<T, R>) {
    this.maxBatch = o.maxBatch ?? 1000;
    this.maxQueue = o.maxQueue ?? 10_000;
  }

  get queued(): number { return this.queue.length; }
  get full(): boolean { return this.queue.length >= this.maxQueue; }

  /** Queues an item (even past maxQueue: callers that must respect the bound await waitForRoom first). */
  submit(item: T): Promise<R> {
    if (this.closed) return Promise.reject(unavailable('ERR_AUDIT_CLOSED', 'the audit log is closed'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Next turn of the event loop: everything submitted by this turn's callbacks shares the flush.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves at once when there is room; otherwise when there is, or rejects after `timeoutMs`. */
  async waitForRoom(timeoutMs: number): Promise<void> {
    if (!this.full) return;
    const ac = new AbortController();
    const gotRoom = new Promise<void>((resolve) => this.room.push(() => { ac.abort(); resolve(); }));
    const timedOut = this.o.clock.sleep(timeoutMs, AbortSignal.any([ac.signal, this.stop.signal])).then(() => {
      throw unavailable('ERR_AUDIT_BACKLOG', `the audit log has ${this.queue.length} events waiting to be written (limit ${this.maxQueue}) `
        + `and no room came within ${timeoutMs} ms: is the datastore reachable?`);
    }, () => undefined);
    await Promise.race([gotRoom, timedOut]);
  }

  /** Resolves once everything submitted so far is written (or failed for good). */
  flushed(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops retrying: what is still queued is rejected with ERR_AUDIT_CLOSED. Call after flushed() for a clean stop. */
  close(): void {
    this.closed = true;
    this.stop.abort();
    for (const p of this.queue.splice(0)) p.reject(unavailable('ERR_AUDIT_CLOSED', 'the audit log closed before this event was written'));
    this.wake();
  }

  private async drain(): Promise<void> {
    let attempt = 0;
    try {
      while (this.queue.length && !this.closed) {
        const linger = pacedLinger(this.o.lingerMs ?? 0, this.lastFlushMs, this.o.maxShare, this.o.maxLingerMs);
        if (linger > 0 && this.queue.length < this.maxBatch) await new Promise((r) => setTimeout(r, linger));
        if (this.closed) break;
        const batch = this.queue.slice(0, this.maxBatch);
        try {
          const started = performance.now();
          const results = await this.o.flush(batch.map((p) => p.item));
          this.lastFlushMs = performance.now() - started;
          this.queue.splice(0, batch.length);
          batch.forEach((p, i) => p.resolve(results[i]!));
          attempt = 0;
        } catch (e) {
          if (this.closed) break;
          if (retryable(e)) {
            const delay = Math.min(2000, 50 * 2 ** attempt++) * (0.5 + Math.random());
            this.o.logger.warn('audit log write failed; retrying (events are kept in memory)', { err: e as Error, queued: this.queue.length, retry_in_ms: Math.round(delay) });
            try { await this.o.clock.sleep(delay, this.stop.signal); } catch { break; }
            continue;
          }
          // Not the database being away: a bad item. Write them one by one so it fails alone.
          this.queue.splice(0, batch.length);
          for (const p of batch) await this.o.flush([p.item]).then((r) => p.resolve(r[0]!), p.reject);
        }
        this.wake();
      }
    } finally {
      this.running = false;
      this.wake();
      if (this.queue.length && !this.closed) { this.running = true; setImmediate(() => void this.drain()); }
      else for (const f of this.idle.splice(0)) f();
    }
  }

  private wake(): void {
    if (this.full) return;
    for (const f of this.room.splice(0)) f();
  }
}
