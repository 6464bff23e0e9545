import type { X509Bundle, X509BundleSource } from '../bundle/x509bundle.ts';
import type { JwtBundle, JwtBundleSource } from '../bundle/jwtbundle.ts';
import type { BundleSet } from '../bundle/set.ts';
import { SpiffeError } from '../errors.ts';
import type { TrustDomain } from '../id.ts';
import type { X509Svid } from '../x509svid/parse.ts';
import { Listeners, type UpdateNotifier, type X509SvidSource } from './types.ts';

/**
 * An in-memory source: an SVID (with key) and a bundle set that the owner replaces
 * at will (SVIDs read from disk, tests, rotation by hand). `set()` notifies listeners,
 * so it behaves exactly like a Workload API X509Source for the TLS helpers.
 */
export class StaticX509Source implements X509SvidSource, X509BundleSource, JwtBundleSource, UpdateNotifier {
  private svid: X509Svid | undefined;
  private bundleSet: BundleSet;
  private readonly listeners = new Listeners();

  constructor(p: { svid?: X509Svid; bundles: BundleSet }) {
    this.svid = p.svid;
    this.bundleSet = p.bundles;
  }

  /** Replaces the SVID and/or the bundles and tells listeners. */
  set(p: { svid?: X509Svid; bundles?: BundleSet }): void {
    if (p.svid) this.svid = p.svid;
    if (p.bundles) this.bundleSet = p.bundles;
    this.listeners.emit();
  }

  getX509Svid(): X509Svid {
    if (!this.svid) throw new SpiffeError('ERR_SOURCE_NO_SVID', 'static source holds no X.509-SVID');
    return this.svid;
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined { return this.bundleSet.getX509BundleForTrustDomain(td); }
  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined { return this.bundleSet.getJwtBundleForTrustDomain(td); }
  get bundles(): BundleSet { return this.bundleSet; }

  onUpdate(listener: () => void): () => void { return this.listeners.add(listener); }
}
