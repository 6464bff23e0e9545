import type { BundleSet } from '../bundle/set.ts';
import type { JwtBundle, JwtBundleSource } from '../bundle/jwtbundle.ts';
import type { X509Bundle, X509BundleSource } from '../bundle/x509bundle.ts';
import type { TrustDomain } from '../id.ts';
import type { UpdateNotifier } from '../source/types.ts';
import { jwtBundleSet, x509BundleSet } from './bundle-sets.ts';
import type { JwtBundlesUpdate, X509BundlesUpdate } from './client.ts';
import { SourceBase, type SourceOptions } from './source-base.ts';

/**
 * Bundles only, for validators: X.509 bundles from FetchX509Bundles and JWT bundles
 * from FetchJWTBundles, each kept for its own kind of validation (never mixed, never
 * merged across trust domains). Ready when both streams have answered once.
 */
export class BundleSource extends SourceBase implements X509BundleSource, JwtBundleSource, UpdateNotifier {
  private x509: BundleSet | undefined;
  private jwt: BundleSet | undefined;

  private constructor(o: SourceOptions) {
    super(o);
    this.watch<X509BundlesUpdate>('bundle source (x509)', (w) => this.client.watchX509Bundles(w), (u) => {
      this.x509 = x509BundleSet(u.bundles);
      this.updated(this.jwt !== undefined);
    });
    this.watch<JwtBundlesUpdate>('bundle source (jwt)', (w) => this.client.watchJwtBundles(w), (u) => {
      this.jwt = jwtBundleSet(u);
      this.updated(this.x509 !== undefined);
    });
  }

  static async create(o: SourceOptions = {}): Promise<BundleSource> {
    const s = new BundleSource(o);
    await s.ready();
    return s;
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    this.checkOpen('getX509BundleForTrustDomain');
    return this.x509?.getX509BundleForTrustDomain(td);
  }

  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined {
    this.checkOpen('getJwtBundleForTrustDomain');
    return this.jwt?.getJwtBundleForTrustDomain(td);
  }
}
