import { sign, verify, type KeyObject } from 'node:crypto';
import { derNull, oid, seq } from '../der.ts';
import { X509SvidError } from '../errors.ts';
import { OID } from './oids.ts';

/**
 * The signature algorithm a key signs certificates and CSRs with, and the
 * reverse mapping used when checking a signature. Kept to what SVID CAs use:
 * ECDSA P-256/P-384 and RSA PKCS#1 v1.5, plus Ed25519 for CSRs.
 */
export interface SignatureAlgorithm {
  /** Digest for node:crypto sign/verify; null for Ed25519. */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** DER AlgorithmIdentifier. */
  identifier: Uint8Array;
  keyType: 'ec' | 'rsa' | 'ed25519';
}

const ALG_BY_OID = new Map<string, SignatureAlgorithm>([
  [OID.ecdsaWithSha256, { hash: 'sha256', identifier: seq(oid(OID.ecdsaWithSha256)), keyType: 'ec' }],
  [OID.ecdsaWithSha384, { hash: 'sha384', identifier: seq(oid(OID.ecdsaWithSha384)), keyType: 'ec' }],
  [OID.ecdsaWithSha512, { hash: 'sha512', identifier: seq(oid(OID.ecdsaWithSha512)), keyType: 'ec' }],
  // RFC 4055: the RSA PKCS#1 v1.5 identifiers carry an explicit NULL.
  [OID.sha256WithRsa, { hash: 'sha256', identifier: seq(oid(OID.sha256WithRsa), derNull()), keyType: 'rsa' }],
  [OID.sha384WithRsa, { hash: 'sha384', identifier: seq(oid(OID.sha384WithRsa), derNull()), keyType: 'rsa' }],
  [OID.sha512WithRsa, { hash: 'sha512', identifier: seq(oid(OID.sha512WithRsa), derNull()), keyType: 'rsa' }],
  [OID.ed25519, { hash: null, identifier: seq(oid(OID.ed25519)), keyType: 'ed25519' }],
]);

export function signatureAlgorithmByOid(o: string): SignatureAlgorithm | undefined {
  return ALG_BY_OID.get(o);
}

/** The algorithm a CA or CSR key signs with: the hash follows the curve size, RSA uses SHA-256. */
export function signatureAlgorithmForKey(key: KeyObject): SignatureAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return ALG_BY_OID.get(OID.ecdsaWithSha256)!;
    if (curve === 'secp384r1') return ALG_BY_OID.get(OID.ecdsaWithSha384)!;
    if (curve === 'secp521r1') return ALG_BY_OID.get(OID.ecdsaWithSha512)!;
    throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `unsupported EC curve ${curve}`);
  }
  if (type === 'rsa') return ALG_BY_OID.get(OID.sha256WithRsa)!;
  if (type === 'ed25519') return ALG_BY_OID.get(OID.ed25519)!;
  throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `unsupported key type ${type}`);
}

export function signWith(alg: SignatureAlgorithm, data: Uint8Array, key: KeyObject): Uint8Array {
  return sign(alg.hash, data, key);
}

export function signWithAsync(alg: SignatureAlgorithm, data: Uint8Array, key: KeyObject): Promise<Uint8Array> {
  return new Promise((resolve, reject) => sign(alg.hash, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

export function verifyWith(alg: SignatureAlgorithm, data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  return verify(alg.hash, data, key, signature);
}

export function verifyWithAsync(alg: SignatureAlgorithm, data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) =>
    verify(alg.hash, data, key, signature, (err, ok) => (err ? reject(err) : resolve(ok))));
}
