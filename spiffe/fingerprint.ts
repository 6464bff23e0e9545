import { createHash } from 'node:crypto';
import { BundleError } from './errors.ts';

/**
 * SHA-256 fingerprints of CA certificates: what a server prints and an agent pins for
 * its first contact. One function on both sides, so the two can never disagree.
 * Parsing accepts the forms operators copy around: "sha256:<hex>", plain hex, or colon-separated hex
 * (openssl's output); normalised to 64 lowercase hex characters.
 */
export function parseFingerprint(input: string): string {
  const hex = input.trim().replace(/^sha-?256[:=]/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new BundleError('ERR_BUNDLE_INVALID', `"${input}" is not a SHA-256 fingerprint (want 64 hex characters, optionally "sha256:" prefixed or colon-separated)`);
  return hex;
}

/** SHA-256 (lowercase hex) of a certificate's DER. */
export function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
