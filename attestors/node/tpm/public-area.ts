import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ALG, ECC_CURVES, HASHES } from './constants.ts';
import { WireError, WireReader, u16, unwrapTpm2b } from './wire.ts';

/** A parsed TPMT_PUBLIC (RSA or ECC key), with the key as a KeyObject and its TPM name. */
export interface PublicArea {
  type: 'rsa' | 'ecc';
  nameAlg: number;
  /** TPMA_OBJECT bits. */
  attributes: number;
  authPolicy: Uint8Array;
  /** Absent when the object has TPM_ALG_NULL (no symmetric/scheme). */
  symmetric?: { alg: number; keyBits: number; mode: number };
  scheme?: { alg: number; hash?: number };
  rsa?: { keyBits: number; exponent: number; modulus: Uint8Array };
  ecc?: { curve: number; kdf?: { alg: number; hash: number }; x: Uint8Array; y: Uint8Array };
  publicKey: KeyObject;
  /** The marshalled TPMT_PUBLIC: what the object's name is a hash of. */
  tpmtPublic: Uint8Array;
  /** TPM name: nameAlg (u16) || H_nameAlg(TPMT_PUBLIC). */
  name: Uint8Array;
}

/** Parses a TPM2B_PUBLIC (as returned by TPM2_ReadPublic / Create / CreatePrimary). */
export function parsePublicArea(tpm2bPublic: Uint8Array, what = 'TPM2B_PUBLIC'): PublicArea {
  const tpmtPublic = unwrapTpm2b(tpm2bPublic, what);
  const r = new WireReader(tpmtPublic, what);
  const typeAlg = r.u16();
  const nameAlg = r.u16();
  const attributes = r.u32();
  const authPolicy = r.tpm2b();
  const symAlg = r.u16();
  const symmetric = symAlg === ALG.NULL ? undefined : { alg: symAlg, keyBits: r.u16(), mode: r.u16() };
  const schemeAlg = r.u16();
  // Union members vanish on the wire: RSAES and NULL carry no hash, ECDAA adds a count.
  let scheme: PublicArea['scheme'];
  if (schemeAlg !== ALG.NULL) {
    scheme = schemeAlg === ALG.RSAES ? { alg: schemeAlg } : { alg: schemeAlg, hash: r.u16() };
    if (schemeAlg === 0x001a /* ECDAA */) r.u16();
  }
  const hash = HASHES[nameAlg];
  if (!hash) throw new WireError(`${what}: unsupported nameAlg 0x${nameAlg.toString(16)}`);

  let out: Omit<PublicArea, 'tpmtPublic' | 'name' | 'nameAlg' | 'attributes' | 'authPolicy' | 'symmetric' | 'scheme'>;
  if (typeAlg === ALG.RSA) {
    const keyBits = r.u16();
    const exponent = r.u32() || 65537; // 0 means the default exponent
    const modulus = r.tpm2b();
    const publicKey = createPublicKey({ format: 'jwk', key: { kty: 'RSA', n: b64u(modulus), e: b64u(uintBytes(exponent)) } });
    out = { type: 'rsa', rsa: { keyBits, exponent, modulus }, publicKey };
  } else if (typeAlg === ALG.ECC) {
    const curve = r.u16();
    const kdfAlg = r.u16();
    const kdf = kdfAlg === ALG.NULL ? undefined : { alg: kdfAlg, hash: r.u16() };
    const x = r.tpm2b();
    const y = r.tpm2b();
    const c = ECC_CURVES[curve];
    if (!c) throw new WireError(`${what}: unsupported ECC curve 0x${curve.toString(16)}`);
    const publicKey = createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: c.jwk, x: b64u(pad(x, c.bytes)), y: b64u(pad(y, c.bytes)) } });
    out = { type: 'ecc', ecc: { curve, kdf, x, y }, publicKey };
  } else {
    throw new WireError(`${what}: unsupported key type 0x${typeAlg.toString(16)} (want RSA or ECC)`);
  }
  r.end();
  const name = Buffer.concat([u16(nameAlg), createHash(hash.name).update(tpmtPublic).digest()]);
  return { ...out, nameAlg, attributes, authPolicy, symmetric, scheme, tpmtPublic, name };
}

/** DER SubjectPublicKeyInfo: the form the agent ID hashes and the EK certificate holds. */
export function spkiDer(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

/** Hex SHA-256 of the EK public key DER: the TPM's identity in agent IDs and selectors. */
export function ekHash(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
function uintBytes(n: number): Buffer {
  let h = n.toString(16);
  if (h.length % 2) h = '0' + h;
  return Buffer.from(h, 'hex');
}
function pad(b: Uint8Array, len: number): Buffer {
  if (b.length > len) throw new WireError(`ECC coordinate of ${b.length} bytes exceeds ${len}`);
  return Buffer.concat([Buffer.alloc(len - b.length), b]);
}
