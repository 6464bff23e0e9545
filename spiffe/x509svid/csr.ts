import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  DerError, TAG, bitString, bytesOf, children, ctx, decodeBoolean, decodeOid, decodeSmallInteger, derTrue,
  expectTlv, expectWhole, octetString, oid, seq, set, tlv, valueOf, type Tlv,
} from '../der.ts';
import { X509SvidError } from '../errors.ts';
import type { SpiffeId } from '../id.ts';
import { decodeSubjectAltName } from './certificate.ts';
import { OID } from './oids.ts';
import { p256PublicKeyBits } from './tbs-writer.ts';
import {
  signWithAsync, signatureAlgorithmByOid, signatureAlgorithmForKey, verifyWith, verifyWithAsync, type SignatureAlgorithm,
} from './signature.ts';

/**
 * PKCS#10 (RFC 2986) for SVID requests. The agent proves possession of the key by
 * the CSR self-signature; the server reads only the key (and URI SANs, which it
 * may compare with what it is about to issue). Both directions are hand-encoded:
 * parseCsr sits on the server's signing path next to the leaf template.
 */

export interface ParsedCsr {
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER exactly as in the CSR: feed it to the leaf issuer without re-export. */
  spki: Uint8Array;
  uriSans: string[];
}

/** A CSR with an empty subject and, when given, the SPIFFE ID as its only (critical) URI SAN. */
export async function createCsr(privateKey: KeyObject, publicKey: KeyObject, spiffeId?: SpiffeId): Promise<Uint8Array> {
  const alg = signatureAlgorithmForKey(privateKey);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const attributes: Uint8Array[] = [];
  if (spiffeId) {
    const san = seq(oid(OID.subjectAltName), derTrue(), octetString(seq(tlv(ctx(6, false), Buffer.from(spiffeId.toString(), 'latin1')))));
    attributes.push(seq(oid(OID.extensionRequest), set(seq(san))));
  }
  const cri = seq(Uint8Array.of(TAG.INTEGER, 1, 0), seq(), spki, tlv(ctx(0, true), ...attributes));
  const sig = await signWithAsync(alg, cri, privateKey);
  return seq(cri, alg.identifier, bitString(sig));
}

interface CsrParts { cri: Uint8Array; alg: SignatureAlgorithm; signature: Uint8Array; publicKey: KeyObject; spki: Uint8Array; uriSans: string[] }

function decode(der: Uint8Array): CsrParts {
  try {
    const outer = expectWhole(der, TAG.SEQUENCE, 'CertificationRequest');
    const parts = children(der, outer);
    if (parts.length !== 3 || parts[0].tag !== TAG.SEQUENCE || parts[1].tag !== TAG.SEQUENCE || parts[2].tag !== TAG.BIT_STRING) {
      throw new DerError('CertificationRequest must be SEQUENCE { info, algorithm, BIT STRING }');
    }
    const algOidBytes = valueOf(der, expectTlv(der, parts[1].valueStart, TAG.OID, parts[1].end, 'signatureAlgorithm'));
    const algOid = sameBytes(algOidBytes, ECDSA_SHA256) ? OID.ecdsaWithSha256 : decodeOid(algOidBytes);
    const alg = signatureAlgorithmByOid(algOid);
    if (!alg) throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `CSR signature algorithm ${algOid} is not supported`);
    const sigBits = valueOf(der, parts[2]);
    if (sigBits.length < 2 || sigBits[0] !== 0) throw new DerError('signature BIT STRING has unused bits');

    const info = children(der, parts[0]);
    if (info.length !== 4 || info[1].tag !== TAG.SEQUENCE || info[2].tag !== TAG.SEQUENCE || info[3].tag !== ctx(0, true)) {
      throw new DerError('CertificationRequestInfo must be SEQUENCE { version, subject, SPKI, [0] attributes }');
    }
    if (decodeSmallInteger(der, info[0]) !== 0) throw new DerError('CSR version must be 0 (v1)');
    const spki = bytesOf(der, info[2]);
    let publicKey: KeyObject;
    try {
      publicKey = importSpki(der, info[2]);
    } catch (err) {
      throw new DerError(`CSR public key is unusable: ${(err as Error).message}`);
    }
    if (publicKey.asymmetricKeyType !== alg.keyType) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'unsupported_algorithm', `CSR key type ${publicKey.asymmetricKeyType} does not match signature algorithm ${algOid}`);
    }
    return { cri: bytesOf(der, parts[0]), alg, signature: sigBits.subarray(1), publicKey, spki, uriSans: uriSans(der, info[3]) };
  } catch (err) {
    if (err instanceof DerError) throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', `CSR is not valid: ${err.message}`, { cause: err });
    throw err;
  }
}

