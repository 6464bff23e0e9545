import type { BundleSet } from '../bundle/set.ts';
import { SpiffeBundle } from '../bundle/spiffebundle.ts';
import type { X509Bundle, X509BundleSource } from '../bundle/x509bundle.ts';
import { SpiffeError } from '../errors.ts';
import { SpiffeId, type TrustDomain } from '../id.ts';
import type { UpdateNotifier, X509SvidSource } from '../source/types.ts';
import { parseX509Svid, type X509Svid } from '../x509svid/parse.ts';
import { x509BundleSet } from './bundle-sets.ts';
import type { X509SvidUpdate } from './client.ts';
import { SourceBase, type SourceOptions } from './source-base.ts';

/** Everything one X509SVIDResponse says: our SVIDs (default first) and the X.509 bundles. */
export interface X509Context {
  svids: X509Svid[];
  /** Own trust domain + federated ones; X.509 authorities only. */
  bundles: BundleSet;
}

export interface X509SourceOptions extends SourceOptions {
  /** Which SVID getX509Svid() returns; default the first (the workload's default identity). */
  picker?: (svids: X509Svid[]) => X509Svid | undefined;
}

/**
 * Our X.509-SVIDs and X.509 bundles, always the latest, from a FetchX509SVID stream
 * held open (reconnecting with backoff + jitter). Satisfies X509SvidSource and
 * X509BundleSource, so the mTLS helpers take it directly.
 *
 *   const source = await X509Source.create();        // SPIFFE_ENDPOINT_SOCKET
 *   source.getX509Svid().id                          // spiffe://example.org/billing
 *   source.onUpdate(() => ...);                      // rotation, bundle change
 *   await source.close();
 *
 * A PermissionDenied on the stream revokes what we held: getX509Svid() throws
 * ERR_SOURCE_NO_SVID until an identity comes back (bundles are kept).
 */
export class X509Source extends SourceBase implements X509SvidSource, X509BundleSource, UpdateNotifier {
  private ctx: X509Context | undefined;
  private revoked = false;
  private readonly picker: (svids: X509Svid[]) => X509Svid | undefined;

  private constructor(o: X509SourceOptions) {
    super(o);
    this.picker = o.picker ?? ((s) => s[0]);
    this.watch<X509SvidUpdate>('x509 source', (w) => this.client.watchX509Svids(w), (u) => this.apply(u), () => {
      if (this.ctx && !this.revoked) { this.revoked = true; this.updates.emit(); }
    });
  }

  /** Opens the stream; resolves after the first X509SVIDResponse. */
  static async create(o: X509SourceOptions = {}): Promise<X509Source> {
    const s = new X509Source(o);
    await s.ready();
    return s;
  }

  getX509Svid(): X509Svid {
    this.checkOpen('getX509Svid');
    const ctx = this.current();
    const svid = this.picker(ctx.svids);
    if (!svid) throw new SpiffeError('ERR_SOURCE_NO_SVID', 'the picker chose no X.509-SVID');
    return svid;
  }

  /** All our SVIDs, default first. */
  getX509Svids(): X509Svid[] {
    this.checkOpen('getX509Svids');
    return [...this.current().svids];
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    this.checkOpen('getX509BundleForTrustDomain');
    return this.ctx?.bundles.getX509BundleForTrustDomain(td);
  }

  get bundles(): BundleSet {
    this.checkOpen('bundles');
    if (!this.ctx) throw new SpiffeError('ERR_SOURCE_NO_SVID', 'no update received yet');
    return this.ctx.bundles;
  }

  private current(): X509Context {
    if (!this.ctx) throw new SpiffeError('ERR_SOURCE_NO_SVID', 'no X.509-SVID received yet');
    if (this.revoked) throw new SpiffeError('ERR_SOURCE_NO_SVID', 'the Workload API revoked our X.509-SVIDs (PermissionDenied)');
    return this.ctx;
  }

  private apply(u: X509SvidUpdate): void {
    if (u.svids.length === 0) throw new SpiffeError('ERR_WORKLOADAPI', 'X509SVIDResponse has no SVIDs');
    const svids = u.svids.map((m) => {
      const svid = parseX509Svid(m.certificates, m.privateKey);
      if (!svid.id.equals(SpiffeId.parse(m.spiffeId))) {
        throw new SpiffeError('ERR_X509SVID_INVALID', `X509SVID spiffe_id ${m.spiffeId} does not match its certificate (${svid.id})`);
      }
      if (m.hint) svid.hint = m.hint;
      return { svid, bundle: m.bundle };
    });
    const bundles = x509BundleSet(u.federatedBundles);
    // Each SVID carries the bundle of its own trust domain; it wins over a federated entry.
    for (const { svid, bundle } of svids) {
      if (bundle.length === 0) throw new SpiffeError('ERR_BUNDLE_INVALID', `X509SVID ${svid.id} has an empty bundle`);
      bundles.set(new SpiffeBundle(svid.id.trustDomain, { x509Authorities: bundle }));
    }
    this.ctx = { svids: svids.map((s) => s.svid), bundles };
    this.revoked = false;
    this.updated();
  }
}
