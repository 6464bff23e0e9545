import * as grpc from '@grpc/grpc-js';
import { grpcError, toGrpcError, type GrpcError } from '../../common/grpc-status.ts';
import { TesseraError } from '../../common/errors.ts';
import type { Clock } from '../../common/clock.ts';
import { rateLimited, type Logger } from '../../common/logger.ts';
import type { AttestedWorkload, IdentityProvider } from './provider.ts';
import { openStream, scheduleRefresh, writeDrained, type FullStateStream } from './stream-state.ts';

/** One full-state stream (FetchX509SVID, FetchX509Bundles, FetchJWTBundles). */
export interface StreamSpec<T> {
  call: grpc.ServerWritableStream<unknown, T>;
  workload: AttestedWorkload;
  /** The caller's whole current state; undefined = no identity (→ PermissionDenied). */
  build(): Promise<T | undefined>;
  /** Equal digests = nothing the caller sees has changed: no message is sent. */
  digest(msg: T): string;
  /** When false (unauthenticated verifiers allowed), losing every identity does not end it. */
  requireIdentity: boolean;
  /**
   * Throws when the connection's process is gone or is no longer the one that
   * connected (pid reuse, exec). Checked before every message: a socket handed to
   * another process must not keep receiving the original's rotated SVIDs.
   */
  verifyCaller?: () => void;
  /**
   * Subscribes to changes that concern only this caller (e.g. a new SVID for one of
   * its identities), on top of the provider's onChange; returns the unsubscribe.
   */
  watch?(notify: () => void): () => void;
}

export interface StreamHubOptions {
  provider: IdentityProvider;
  clock: Clock;
  logger: Logger;
  /** Updates go out after a random delay in [0, jitterMs × share), spreading a broadcast; the share grows with the open streams (JITTER_FULL_AT). */
  jitterMs: number;
  /** Open streams per caller uid; more are refused with ResourceExhausted. Default unlimited. */
  maxStreamsPerUid?: number;
}

interface Open extends FullStateStream {
  spec: StreamSpec<unknown>;
  unwatch: (() => void) | undefined;
}

const NO_IDENTITY = 'caller has no identity: no registration entry matches its selectors';
/** Open streams from which an update waits the whole jitter window (fewer: a proportional share). */
export const JITTER_FULL_AT = 64;
/** Failed updates are logged at most this often (every caller can cause one at will, e.g. while the server is down). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Holds every open full-state stream and pushes on provider changes. The first
 * message goes out at once; later ones only when the caller's own state changed,
 * after a small jitter. A caller that lost its last identity is refused at once
 * (PermissionDenied), with no jitter: revocation must not wait.
 */
export class StreamHub {
  private readonly opts: StreamHubOptions;
  private readonly open = new Set<Open>();
  private readonly perUid = new Map<number, number>();
  private readonly unsubscribe: () => void;
  private readonly failureLog: Logger;

  constructor(opts: StreamHubOptions) {
    this.opts = opts;
    this.failureLog = rateLimited(opts.logger, FAILURE_LOG_INTERVAL_MS, () => opts.clock.now());
    this.unsubscribe = opts.provider.onChange(() => this.changed());
  }

  get size(): number { return this.open.size; }

  /** Sends the first message and keeps the stream until the client goes or we end it. */
  async serve<T>(spec: StreamSpec<T>): Promise<void> {
    const uid = spec.workload.uid;
    const held = this.perUid.get(uid) ?? 0;
    if (held >= (this.opts.maxStreamsPerUid ?? Infinity)) {
      spec.call.emit('error', toGrpcError(new TesseraError('resource_exhausted', 'ERR_WORKLOADAPI_TOO_MANY_STREAMS',
        `too many open Workload API streams for uid ${uid} (limit ${this.opts.maxStreamsPerUid})`)));
      return;
    }
    const s: Open = { ...openStream(), spec: spec as StreamSpec<unknown>, unwatch: undefined };
    this.perUid.set(uid, held + 1);
    const forget = () => { s.done = true; s.abort.abort(); this.remove(s); };
    spec.call.once('cancelled', forget);
    spec.call.once('close', forget);
    spec.call.once('finish', forget);
    // Registered before the first build so a change during it is not lost.
    this.open.add(s);
    s.unwatch = spec.watch?.(() => this.schedule(s));
    s.chain = this.refresh(s);
    await s.chain;
  }

