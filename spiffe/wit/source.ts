import type { TrustDomain } from '../id.ts';
import { SpiffeError } from '../errors.ts';
import { Listeners } from '../source/types.ts';
import type { BackoffOptions } from '../lib/backoff.ts';
import { addressFromEnv, parseWorkloadApiAddress, type WorkloadApiAddress } from '../workloadapi/address.ts';
import { RetryingWatch, type SdkLogger } from '../workloadapi/watch.ts';
import type { WitBundle, WitBundleSet, WitBundleSource } from './bundle.ts';
import { WitClient } from './client.ts';
import { WitError } from './errors.ts';
import type { WitSvidWithKey } from './types.ts';

export interface WITSourceOptions {
  /** `unix:///path` or `tcp://ip:port`; default SPIFFE_ENDPOINT_SOCKET. */
  address?: string | WorkloadApiAddress;
  /** Only this identity (WITSVIDRequest.spiffe_id). */
  spiffeId?: string;
  /** Pick the SVID with this hint instead of the default (first) one. */
  hint?: string;
  /** How long create() waits for the first SVIDs and bundles. Default 30 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  logger?: SdkLogger;
}

/**
 * WIT-SVIDs (with their private keys) and WIT bundles from the Workload API's WIT-SVID
 * Profile, always the latest: both streams are held open, the agent pushes a new
 * WIT-SVID when it rotates one (at half its lifetime) or when the caller's identities
 * change, and failures are retried with backoff. An agent without the profile
 * (Unimplemented) fails create() with ERR_WIT_UNSUPPORTED and is not retried
 * (SPIFFE Workload API 7). Satisfies WitBundleSource, so it verifies peers too.
 *
 *   const wit = await WITSource.create();
 *   const headers = workloadProofHeaders({ wit: wit.getWitSvid(), method: 'POST', uri });
 */
export class WITSource implements WitBundleSource {
  private readonly client: WitClient;
  private readonly watches: RetryingWatch<unknown>[] = [];
  private readonly updates = new Listeners();
  private readonly errors = new Listeners<[SpiffeError | WitError]>();
  private svids: WitSvidWithKey[] | undefined;
  private bundles: WitBundleSet | undefined;
  private closedFlag = false;
  private settle!: (err?: Error) => void;
  private readonly ready: Promise<void>;

  private constructor(private readonly o: WITSourceOptions) {
    const address = typeof o.address === 'string' ? parseWorkloadApiAddress(o.address) : o.address ?? addressFromEnv();
    this.client = new WitClient(address);
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(new SpiffeError('ERR_WORKLOADAPI_UNAVAILABLE', `no WIT-SVID update within ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
      let done = false;
      this.settle = (err) => {
        if (done) return;
        if (!err && (!this.svids || !this.bundles)) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err); else resolve();
      };
    });
    this.ready.catch(() => { /* surfaced by create() */ });
    this.watch<WitSvidWithKey[]>('wit-svid source', (w) => this.client.watchWitSvids({ ...w, onUnsupported: (e) => this.unsupported(e) }, o.spiffeId), (u) => { this.svids = u; });
    this.watch<WitBundleSet>('wit bundle source', (w) => this.client.watchWitBundles({ ...w, onUnsupported: (e) => this.unsupported(e) }), (u) => { this.bundles = u; });
    o.signal?.addEventListener('abort', () => { void this.close(); }, { once: true });
  }

  /** Opens both streams; resolves once the first WIT-SVIDs and WIT bundles arrived. */
  static async create(o: WITSourceOptions = {}): Promise<WITSource> {
    const s = new WITSource(o);
    try { await s.ready; } catch (e) { await s.close(); throw e; }
    return s;
  }

  /** The default WIT-SVID (or the one with the configured hint), with its private key. */
  getWitSvid(): WitSvidWithKey {
    this.checkOpen();
    const all = this.svids ?? [];
    const svid = this.o.hint ? all.find((s) => s.hint === this.o.hint) : all[0];
    if (!svid) throw new SpiffeError('ERR_SOURCE_NO_SVID', `no WIT-SVID${this.o.hint ? ` with hint "${this.o.hint}"` : ''}`);
    return svid;
  }

  getWitSvids(): WitSvidWithKey[] { this.checkOpen(); return [...(this.svids ?? [])]; }

  getWitBundleForTrustDomain(td: TrustDomain): WitBundle | undefined {
    this.checkOpen();
    return this.bundles?.getWitBundleForTrustDomain(td);
  }

  /** After every applied update (a rotated WIT-SVID, new bundles). */
  onUpdate(listener: () => void): () => void { return this.updates.add(listener); }
  onError(listener: (err: SpiffeError | WitError) => void): () => void { return this.errors.add(listener); }

  get closed(): boolean { return this.closedFlag; }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const w of this.watches) w.close();
    this.settle(new SpiffeError('ERR_SOURCE_CLOSED', 'source closed before its first update'));
    this.client.close();
    this.updates.clear();
    this.errors.clear();
  }

  private watch<T>(what: string, open: ConstructorParameters<typeof RetryingWatch<T>>[0]['open'], apply: (u: T) => void): void {
    this.watches.push(new RetryingWatch<T>({
      what, open, backoff: this.o.backoff, logger: this.o.logger,
      onUpdate: (u) => { apply(u); this.settle(); this.updates.emit(); },
      onError: (err) => {
        this.errors.emit(err);
        if (err.code === 'ERR_WORKLOADAPI_INVALID_ARGUMENT') this.settle(err);
      },
      // PermissionDenied: every identity is gone; what we held is revoked (Workload API 7.2.1).
      onPermissionDenied: () => { if (what === 'wit-svid source') this.svids = []; },
    }) as RetryingWatch<unknown>);
  }

  /** Unimplemented: the profile is not served here; stop both streams for good (Workload API 7). */
  private unsupported(e: WitError): void {
    for (const w of this.watches) w.close();
    this.errors.emit(e);
    this.settle(e);
  }

  private checkOpen(): void {
    if (this.closedFlag) throw new SpiffeError('ERR_SOURCE_CLOSED', 'WITSource is closed');
  }
}
