import { createHash, timingSafeEqual, verify as cryptoVerify, constants, type KeyObject, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData, SignerInfo, Attribute, UnprotectedAttributes, id_signedData, id_data } from '@peculiar/asn1-cms';
import { Time, Certificate as CertificateShape } from '@peculiar/asn1-x509';
import { AttestationError } from '../../../common/errors.ts';
import { berOctetString } from './ber.ts';

/**
 * PKCS#7 / CMS SignedData verification for the AWS `rsa2048` document and the Azure
 * attested document, on @peculiar/asn1-cms (hand-written only: ber.ts, for OCTET STRINGs). Only what those
 * two producers emit is accepted: one signer, RSA PKCS#1 v1.5, SHA-256 or stronger.
 */

export interface Pkcs7 {
  /** The encapsulated (signed) content; undefined when the signature is detached. */
  content: Uint8Array | undefined;
  /** Certificates carried inside the message (DER), e.g. the Azure signer certificate. */
  certificates: Uint8Array[];
  signer: SignerInfo;
}

const OID = {
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: '1.2.840.113549.1.1.1',
};

/** Digest OIDs, plus the sha*WithRSAEncryption OIDs some signers (Azure) put in digestAlgorithm. */
const HASH_BY_OID: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const WEAK_HASH_OIDS = new Set(['1.3.14.3.2.26', '1.2.840.113549.1.1.5', '1.2.840.113549.2.5', '1.2.840.113549.1.1.4']);

const malformed = (msg: string, cause?: unknown) => new AttestationError('invalid_argument', 'ERR_PKCS7_MALFORMED', msg, { cause });

export function parsePkcs7(der: Uint8Array): Pkcs7 {
  let sd: SignedData;
  try {
    const ci = AsnConvert.parse(der, ContentInfo);
    if (ci.contentType !== id_signedData) throw malformed(`PKCS#7 content type is ${ci.contentType}, expected signedData (${id_signedData})`);
    sd = AsnConvert.parse(ci.content, SignedData);
  } catch (e) {
    if (e instanceof AttestationError) throw e;
    throw malformed(`PKCS#7 signed data does not parse: ${(e as Error).message}`, e);
  }
  if (sd.encapContentInfo.eContentType !== id_data) {
    throw malformed(`PKCS#7 encapsulated content type is ${sd.encapContentInfo.eContentType}, expected data`);
  }
  if (sd.signerInfos.length !== 1) throw malformed(`PKCS#7 has ${sd.signerInfos.length} signers, expected exactly one`);
  const content = encapsulatedContent(sd);
  const certificates: Uint8Array[] = [];
  for (const c of sd.certificates ?? []) if (c.certificate) certificates.push(new Uint8Array(AsnConvert.serialize(c.certificate)));
  return { content, certificates, signer: sd.signerInfos[0] };
}

/**
 * The signed content. Streaming signers (AWS rsa2048, `openssl cms -stream`) write it
 * as a constructed, indefinite-length OCTET STRING, which asn1-cms leaves as raw BER in
 * `any` (and would read as empty through OctetString): berOctetString reassembles it.
 * Content that is present but empty is refused here, so no caller ever hashes an
 * empty buffer in place of the document.
 */
function encapsulatedContent(sd: SignedData): Uint8Array | undefined {
  const ec = sd.encapContentInfo.eContent;
  if (!ec) return undefined;
  let content: Uint8Array;
  if (ec.single) content = new Uint8Array(ec.single.buffer);
  else if (ec.any) content = octets(ec.any, 'content');
  else throw malformed('PKCS#7 encapsulated content is present but holds no OCTET STRING');
  if (content.length === 0) throw malformed('PKCS#7 encapsulated content is present but empty');
  return content;
}

/** An OCTET STRING field's bytes, primitive or constructed BER. */
function octets(encoded: ArrayBuffer | Uint8Array, what: string): Uint8Array {
  try {
    return berOctetString(new Uint8Array(encoded));
  } catch (e) {
    throw malformed(`PKCS#7 ${what} is not a valid BER OCTET STRING: ${(e as Error).message}`, e);
  }
}

function hashOf(oid: string, what: string): string {
  if (WEAK_HASH_OIDS.has(oid)) {
    throw new AttestationError('permission_denied', 'ERR_PKCS7_WEAK_ALGORITHM', `PKCS#7 ${what} ${oid} is too weak (SHA-1/MD5); SHA-256 or stronger is required`);
  }
  const h = HASH_BY_OID[oid];
  if (!h) throw new AttestationError('invalid_argument', 'ERR_PKCS7_UNSUPPORTED_ALGORITHM', `PKCS#7 ${what} ${oid} is not supported`);
  return h;
}

function attribute(attrs: Attribute[], oid: string): ArrayBuffer | undefined {
  const found = attrs.filter((a) => a.attrType === oid);
  if (found.length > 1 || (found[0] && found[0].attrValues.length !== 1)) throw malformed(`PKCS#7 signed attribute ${oid} must appear once with one value`);
  return found[0]?.attrValues[0];
}

export interface Pkcs7Verified { signingTime?: Date }

/**
 * Checks that the one signer's RSA signature over `content` verifies with `publicKey`.
 * With signed attributes (RFC 5652 §5.4) the signature covers the DER of the
 * attributes and the messageDigest attribute must equal the content's digest.
 */
