import type { Logger } from '../../common/logger.ts';
import { X509Bundle, type X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { BundleRecord, Datastore } from '../datastore/types.ts';

/**
 * The stored bundles of foreign trust domains, in memory, following the store's change
 * feed: sync streams push them to agents and the bundle endpoint client verifies
 * https_spiffe endpoints with them, with no datastore read per stream or per fetch.
 * Our own trust domain's bundle is the CA manager's and is left out.
 */
export class ForeignBundles implements X509BundleSource {
  private readonly byName = new Map<string, BundleRecord>();
  private readonly listeners = new Set<(trustDomain: string) => void>();
  private unsubscribe: () => void = () => {};
  /** Reads per trust domain, one at a time, so a late read never overwrites a newer one. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(private readonly o: { own: TrustDomain; store: Pick<Datastore, 'getBundle' | 'listBundles' | 'subscribe'>; logger: Logger }) {}

  static async load(o: { own: TrustDomain; store: Pick<Datastore, 'getBundle' | 'listBundles' | 'subscribe'>; logger: Logger }): Promise<ForeignBundles> {
    const f = new ForeignBundles(o);
    // Subscribed first, so a change between the list and the subscription is not missed.
    f.unsubscribe = o.store.subscribe((ev) => {
      if (ev.kind === 'bundle' && ev.id !== o.own.name) f.reload(ev.id);
    });
    for (const b of await o.store.listBundles()) if (!b.trustDomain.equals(o.own)) f.byName.set(b.trustDomain.name, b);
    return f;
  }

  get(trustDomain: string): BundleRecord | undefined { return this.byName.get(trustDomain); }
  all(): BundleRecord[] { return [...this.byName.values()]; }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    const b = this.byName.get(td.name);
    return b && b.x509Authorities.length > 0 ? new X509Bundle(td, b.x509Authorities) : undefined;
  }

  /** Told the trust domain whose bundle changed (or went). */
  onChange(listener: (trustDomain: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every change seen so far is applied (tests, and callers that just wrote). */
  settled(): Promise<void> { return this.queue; }

  close(): void { this.unsubscribe(); this.listeners.clear(); }

  private reload(trustDomain: string): void {
    this.queue = this.queue.then(async () => {
      const b = await this.o.store.getBundle(trustDomain);
      const had = this.byName.get(trustDomain);
      if (b) this.byName.set(trustDomain, b); else this.byName.delete(trustDomain);
      if (!b && !had) return;
      if (b && had && b.sequence === had.sequence) return;
      for (const l of this.listeners) {
        try { l(trustDomain); } catch (e) { this.o.logger.error('foreign bundle listener failed', { err: e as Error, trust_domain: trustDomain }); }
      }
    }).catch((err: unknown) => this.o.logger.warn('could not read a changed foreign bundle', { err: err as Error, trust_domain: trustDomain }));
  }
}
