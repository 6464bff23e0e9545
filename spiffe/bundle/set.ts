import type { TrustDomain } from '../id.ts';
import type { JwtBundle, JwtBundleSource } from './jwtbundle.ts';
import type { SpiffeBundle } from './spiffebundle.ts';
import type { X509Bundle, X509BundleSource } from './x509bundle.ts';

/** A source that answers with a SPIFFE bundle (X.509 + JWT) per trust domain. */
export interface SpiffeBundleSource {
  getBundleForTrustDomain(td: TrustDomain): SpiffeBundle | undefined;
}

/**
 * Bundles keyed by trust domain name: our own plus federated ones. Each lookup
 * returns the bundle of exactly that trust domain; nothing is ever pooled.
 */
export class BundleSet implements X509BundleSource, JwtBundleSource, SpiffeBundleSource {
  private readonly byName = new Map<string, SpiffeBundle>();

  constructor(bundles: Iterable<SpiffeBundle> = []) {
    for (const b of bundles) this.set(b);
  }

  /** Adds or replaces the bundle of `b.trustDomain`. */
  set(b: SpiffeBundle): void { this.byName.set(b.trustDomain.name, b); }
  delete(td: TrustDomain): boolean { return this.byName.delete(td.name); }
  has(td: TrustDomain): boolean { return this.byName.has(td.name); }
  get size(): number { return this.byName.size; }
  bundles(): SpiffeBundle[] { return [...this.byName.values()]; }

  getBundleForTrustDomain(td: TrustDomain): SpiffeBundle | undefined { return this.byName.get(td.name); }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.byName.get(td.name)?.x509Bundle();
  }

  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined {
    return this.byName.get(td.name)?.jwtBundle();
  }
}
