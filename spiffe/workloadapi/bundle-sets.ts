import { BundleSet } from '../bundle/set.ts';
import { SpiffeBundle } from '../bundle/spiffebundle.ts';
import { TrustDomain } from '../id.ts';
import type { JwtBundlesUpdate } from './client.ts';

/** X.509 authorities by trust domain ID ("spiffe://td"), as one X.509-only bundle per trust domain. */
export function x509BundleSet(bundles: Map<string, Uint8Array[]>): BundleSet {
  return new BundleSet([...bundles].map(([td, certs]) => new SpiffeBundle(TrustDomain.parse(td), { x509Authorities: certs })));
}

/**
 * SPIFFE JWKS by trust domain ID, as one JWT-only bundle per trust domain: JWT
 * bundles are for JWT validation only, so any x509 authorities a JWKS carried are dropped.
 */
export function jwtBundleSet(u: JwtBundlesUpdate): BundleSet {
  return new BundleSet([...u].map(([td, jwks]) => {
    const b = SpiffeBundle.parseJwks(TrustDomain.parse(td), jwks);
    return new SpiffeBundle(b.trustDomain, { jwtAuthorities: b.jwtAuthorities, sequence: b.sequence, refreshHint: b.refreshHint });
  }));
}