  /** Ends every stream, e.g. Unavailable on shutdown so clients reconnect with backoff. */
  endAll(status: GrpcError): void {
    for (const s of [...this.open]) this.end(s, status);
  }

  close(): void {
    this.unsubscribe();
  }

  /** Forgets a stream once, releasing its per-uid slot. */
  private remove(s: Open): void {
    s.unwatch?.();
    s.unwatch = undefined;
    if (!this.open.delete(s)) return;
    const uid = s.spec.workload.uid;
    const n = (this.perUid.get(uid) ?? 1) - 1;
    if (n > 0) this.perUid.set(uid, n); else this.perUid.delete(uid);
  }

  private changed(): void {
    for (const s of this.open) {
      if (s.spec.requireIdentity && !this.opts.provider.hasIdentity(s.spec.workload)) {
        this.end(s, grpcError(grpc.status.PERMISSION_DENIED, NO_IDENTITY));
        continue;
      }
      this.schedule(s);
    }
  }

  /** A refresh of one stream after the jitter; at most one waits at a time. */
  private schedule(s: Open): void {
    scheduleRefresh(s, this.jitter(), this.opts.clock, () => this.refresh(s));
  }

  /**
   * The jitter spreads one change sent to many streams at once; with a single stream it
   * only delays (it was most of entry → SVID: ~50 ms of ~57 ms at p50). So it grows with
   * the open streams: none with one, all of jitterMs from JITTER_FULL_AT on.
   */
  private jitter(): number {
    const share = Math.min(1, (this.open.size - 1) / JITTER_FULL_AT);
    return share <= 0 ? 0 : Math.floor(Math.random() * this.opts.jitterMs * share);
  }

  private async refresh(s: Open): Promise<void> {
    if (s.done) return;
    let msg: unknown;
    try {
      // The first message follows the interceptor's own check of this caller at once;
      // later ones may come long after, so they check first. After build() (which
      // awaits) every message is checked again below.
      if (s.last !== '') s.spec.verifyCaller?.();
    } catch (e) {
      this.opts.logger.info('ending workload stream: caller process gone or changed', { path: s.spec.call.getPath(), pid: s.spec.workload.pid, err: e as Error });
      this.end(s, toGrpcError(e));
      return;
    }
    try {
      msg = await s.spec.build();
    } catch (e) {
      this.failureLog.error('workload stream update failed', { path: s.spec.call.getPath(), pid: s.spec.workload.pid, err: e as Error });
      if (s.last === '') this.end(s, toGrpcError(e)); // nothing sent yet: tell the caller now
      return; // otherwise keep the last good state; the next change retries
    }
    if (s.done) return;
    if (msg === undefined) {
      this.end(s, grpcError(grpc.status.PERMISSION_DENIED, NO_IDENTITY));
      return;
    }
    const d = s.spec.digest(msg);
    if (d === s.last) return;
    // build() awaited (a first message may wait on a mint): check again that this
    // connection still is its process. Not redundant with the interceptor's check,
    // which proves attestation's /proc reads, not liveness at the write.
    try { s.spec.verifyCaller?.(); } catch (e) { this.end(s, toGrpcError(e)); return; }
    s.last = d;
    await writeDrained(s.spec.call, s, msg);
  }

  private end(s: Open, status: GrpcError): void {
    if (s.done) return;
    s.done = true;
    s.abort.abort();
    this.remove(s);
    s.spec.call.emit('error', status);
  }
}