export function verifyPkcs7(p: Pkcs7, publicKey: KeyObject, content: Uint8Array): Pkcs7Verified {
  const s = p.signer;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new AttestationError('permission_denied', 'ERR_PKCS7_SIGNATURE_INVALID', `PKCS#7 verification key is ${publicKey.asymmetricKeyType}, expected RSA`);
  }
  const digestHash = hashOf(s.digestAlgorithm.algorithm, 'digest algorithm');
  const sigAlg = s.signatureAlgorithm.algorithm;
  const sigHash = sigAlg === OID.rsaEncryption ? digestHash : hashOf(sigAlg, 'signature algorithm');
  // asn1-schema reads a constructed (chunked) signature as empty: refuse it by name
  // rather than report a signature that merely failed to verify.
  if (s.signature.byteLength === 0) throw malformed('PKCS#7 signature is empty or a constructed (chunked) OCTET STRING');
  const out: Pkcs7Verified = {};
  let signed: Uint8Array = content;
  if (s.signedAttrs) {
    const ct = attribute(s.signedAttrs, OID.contentType);
    if (!ct) throw malformed('PKCS#7 signed attributes lack contentType');
    const md = attribute(s.signedAttrs, OID.messageDigest);
    if (!md) throw malformed('PKCS#7 signed attributes lack messageDigest');
    const expected = octets(md, 'messageDigest');
    const actual = createHash(digestHash).update(content).digest();
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      throw new AttestationError('permission_denied', 'ERR_PKCS7_DIGEST_MISMATCH',
        'PKCS#7 messageDigest does not match the signed content (the content was altered after signing)');
    }
    const st = attribute(s.signedAttrs, OID.signingTime);
    if (st) {
      try { out.signingTime = AsnConvert.parse(st, Time).getTime(); } catch (e) { throw malformed('PKCS#7 signingTime does not parse', e); }
    }
    signed = signedAttributesDer(s);
  }
  const ok = cryptoVerify(sigHash, signed, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, new Uint8Array(s.signature.buffer));
  if (!ok) {
    throw new AttestationError('permission_denied', 'ERR_PKCS7_SIGNATURE_INVALID',
      'PKCS#7 signature does not verify with the trusted key (signed by another key, or altered)');
  }
  return out;
}

/**
 * The signature covers the signed attributes as a DER `SET OF Attribute` (tag 0x31),
 * not as the [0] IMPLICIT field they travel in. asn1-schema 2.11 does not keep the
 * received bytes of a repeated field (signedAttrsRaw stays unset), so they are
 * re-encoded: order and every attribute value are preserved byte for byte, which
 * reproduces the input exactly for DER senders (CMS requires DER here). A non-DER
 * sender's signature fails to verify, i.e. is rejected, never wrongly accepted.
 * UnprotectedAttributes is asn1-cms's SET OF Attribute type, reused for its shape.
 */
function signedAttributesDer(s: SignerInfo): Uint8Array {
  if (s.signedAttrsRaw) {
    const raw = new Uint8Array(s.signedAttrsRaw).slice();
    raw[0] = 0x31;
    return raw;
  }
  return new Uint8Array(AsnConvert.serialize(new UnprotectedAttributes(s.signedAttrs)));
}

/**
 * The embedded certificates, each parsed once: the one that issued the signature
 * (matched by issuer+serial or key id), if present, and the others (path candidates).
 */
export function embeddedCertificates(p: Pkcs7): { signer: X509Certificate | undefined; others: X509Certificate[] } {
  const sid = p.signer.sid;
  const sidIssuerDer = sid.issuerAndSerialNumber ? Buffer.from(AsnConvert.serialize(sid.issuerAndSerialNumber.issuer)) : undefined;
  let signer: X509Certificate | undefined;
  const others: X509Certificate[] = [];
  for (const der of p.certificates) {
    let cert: X509Certificate;
    try { cert = new X509Certificate(der); } catch (e) { throw malformed('PKCS#7 carries a certificate that does not parse', e); }
    if (!signer && isSigner(cert, der, sid, sidIssuerDer)) signer = cert;
    else others.push(cert);
  }
  return { signer, others };
}

function isSigner(cert: X509Certificate, der: Uint8Array, sid: SignerInfo['sid'], sidIssuerDer: Buffer | undefined): boolean {
  if (sid.issuerAndSerialNumber) {
    const serial = Buffer.from(sid.issuerAndSerialNumber.serialNumber).toString('hex').replace(/^(00)+/, '').toUpperCase();
    const certSerial = cert.serialNumber.replace(/^(00)+/, '').toUpperCase();
    const issuerDer = Buffer.from(AsnConvert.serialize(AsnConvert.parse(der, CertificateShape).tbsCertificate.issuer));
    return serial === certSerial && issuerDer.equals(sidIssuerDer!);
  }
  if (sid.subjectKeyIdentifier) {
    const ext = AsnConvert.parse(der, CertificateShape).tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.14');
    if (!ext) return false;
    const ski = octets(ext.extnValue.buffer, 'signer certificate subjectKeyIdentifier');
    return ski.length > 0 && Buffer.from(ski).equals(Buffer.from(sid.subjectKeyIdentifier.buffer));
  }
  return false;
}
