import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { SpiffeError } from '../errors.ts';
import { certificatesToPem } from '../pem.ts';
import type { X509SvidSource } from '../source/types.ts';
import type { X509Svid } from '../x509svid/parse.ts';

/** key + cert options presenting this SVID (its chain without the root, as received). */
export function svidContextOptions(svid: X509Svid): SecureContextOptions {
  if (!svid.privateKey) throw new SpiffeError('ERR_SOURCE_NO_SVID', `X.509-SVID ${svid.id} has no private key`);
  return {
    key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: certificatesToPem(svid.certificates),
  };
}

// One context per SVID object: a source returns the same object until it rotates.
const contexts = new WeakMap<X509Svid, SecureContext>();

/** A client secure context for the SVID (cached per SVID object; a rotated SVID gets a fresh one). */
export function svidSecureContext(svid: X509Svid): SecureContext {
  let ctx = contexts.get(svid);
  if (!ctx) {
    ctx = createSecureContext(svidContextOptions(svid));
    contexts.set(svid, ctx);
  }
  return ctx;
}

/** Where our SVID and the peers' bundles come from. */
export interface MtlsSources {
  /** Our SVID (X509Source, StaticX509Source, ...). */
  source: X509SvidSource;
  /** Bundles to verify peers; default `source` when it is also a bundle source (X509Source is). */
  bundles?: X509BundleSource;
}

export function bundlesOf(o: MtlsSources): X509BundleSource {
  if (o.bundles) return o.bundles;
  const s = o.source as Partial<X509BundleSource>;
  if (typeof s.getX509BundleForTrustDomain === 'function') return o.source as X509SvidSource & X509BundleSource;
  throw new TypeError('mTLS: `source` is not a bundle source; pass `bundles`');
}
