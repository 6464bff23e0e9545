import { createPublicKey, type KeyObject } from 'node:crypto';
import { JwtBundle, type JwtBundleSource } from '../../spiffe/bundle/jwtbundle.ts';
import { X509Bundle, type X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { CaManager } from '../ca/manager.ts';
import type { JwtAuthority } from '../datastore/types.ts';

/**
 * The trust domain's bundle as SPIFFE bundle sources, for verifying actors: the shared
 * (every server's) authorities plus our own, rebuilt only when the CA reports a bundle
 * change, not per request.
 */
export class TrustDomainBundles implements X509BundleSource, JwtBundleSource {
  private x509: X509Bundle | undefined;
  private jwt: JwtBundle | undefined;
  private readonly off: () => void;

  constructor(private readonly ca: CaManager) {
    this.off = ca.onChange(() => { this.x509 = undefined; this.jwt = undefined; });
  }

  get trustDomain(): TrustDomain { return this.ca.trustDomain; }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    if (!td.equals(this.ca.trustDomain)) return undefined;
    this.x509 ??= new X509Bundle(this.ca.trustDomain, this.ca.x509Authorities());
    return this.x509;
  }

  getJwtBundleForTrustDomain(td: TrustDomain): JwtBundle | undefined {
    if (!td.equals(this.ca.trustDomain)) return undefined;
    if (!this.jwt) {
      const keys = new Map<string, KeyObject>();
      const add = (a: JwtAuthority) => {
        if (keys.has(a.kid)) return;
        try { keys.set(a.kid, createPublicKey({ key: Buffer.from(a.publicKey), format: 'der', type: 'spki' })); } catch { /* unusable key */ }
      };
      for (const a of this.ca.bundle().jwtAuthorities) add(a);
      for (const a of this.ca.jwtAuthorities()) add(a);
      this.jwt = new JwtBundle(this.ca.trustDomain, keys);
    }
    return this.jwt;
  }

  /** X.509 authorities as PEM-ready DER list (the TLS client-CA hint). */
  x509Authorities(): Uint8Array[] { return this.ca.x509Authorities(); }

  close(): void { this.off(); }
}
