import { BundleSet } from '../bundle/set.ts';
import { SpiffeBundle } from '../bundle/spiffebundle.ts';
import type { JwtBundle, JwtBundleSource } from '../bundle/jwtbundle.ts';
import type { X509Bundle, X509BundleSource } from '../bundle/x509bundle.ts';
import { TrustDomain } from '../id.ts';
import type { UpdateNotifier } from '../source/types.ts';
import type { JwtBundlesUpdate, X509BundlesUpdate } from './client.ts';
import { SourceBase, type SourceOptions } from './source-base.ts';
import { RetryingWatch } from './watch.ts';

/**
 * Bundles only, for validators: X.509 bundles from FetchX509Bundles and JWT bundles
 * from FetchJWTBundles, each kept for its own kind of validation (never mixed, never
 * merged across trust domains). Ready when both streams have answered once.
 */
export class BundleSource extends SourceBase implements X509BundleSource, JwtBundleSource, UpdateNotifier {
  private x509: BundleSet | undefined;
  private jwt: BundleSet | undefined;
  private readonly watches: RetryingWatch<unknown>[];

  private constructor(o: SourceOptions) {
    super(o);
    const fatal = (e: { code: string }) => e.code === 'ERR_WORKLOADAPI_INVALID_ARGUMENT';
    this.watches = [
      new RetryingWatch<X509BundlesUpdate>({
        what: 'bundle source (x509)', open: (w) => this.client.watchX509Bundles(w),
        onUpdate: (u) => {
          this.x509 = new BundleSet([...u.bundles].map(([td, certs]) => new SpiffeBundle(TrustDomain.parse(td), { x509Authorities: certs })));
          this.changed();
        },
        onError: (e) => this.reportError(e, fatal(e)), backoff: o.backoff, logger: o.logger,
      }) as RetryingWatch<unknown>,
      new RetryingWatch<JwtBundlesUpdate>({
        what: 'bundle source (jwt)', open: (w) => this.client.watchJwtBundles(w),
        onUpdate: (u) => {
          this.jwt = new BundleSet([...u].map(([td, jwks]) => {
            const b = SpiffeBundle.parseJwks(TrustDomain.parse(td), jwks);
            return new SpiffeBundle(b.trustDomain, { jwtAuthorities: b.jwtAuthorities, sequence: b.sequence, refreshHint: b.refreshHint });
          }));
          this.changed();
        },
        onError: (e) => this.reportError(e, fatal(e)), backoff: o.backoff, logger: o.logger,
      }) as RetryingWatch<unknown>,
    ];
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

  protected stopWatches(): void { for (const w of this.watches) w.close(); }

  private changed(): void {
    if (this.x509 && this.jwt) this.markReady();
    this.updates.emit();
  }
}
