import { concatDer, DerError, splitDerCertificates } from '../der.ts';
import { BundleError } from '../errors.ts';
import type { TrustDomain } from '../id.ts';

/** The X.509 authorities (CA certificates, DER) of one trust domain. X.509 validation only. */
export class X509Bundle {
  readonly trustDomain: TrustDomain;
  readonly authorities: Uint8Array[];

  constructor(td: TrustDomain, authorities: Uint8Array[]) {
    this.trustDomain = td;
    this.authorities = [...authorities];
  }

  /** From concatenated DER (Workload API X509BundlesResponse values, X509SVID.bundle). */
  static parseDer(td: TrustDomain, der: Uint8Array): X509Bundle {
    try {
      return new X509Bundle(td, splitDerCertificates(der));
    } catch (err) {
      if (err instanceof DerError) throw new BundleError('ERR_BUNDLE_INVALID', `X.509 bundle for ${td} is not concatenated DER: ${err.message}`, { cause: err });
      throw err;
    }
  }

  toDer(): Uint8Array { return concatDer(this.authorities); }

  hasAuthority(der: Uint8Array): boolean {
    return this.authorities.some((a) => Buffer.compare(a, der) === 0);
  }
}

export interface X509BundleSource {
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined;
}