function uriSans(der: Uint8Array, attrs: Tlv): string[] {
  const out = { uris: [] as string[], dnsNames: [] as string[], ipAddresses: [] as Uint8Array[] };
  for (const attr of children(der, attrs)) {
    const [typeT, valuesT] = children(der, attr);
    if (!typeT || typeT.tag !== TAG.OID || !valuesT || valuesT.tag !== TAG.SET) throw new DerError('CSR attribute');
    if (!sameBytes(valueOf(der, typeT), EXTENSION_REQUEST)) continue;
    for (const exts of children(der, valuesT)) {
      for (const ext of children(der, exts)) {
        const e = children(der, ext);
        if (e.length < 2 || e[0].tag !== TAG.OID) throw new DerError('CSR extension');
        if (e.length === 3) decodeBoolean(der, e[1]);
        const value = e[e.length - 1];
        // A constructed (BER) value would be read as its chunks' raw TLVs: refuse it.
        if (value.tag !== TAG.OCTET_STRING) throw new DerError(`CSR extension value has tag 0x${value.tag.toString(16)}, not a primitive OCTET STRING`);
        if (sameBytes(valueOf(der, e[0]), SUBJECT_ALT_NAME)) {
          const san = valueOf(der, value);
          rejectConstructedNames(san);
          decodeSubjectAltName(san, out);
        }
      }
    }
  }
  return out.uris;
}

/**
 * GeneralName string choices (rfc822Name [1], dNSName [2], URI [6], iPAddress [7],
 * registeredID [8]) are primitive in DER. The SAN decoder skips tags it does not know,
 * so a BER constructed [6] would silently drop a URI SAN from the comparison with the
 * caller's ID: such a CSR is refused instead.
 */
function rejectConstructedNames(san: Uint8Array): void {
  for (const n of children(san, expectWhole(san, TAG.SEQUENCE, 'SubjectAltName'))) {
    const num = n.tag & 0x1f;
    if (n.tag === ctx(num, true) && num >= 1 && num <= 8 && num !== 3 && num !== 4 && num !== 5) {
      throw new DerError(`CSR subjectAltName entry [${num}] is constructed (BER); DER requires a primitive string`);
    }
  }
}

const oidValue = (dotted: string): Uint8Array => oid(dotted).subarray(2);
const ECDSA_SHA256 = oidValue(OID.ecdsaWithSha256);
const EXTENSION_REQUEST = oidValue(OID.extensionRequest);
const SUBJECT_ALT_NAME = oidValue(OID.subjectAltName);

/** OID value comparison without building the dotted string (decodeOid allocates per arc). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const base64url = (b: Uint8Array, at: number, n: number): string => Buffer.from(b.buffer, b.byteOffset + at, n).toString('base64url');

const JWK_CURVES = new Map([['1.2.840.10045.3.1.7', { crv: 'P-256', size: 32 }], ['1.3.132.0.34', { crv: 'P-384', size: 48 }]]);

/**
 * SPKI DER to KeyObject. Uncompressed P-256/P-384 points go through the JWK
 * importer, which builds the key directly; OpenSSL 3's generic DER decoder
 * measured about 2x slower, and key import is a third of the CSR cost.
 */
function importSpki(der: Uint8Array, spkiT: Tlv): KeyObject {
  const p256 = p256PublicKeyBits(bytesOf(der, spkiT));
  if (p256) return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: base64url(p256, 1, 32), y: base64url(p256, 33, 32) }, format: 'jwk' });
  const [algT, bitsT] = children(der, spkiT);
  if (algT?.tag === TAG.SEQUENCE && bitsT?.tag === TAG.BIT_STRING) {
    const [algOid, curveOid] = children(der, algT);
    if (algOid?.tag === TAG.OID && curveOid?.tag === TAG.OID && decodeOid(valueOf(der, algOid)) === OID.ecPublicKey) {
      const curve = JWK_CURVES.get(decodeOid(valueOf(der, curveOid)));
      const bits = valueOf(der, bitsT);
      if (curve && bits.length === 2 + 2 * curve.size && bits[0] === 0 && bits[1] === 0x04) {
        const x = Buffer.from(bits.buffer, bits.byteOffset + 2, curve.size).toString('base64url');
        const y = Buffer.from(bits.buffer, bits.byteOffset + 2 + curve.size, curve.size).toString('base64url');
        return createPublicKey({ key: { kty: 'EC', crv: curve.crv, x, y }, format: 'jwk' });
      }
    }
  }
  const spki = bytesOf(der, spkiT);
  return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
}

const badSignature = () => new X509SvidError('ERR_X509SVID_INVALID', 'bad_signature', 'CSR signature does not verify with its own public key');

/** Decodes a CSR and checks its self-signature on the calling thread. */
export function parseCsr(der: Uint8Array): ParsedCsr {
  const c = decode(der);
  let ok = false;
  try { ok = verifyWith(c.alg, c.cri, c.publicKey, c.signature); } catch { ok = false; }
  if (!ok) throw badSignature();
  return { publicKey: c.publicKey, spki: c.spki, uriSans: c.uriSans };
}

/**
 * Same checks with the signature verified on the libuv threadpool: with a batch
 * of CSRs in flight, verification spreads over every core.
 */
export async function parseCsrAsync(der: Uint8Array): Promise<ParsedCsr> {
  const c = decode(der);
  let ok = false;
  try { ok = await verifyWithAsync(c.alg, c.cri, c.publicKey, c.signature); } catch { ok = false; }
  if (!ok) throw badSignature();
  return { publicKey: c.publicKey, spki: c.spki, uriSans: c.uriSans };
}
