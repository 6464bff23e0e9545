import { SpiffeError } from '../errors.ts';
import { Backoff, type BackoffOptions } from '../lib/backoff.ts';
import type { Subscription, Watcher, WorkloadApiError } from './client.ts';

/** What the SDK logs through; any console-like or common/logger.ts logger fits. */
export interface SdkLogger {
  debug?(msg: string, fields?: Record<string, unknown>): void;
  warn?(msg: string, fields?: Record<string, unknown>): void;
}

export interface RetryingWatchOptions<T> {
  /** Opens one stream (e.g. client.watchX509Svids). */
  open(w: Watcher<T>): Subscription;
  /** Applies an update; a thrown error is reported like a stream error (the stream stays open). */
  onUpdate(update: T): void;
  /** Every failure, retried or not. */
  onError(err: SpiffeError): void;
  /** A PermissionDenied: the endpoint says we have no identity (any earlier one is revoked). */
  onPermissionDenied?(err: WorkloadApiError): void;
  /** Called once when retrying stops for good (InvalidArgument, or close()). */
  onStop?(err: SpiffeError | undefined): void;
  /** Over DEFAULT_STREAM_BACKOFF. */
  backoff?: BackoffOptions;
  logger?: SdkLogger;
  what: string;
}

/**
 * Retries of a failed stream: 100 ms → 1 s, full jitter. The agent is a local socket:
 * a retry costs next to nothing, and a long ceiling would leave workloads without
 * updates for seconds after the agent restarts.
 */
export const DEFAULT_STREAM_BACKOFF: Readonly<BackoffOptions> = { initialMs: 100, maxMs: 1_000 };

/**
 * One Workload API stream kept open for the life of a source: every stream error
 * but InvalidArgument is retried with backoff and jitter (Unavailable,
 * PermissionDenied, a server that closed the stream, a malformed message);
 * InvalidArgument means our request is wrong, so retrying can never help.
 */
export class RetryingWatch<T> {
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: Backoff;

  constructor(private readonly o: RetryingWatchOptions<T>) {
    this.backoff = new Backoff({ ...DEFAULT_STREAM_BACKOFF, ...o.backoff });
    this.start();
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.sub?.close();
    this.o.onStop?.(undefined);
  }

  private start(): void {
    if (this.stopped) return;
    const sub = this.o.open({
      onUpdate: (u) => {
        if (this.stopped || this.sub !== sub) return;
        try {
          this.o.onUpdate(u);
          this.backoff.reset();
        } catch (err) {
          const e = err instanceof SpiffeError ? err : new SpiffeError('ERR_WORKLOADAPI', `${this.o.what}: bad update: ${(err as Error).message}`, { cause: err });
          this.o.logger?.warn?.(`${this.o.what}: update rejected`, { error: e.message, code: e.code });
          this.o.onError(e);
        }
      },
      onError: (err) => {
        if (this.stopped || this.sub !== sub) return;
        this.sub = undefined;
        this.o.onError(err);
        if (err.code === 'ERR_WORKLOADAPI_INVALID_ARGUMENT') {
          this.o.logger?.warn?.(`${this.o.what}: stream refused with InvalidArgument; not retrying`, { error: err.message });
          this.stopped = true;
          this.o.onStop?.(err);
          return;
        }
        if (err.code === 'ERR_WORKLOADAPI_PERMISSION_DENIED') this.o.onPermissionDenied?.(err);
        const delay = this.backoff.next();
        this.o.logger?.debug?.(`${this.o.what}: stream failed; retrying`, { error: err.message, code: err.code, retry_in_ms: Math.round(delay) });
        this.timer = setTimeout(() => { this.timer = undefined; this.start(); }, delay);
      },
    });
    this.sub = sub;
  }
}
