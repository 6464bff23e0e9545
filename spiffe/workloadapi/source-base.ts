import { SpiffeError } from '../errors.ts';
import { Listeners } from '../source/types.ts';
import type { BackoffOptions } from '../lib/backoff.ts';
import { WorkloadApiClient, type Subscription, type Watcher, type WorkloadApiClientOptions } from './client.ts';
import type { WorkloadApiAddress } from './address.ts';
import { RetryingWatch, type SdkLogger } from './watch.ts';

/** Options every Workload API source takes. */
export interface SourceOptions {
  /** A client to share; else one is made from `address` (default SPIFFE_ENDPOINT_SOCKET) and closed with the source. */
  client?: WorkloadApiClient;
  address?: string | WorkloadApiAddress;
  channelOptions?: WorkloadApiClientOptions['channelOptions'];
  /** How long create() waits for the first update. Default 30 000 ms. */
  timeoutMs?: number;
  /** Aborting closes the source (and rejects a pending create()). */
  signal?: AbortSignal;
  /** Stream retry schedule, over the default 100 ms → 1 s with full jitter (watch.ts DEFAULT_STREAM_BACKOFF). */
  backoff?: BackoffOptions;
  logger?: SdkLogger;
}

/**
 * Shared life cycle of X509Source / JWTSource / BundleSource: an owned or borrowed
 * client, the Workload API streams held open, a "ready" promise settled by the first
 * update (or the first error that can never heal, or the timeout), update and error
 * listeners, close().
 */
export abstract class SourceBase {
  protected readonly client: WorkloadApiClient;
  private readonly ownsClient: boolean;
  protected readonly updates = new Listeners();
  protected readonly errors = new Listeners<[SpiffeError]>();
  private readonly watches: Subscription[] = [];
  private closedFlag = false;
  private settleReady!: (err?: SpiffeError) => void;
  private readyPromise: Promise<void>;
  private lastError: SpiffeError | undefined;
  private readonly opts: SourceOptions;
  private readonly onAbort = () => { void this.close(); };

  protected constructor(o: SourceOptions) {
    this.opts = o;
    this.ownsClient = !o.client;
    this.client = o.client ?? new WorkloadApiClient({ address: o.address, channelOptions: o.channelOptions });
    this.readyPromise = new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        this.settleReady(this.lastError ?? new SpiffeError('ERR_WORKLOADAPI_UNAVAILABLE', `no update from the Workload API within ${o.timeoutMs ?? 30_000} ms`));
      }, o.timeoutMs ?? 30_000);
      this.settleReady = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err); else resolve();
      };
    });
    this.readyPromise.catch(() => { /* surfaced through create() */ });
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Resolves after the first complete update; rejects (and closes) on timeout, InvalidArgument or abort. */
  protected async ready(): Promise<void> {
    if (this.opts.signal?.aborted) await this.close();
    try {
      await this.readyPromise;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * Holds one Workload API stream open for the life of the source (retried with
   * backoff; closed by close()). Its errors reach onError listeners; an
   * InvalidArgument, which retrying cannot heal, also fails a pending create().
   */
  protected watch<T>(what: string, open: (w: Watcher<T>) => Subscription, onUpdate: (u: T) => void, onPermissionDenied?: () => void): void {
    this.watches.push(new RetryingWatch<T>({
      what, open, onUpdate, onPermissionDenied,
      onError: (err) => {
        this.lastError = err;
        this.errors.emit(err);
        if (err.code === 'ERR_WORKLOADAPI_INVALID_ARGUMENT') this.settleReady(err);
      },
      backoff: this.opts.backoff,
      logger: this.opts.logger,
    }));
  }

  /** An update was applied: tells listeners, and settles create() when the source is `ready` (default). */
  protected updated(ready = true): void {
    if (ready) this.settleReady();
    this.updates.emit();
  }

  /** Called after every applied update (also the first). */
  onUpdate(listener: () => void): () => void { return this.updates.add(listener); }
  /** Stream failures (retried unless InvalidArgument) and rejected updates. */
  onError(listener: (err: SpiffeError) => void): () => void { return this.errors.add(listener); }

  get closed(): boolean { return this.closedFlag; }

  /** Stops the watch streams; getters throw ERR_SOURCE_CLOSED afterwards. Idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    for (const w of this.watches) w.close();
    this.settleReady(new SpiffeError('ERR_SOURCE_CLOSED', 'source closed before its first update'));
    if (this.ownsClient) this.client.close();
    this.updates.clear();
    this.errors.clear();
  }

  protected checkOpen(what: string): void {
    if (this.closedFlag) throw new SpiffeError('ERR_SOURCE_CLOSED', `${what}: source is closed`);
  }
}
