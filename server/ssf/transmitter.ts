import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { SsfStore, SsfStreamRecord } from '../datastore/sql-ssf.ts';
import type { SigningKey } from '../oauth/keys.ts';
import { signSet, VERIFICATION, type SourceEvent } from './events.ts';
import { eventsDelivered, type StoredConfig } from './stream-config.ts';

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 10_000;

/**
 * Turns source events into signed SETs queued per stream. Every server sharing the
 * store hears the same revocations and agent changes and queues them; the queue's
 * UNIQUE (stream, src) keeps one SET per stream and cause, whichever server won. A
 * store that is down is retried with backoff until the server stops: a revocation that
 * reached the store must reach the receivers.
 */
export class SsfTransmitter {
  private readonly waiters = new Set<{ streamId: string; wake: () => void }>();
  private readonly queuedListeners = new Set<() => void>();

  constructor(private readonly o: {
    store: { ssf: SsfStore }; issuer: string; keys: { signingKey(): SigningKey }; clock: Clock; logger: Logger; signal: AbortSignal;
  }) {}

  get issuer(): string { return this.o.issuer; }

  /** Signs `ev` for every stream that delivers its type (or only `streamId`: verification) and queues it. */
  async emit(ev: SourceEvent, streamId?: string): Promise<void> {
    let delay = RETRY_MIN_MS;
    for (;;) {
      try {
        await this.emitOnce(ev, streamId);
        return;
      } catch (err) {
        if (this.o.signal.aborted) throw err;
        this.o.logger.warn('could not queue a shared signal; retrying', { err: err as Error, src: ev.src });
        await this.o.clock.sleep(delay * (0.8 + Math.random() * 0.4), this.o.signal).catch(() => undefined);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private async emitOnce(ev: SourceEvent, streamId?: string): Promise<void> {
    const streams = streamId ? [await this.o.store.ssf.getStream(streamId)].filter((s): s is SsfStreamRecord => s !== undefined) : await this.o.store.ssf.listStreams();
    const nowMs = this.o.clock.now();
    const key = this.o.keys.signingKey();
    const rows = [];
    for (const s of streams) {
      if (s.status === 'disabled') continue; // SSF §8.1.2: a disabled stream holds nothing
      const c = JSON.parse(s.config) as StoredConfig;
      if (ev.type !== VERIFICATION && !eventsDelivered(c).includes(ev.type)) continue;
      const signed = signSet(ev, { issuer: this.o.issuer, aud: c.aud, key, nowSec: Math.floor(nowMs / 1000) });
      rows.push({ streamId: s.id, src: ev.src, jti: signed.jti, set: signed.set, createdAt: nowMs });
    }
    if (rows.length === 0) return;
    const n = await this.o.store.ssf.enqueue(rows);
    if (n > 0) this.o.logger.debug('shared signal queued', { src: ev.src, type: ev.type, streams: n });
    // Woken even when a peer queued first: its SETs are in the store now either way.
    this.queued(rows.map((r) => r.streamId));
  }

  /** Something was queued (or a stream became deliverable): pushers and long polls look again. */
  queued(streamIds: string[]): void {
    for (const l of [...this.queuedListeners]) l();
    for (const w of [...this.waiters]) if (streamIds.includes(w.streamId)) w.wake();
  }

  onQueued(listener: () => void): () => void {
    this.queuedListeners.add(listener);
    return () => { this.queuedListeners.delete(listener); };
  }

  /** Resolves when a SET is queued on `streamId` here, after `ms`, or when `signal` aborts. */
  waitQueued(streamId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const stop = new AbortController();
      const w = { streamId, wake: () => stop.abort() };
      const onAbort = () => stop.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.o.signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
      void this.o.clock.sleep(ms, stop.signal).catch(() => undefined).finally(() => {
        this.waiters.delete(w);
        signal.removeEventListener('abort', onAbort);
        this.o.signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
