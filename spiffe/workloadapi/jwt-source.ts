import { BundleSet } from '../bundle/set.ts';
import { SpiffeBundle } from '../bundle/spiffebundle.ts';
import type { JwtBundle, JwtBundleSource } from '../bundle/jwtbundle.ts';
import { SpiffeError } from '../errors.ts';
import { TrustDomain } from '../id.ts';
import { parseJwtSvidInsecure } from '../jwtsvid/parse.ts';
import type { JwtSvid } from '../jwtsvid/types.ts';
import type { JwtSvidParams, JwtSvidSource, UpdateNotifier } from '../source/types.ts';
import type { JwtBundlesUpdate } from './client.ts';
import { SourceBase, type SourceOptions } from './source-base.ts';
import { validatedToJwtSvid } from './validate.ts';
import { RetryingWatch } from './watch.ts';

/**
 * JWT bundles (always the latest, from a FetchJWTBundles stream) and JWT-SVIDs on
 * demand (FetchJWTSVID). Satisfies JwtSvidSource and JwtBundleSource.
 *
 *   const jwt = await JWTSource.create();
 *   const svid = await jwt.fetchJwtSvid({ audience: 'billing' });
 *   await verifyJwtSvid(token, jwt, 'billing');       // offline, against the bundles
 *   await jwt.validateJwtSvid(token, 'billing');       // online, ValidateJWTSVID
 */
export class JWTSource extends SourceBase implements JwtSvidSource, JwtBundleSource, UpdateNotifier {
  private bundleSet: BundleSet | undefined;
  private readonly watch: RetryingWatch<JwtBundlesUpdate>;

  private constructor(o: SourceOptions) {
    super(o);
    this.watch = new RetryingWatch<JwtBundlesUpdate>({
      what: 'jwt source',
      open: (w) => this.client.watchJwtBundles(w),
      onUpdate: (u) => this.apply(u),
      onError: (e) => this.reportError(e, e.code === 'ERR_WORKLOADAPI_INVALID_ARGUMENT'),
      backoff: o.backoff,
      logger: o.logger,
    });
  }

  /** Opens the bundle stream; resolves after the first JWTBundlesResponse. */
  static async create(o: SourceOptions = {}): Promise<JWTSource> {
    const s = new JWTSource(o);
    await s.ready();
    return s;
  }

  /** A fresh JWT-SVID from the agent (not cached: see createJwtTokenCache). */
  async fetchJwtSvid(p: JwtSvidParams): Promise<JwtSvid> {
    const all = await this.fetchJwtSvids(p);
    return all[0]!;
  }

  /** One JWT-SVID per identity of ours (or just `subject`). */
  async fetchJwtSvids(p: JwtSvidParams): Promise<JwtSvid[]> {
    this.checkOpen('fetchJwtSvid');
    const audience = typeof p.audience === 'string' ? [p.audience] : [...p.audience];
    const msgs = await this.client.fetchJwtSvids({ audience, spiffeId: p.subject });
    if (msgs.length === 0) throw new SpiffeError('ERR_SOURCE_NO_SVID', `no JWT-SVID${p.subject ? ` for ${p.subject}` : ''}`);
    return msgs.map((m) => parseJwtSvidInsecure(m.token, audience));
  }

  /** Online validation by the agent (ValidateJWTSVID). */
  async validateJwtSvid(token: string, audience: string): Promise<JwtSvid> {
    this.checkOpen('validateJwtSvid');
    return validatedToJwtSvid(token, await this.client.validateJwtSvid({ token, audience }));
  }

  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined {
    this.checkOpen('getJwtBundleForTrustDomain');
    return this.bundleSet?.getJwtBundleForTrustDomain(td);
  }

  protected stopWatches(): void { this.watch.close(); }

  private apply(u: JwtBundlesUpdate): void {
    const bundles: SpiffeBundle[] = [];
    for (const [tdId, jwks] of u) bundles.push(SpiffeBundle.parseJwks(TrustDomain.parse(tdId), jwks));
    // JWT bundles are for JWT validation only: drop any x509 authorities the JWKS carried.
    this.bundleSet = new BundleSet(bundles.map((b) => new SpiffeBundle(b.trustDomain, { jwtAuthorities: b.jwtAuthorities, sequence: b.sequence, refreshHint: b.refreshHint })));
    this.markReady();
    this.updates.emit();
  }
}
