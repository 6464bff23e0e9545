import { createPublicKey, type KeyObject } from 'node:crypto';
import { JwtBundle } from '../../../spiffe/bundle/jwtbundle.ts';
import { X509Bundle } from '../../../spiffe/bundle/x509bundle.ts';
import type { TrustDomain } from '../../../spiffe/id.ts';
import type { CaManager } from '../../ca/manager.ts';
import type { ForeignBundles } from '../../federation/foreign-bundles.ts';
import { TrustDomainBundles } from '../trust.ts';

/**
 * The trust domain's bundles plus the federated bundles of the trust domains named in
 * oauth.chaining.trusted_domains, for authenticating the client that redeems a
 * cross-domain grant: a workload of the home domain proves its SPIFFE ID with a
 * JWT-SVID client_assertion verified by its domain's federated JWT authorities (the
 * federation bundle store, kept current by the bundle endpoint refresher).
 *
 * Only the jwt-bearer grant uses it: every other grant keeps trusting our own trust
 * domain alone, so federation never widens who may exchange tokens here.
 */
export class ChainingBundles extends TrustDomainBundles {
  private readonly jwtCache = new Map<string, { sequence: number; bundle: JwtBundle }>();

  constructor(ca: CaManager, private readonly foreign: Pick<ForeignBundles, 'get'>, private readonly allowed: ReadonlySet<string>) {
    super(ca);
  }

  override getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    if (td.equals(this.trustDomain)) return super.getX509BundleForTrustDomain(td);
    const b = this.allowed.has(td.name) ? this.foreign.get(td.name) : undefined;
    return b && b.x509Authorities.length ? new X509Bundle(td, b.x509Authorities) : undefined;
  }

  override getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined {
    if (td.equals(this.trustDomain)) return super.getJwtBundleForTrustDomain(td);
    if (!this.allowed.has(td.name)) return undefined;
    const b = this.foreign.get(td.name);
    if (!b) return undefined;
    const hit = this.jwtCache.get(td.name);
    if (hit && hit.sequence === b.sequence) return hit.bundle;
    const keys = new Map<string, KeyObject>();
    for (const a of b.jwtAuthorities) {
      try { keys.set(a.kid, createPublicKey({ key: Buffer.from(a.publicKey), format: 'der', type: 'spki' })); } catch { /* unusable key */ }
    }
    const bundle = new JwtBundle(td, keys);
    this.jwtCache.set(td.name, { sequence: b.sequence, bundle });
    return bundle;
  }
}
