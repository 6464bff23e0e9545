import type * as grpc from '@grpc/grpc-js';
import type { GrpcError } from '../../common/grpc-status.ts';
import type { Clock } from '../../common/clock.ts';
import { rateLimited, type Logger } from '../../common/logger.ts';
import type { IdentityProvider } from '../workload-api/provider.ts';
import { openStream, scheduleRefresh, writeDrained, type FullStateStream } from '../workload-api/stream-state.ts';
import { toBrokerStatus, workloadNotEntitled, WorkloadReferenceError } from './errors.ts';
import type { ResolvedWorkload } from './pid-resolver.ts';

/** One full-state Broker API stream, for one referenced workload. */
export interface BrokerStreamSpec<T> {
  call: grpc.ServerWritableStream<unknown, T>;
  target: ResolvedWorkload;
  /** The workload's whole current state; undefined = no longer entitled (→ PermissionDenied). */
  build(): Promise<T | undefined>;
  /** Equal digests = nothing changed for this workload: no message. */
  digest(msg: T): string;
  /** Changes that concern only this workload (its SVIDs replaced); returns the unsubscribe. */
  watch?(notify: () => void): () => void;
}

export interface BrokerStreamsOptions {
  provider: IdentityProvider;
  clock: Clock;
  logger: Logger;
  /** Random delay in [0, jitterMs) before a pushed update (spec §4.4: spread widespread updates). */
  jitterMs: number;
  /** How often open streams check that their workload still exists (spec §4.9). */
  livenessIntervalMs: number;
}

interface Open extends FullStateStream {
  spec: BrokerStreamSpec<unknown>;
  unwatch?: () => void;
}

/**
 * The Broker API's streams: the first message at once, then a full-state message
 * whenever the referenced workload's own state changes (entries, bundles, its SVIDs
 * rotated). Each stream ends on its own (spec §4.3: the connection stays): NotFound
 * once its workload is gone (checked before every message and every
 * livenessIntervalMs), PermissionDenied once it is no longer entitled.
 */
export class BrokerStreams {
  private readonly open = new Set<Open>();
  private readonly unsubscribe: () => void;
  private readonly failureLog: Logger;
  private readonly stopLiveness = new AbortController();

  constructor(private readonly o: BrokerStreamsOptions) {
    this.failureLog = rateLimited(o.logger, 10_000, () => o.clock.now());
    this.unsubscribe = o.provider.onChange(() => { for (const s of this.open) this.schedule(s); });
    void this.livenessLoop();
  }

  get size(): number { return this.open.size; }

  async serve<T>(spec: BrokerStreamSpec<T>): Promise<void> {
    const s: Open = { ...openStream(), spec: spec as BrokerStreamSpec<unknown> };
    const forget = () => this.finish(s);
    spec.call.once('cancelled', forget);
    spec.call.once('close', forget);
    spec.call.once('finish', forget);
    this.open.add(s);
    s.unwatch = spec.watch?.(() => this.schedule(s));
    s.chain = this.refresh(s);
    await s.chain;
  }

  /** Ends every stream with `status` (shutdown) and stops listening. */
  close(status: GrpcError): void {
    this.stopLiveness.abort();
    this.unsubscribe();
    for (const s of [...this.open]) this.end(s, status);
  }

  private finish(s: Open): void {
    if (!this.open.delete(s)) return;
    s.done = true;
    s.abort.abort();
    s.unwatch?.();
    s.spec.target.release();
  }

  private async livenessLoop(): Promise<void> {
    for (;;) {
      try { await this.o.clock.sleep(this.o.livenessIntervalMs, this.stopLiveness.signal); } catch { return; }
      for (const s of [...this.open]) {
        try { s.spec.target.verify(); } catch (e) {
          this.o.logger.info('ending broker stream: workload gone', { path: s.spec.call.getPath(), pid: s.spec.target.workload.pid, err: e as Error });
          this.end(s, toBrokerStatus(e));
        }
      }
    }
  }

  private schedule(s: Open): void {
    scheduleRefresh(s, Math.floor(Math.random() * this.o.jitterMs), this.o.clock, () => this.refresh(s));
  }

  private async refresh(s: Open): Promise<void> {
    if (s.done) return;
    let msg: unknown;
    try {
      s.spec.target.verify();
      msg = await s.spec.build();
      if (msg === undefined) throw workloadNotEntitled(`workload (pid ${s.spec.target.workload.pid}) is no longer entitled: no registration entry matches it`);
      // build() awaited: the workload must still be the one resolved before anything goes out.
      s.spec.target.verify();
    } catch (e) {
      if (s.done) return;
      // Once something was sent, only the workload's own fate ends the stream; a failed
      // mint (server unreachable) keeps the last good state until the next change.
      if (s.last !== '' && !(e instanceof WorkloadReferenceError)) {
        this.failureLog.error('broker stream update failed; keeping the last state', { path: s.spec.call.getPath(), err: e as Error });
        return;
      }
      this.end(s, toBrokerStatus(e));
      return;
    }
    if (s.done) return;
    const d = s.spec.digest(msg);
    if (d === s.last) return;
    s.last = d;
    await writeDrained(s.spec.call, s, msg);
  }

  private end(s: Open, status: GrpcError): void {
    if (s.done) return;
    this.finish(s);
    s.spec.call.emit('error', status);
  }
}
