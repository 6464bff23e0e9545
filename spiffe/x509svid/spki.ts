import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { DerError, TAG, children, expectTlv, valueOf } from '../der.ts';
import { X509SvidError } from '../errors.ts';

/** The subjectPublicKey BIT STRING contents of SPKI DER (without the unused-bits octet). */
export function spkiPublicKeyBits(spki: Uint8Array): Uint8Array {
  try {
    const outer = expectTlv(spki, 0, TAG.SEQUENCE, spki.length, 'SubjectPublicKeyInfo');
    const parts = children(spki, outer);
    if (outer.end !== spki.length || parts.length !== 2 || parts[0].tag !== TAG.SEQUENCE || parts[1].tag !== TAG.BIT_STRING) {
      throw new DerError('SubjectPublicKeyInfo must be SEQUENCE { AlgorithmIdentifier, BIT STRING }');
    }
    const bits = valueOf(spki, parts[1]);
    if (bits.length < 2 || bits[0] !== 0) throw new DerError('subjectPublicKey has unused bits');
    return bits.subarray(1);
  } catch (err) {
    throw new X509SvidError('ERR_X509SVID_INVALID', 'invalid_parameter', `public key is not SPKI DER: ${(err as Error).message}`, { cause: err });
  }
}

/** Key identifier, RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits).digest();
}

/** True when `privateKey` is the private half of the SubjectPublicKeyInfo DER `spki`. */
export function privateKeyMatches(privateKey: KeyObject, spki: Uint8Array): boolean {
  return Buffer.compare(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), spki) === 0;
}
