import type { BundleSet } from '../bundle/set.ts';
import type { JwtBundle, JwtBundleSource } from '../bundle/jwtbundle.ts';
import { SpiffeError } from '../errors.ts';
import type { TrustDomain } from '../id.ts';
import { parseJwtSvidInsecure } from '../jwtsvid/parse.ts';
import type { JwtSvid } from '../jwtsvid/types.ts';
import type { JwtSvidParams, JwtSvidSource, UpdateNotifier } from '../source/types.ts';
import { jwtBundleSet } from './bundle-sets.ts';
import type { JwtBundlesUpdate } from './client.ts';
import { SourceBase, type SourceOptions } from './source-base.ts';
import { validatedToJwtSvid } from './validate.ts';

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

  private constructor(o: SourceOptions) {
    super(o);
    this.watch<JwtBundlesUpdate>('jwt source', (w) => this.client.watchJwtBundles(w), (u) => {
      this.bundleSet = jwtBundleSet(u);
      this.updated();
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
}
