import {
  DerError, TAG, bytesOf, children, ctx, decodeBoolean, decodeOid, decodeSmallInteger, decodeTime,
  expectTlv, expectWhole, readTlv, valueOf, type Tlv,
} from '../der.ts';
import { X509SvidError } from '../errors.ts';
import { KeyUsage, OID } from './oids.ts';

/**
 * A certificate read straight from DER (RFC 5280 4.1) with the extensions the
 * SVID rules look at already decoded. Byte fields are views into the input.
 */
export interface CertificateFields {
  der: Uint8Array;
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  version: number;
  serial: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** The subjectPublicKey BIT STRING contents without the unused-bits octet. */
  publicKeyBits: Uint8Array;
  extensions: Map<string, { critical: boolean; value: Uint8Array }>;
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** RFC 5280 bit numbering (KeyUsage.*); undefined when the extension is absent. */
  keyUsage?: number;
  extKeyUsage?: string[];
  uris: string[];
  dnsNames: string[];
  ipAddresses: Uint8Array[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
}

/** Extensions this code understands; any other critical extension makes a certificate unusable (RFC 5280 4.2). */
export const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectAltName,
  OID.subjectKeyIdentifier, OID.authorityKeyIdentifier,
]);

export function readCertificate(der: Uint8Array): CertificateFields {
  try {
    return read(der);
  } catch (err) {
    if (err instanceof DerError) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', `certificate is not valid DER: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function read(der: Uint8Array): CertificateFields {
  const cert = expectWhole(der, TAG.SEQUENCE, 'Certificate');
  const [tbsT, algT, sigT, ...extra] = children(der, cert);
  if (!tbsT || !algT || !sigT || extra.length) throw new DerError('Certificate must have 3 elements');
  if (tbsT.tag !== TAG.SEQUENCE || algT.tag !== TAG.SEQUENCE || sigT.tag !== TAG.BIT_STRING) throw new DerError('Certificate element types');
  const outerAlg = algorithmOid(der, algT);
  const sigBits = valueOf(der, sigT);
  if (sigBits.length < 1 || sigBits[0] !== 0) throw new DerError('signature BIT STRING has unused bits');

  const tbsParts = children(der, tbsT);
  let i = 0;
  let version = 1;
  if (tbsParts[i]?.tag === ctx(0, true)) {
    const v = readTlv(der, tbsParts[i].valueStart, tbsParts[i].end);
    version = decodeSmallInteger(der, v) + 1;
    i++;
  }
  const serialT = tbsParts[i++];
  const innerAlgT = tbsParts[i++];
  const issuerT = tbsParts[i++];
  const validityT = tbsParts[i++];
  const subjectT = tbsParts[i++];
  const spkiT = tbsParts[i++];
  if (!spkiT) throw new DerError('TBSCertificate is truncated');
  if (serialT.tag !== TAG.INTEGER || innerAlgT.tag !== TAG.SEQUENCE || issuerT.tag !== TAG.SEQUENCE
    || validityT.tag !== TAG.SEQUENCE || subjectT.tag !== TAG.SEQUENCE || spkiT.tag !== TAG.SEQUENCE) {
    throw new DerError('TBSCertificate element types');
  }
  // RFC 5280 4.1.1.2: the two signature algorithm fields must be identical.
  if (Buffer.compare(bytesOf(der, innerAlgT), bytesOf(der, algT)) !== 0) throw new DerError('signature algorithm mismatch between TBS and Certificate');
  const [nbT, naT] = children(der, validityT);
  if (!nbT || !naT) throw new DerError('Validity must have 2 elements');
  const spkiParts = children(der, spkiT);
  if (spkiParts.length !== 2 || spkiParts[1].tag !== TAG.BIT_STRING) throw new DerError('SubjectPublicKeyInfo');
  const keyBits = valueOf(der, spkiParts[1]);
  if (keyBits.length < 1 || keyBits[0] !== 0) throw new DerError('subjectPublicKey has unused bits');

  const fields: CertificateFields = {
    der,
    tbs: bytesOf(der, tbsT),
    signatureAlgorithm: outerAlg,
    signature: sigBits.subarray(1),
    version,
    serial: valueOf(der, serialT),
    issuer: bytesOf(der, issuerT),
    subject: bytesOf(der, subjectT),
    notBefore: decodeTime(der, nbT),
    notAfter: decodeTime(der, naT),
    spki: bytesOf(der, spkiT),
    publicKeyBits: keyBits.subarray(1),
    extensions: new Map(),
    uris: [],
    dnsNames: [],
    ipAddresses: [],
  };

  for (; i < tbsParts.length; i++) {
    const t = tbsParts[i];
    if (t.tag === ctx(1, false) || t.tag === ctx(2, false)) continue; // unique IDs (v2), unused here
    if (t.tag !== ctx(3, true)) throw new DerError(`unexpected TBSCertificate element 0x${t.tag.toString(16)}`);
    if (version !== 3) throw new DerError('extensions require a v3 certificate');
    const list = expectTlv(der, t.valueStart, TAG.SEQUENCE, t.end, 'Extensions');
    for (const e of children(der, list)) readExtension(der, e, fields);
  }
  return fields;
}

function algorithmOid(der: Uint8Array, alg: Tlv): string {
  const o = expectTlv(der, alg.valueStart, TAG.OID, alg.end, 'AlgorithmIdentifier');
  return decodeOid(valueOf(der, o));
}

function readExtension(der: Uint8Array, e: Tlv, f: CertificateFields): void {
  const parts = children(der, e);
  if (e.tag !== TAG.SEQUENCE || parts.length < 2 || parts.length > 3 || parts[0].tag !== TAG.OID) throw new DerError('Extension');
  const id = decodeOid(valueOf(der, parts[0]));
  let critical = false;
  if (parts.length === 3) {
    critical = decodeBoolean(der, parts[1]);
    if (!critical) throw new DerError('critical=FALSE must be omitted in DER');
  }
  const valueT = parts[parts.length - 1];
  if (valueT.tag !== TAG.OCTET_STRING) throw new DerError('extnValue must be an OCTET STRING');
  if (f.extensions.has(id)) throw new DerError(`extension ${id} appears twice`);
  const value = valueOf(der, valueT);
  f.extensions.set(id, { critical, value });
  switch (id) {
    case OID.basicConstraints: f.basicConstraints = decodeBasicConstraints(value); break;
    case OID.keyUsage: f.keyUsage = decodeKeyUsage(value); break;
    case OID.extKeyUsage: f.extKeyUsage = decodeExtKeyUsage(value); break;
    case OID.subjectAltName: decodeSubjectAltName(value, f); break;
    case OID.subjectKeyIdentifier: f.subjectKeyId = valueOf(value, expectTlv(value, 0, TAG.OCTET_STRING, value.length, 'SKI')); break;
    case OID.authorityKeyIdentifier: f.authorityKeyId = decodeAki(value); break;
    default: break;
  }
}

function decodeBasicConstraints(v: Uint8Array): { ca: boolean; pathLen?: number } {
  const parts = children(v, expectWhole(v, TAG.SEQUENCE, 'BasicConstraints'));
  let ca = false;
  let pathLen: number | undefined;
  let k = 0;
  if (parts[k]?.tag === TAG.BOOLEAN) {
    ca = decodeBoolean(v, parts[k++]);
    if (!ca) throw new DerError('cA=FALSE must be omitted in DER');
  }
  if (parts[k]?.tag === TAG.INTEGER) pathLen = decodeSmallInteger(v, parts[k++]);
  if (k !== parts.length) throw new DerError('BasicConstraints has unexpected elements');
  return pathLen === undefined ? { ca } : { ca, pathLen };
}

function decodeKeyUsage(v: Uint8Array): number {
  const bits = valueOf(v, expectWhole(v, TAG.BIT_STRING, 'KeyUsage'));
  if (bits.length < 1 || bits[0] > 7) throw new DerError('KeyUsage BIT STRING');
  let flags = 0;
  for (let byte = 1; byte < bits.length && byte <= 2; byte++) {
    for (let b = 0; b < 8; b++) if (bits[byte] & (0x80 >> b)) flags |= 1 << ((byte - 1) * 8 + b);
  }
  return flags;
}

function decodeExtKeyUsage(v: Uint8Array): string[] {
  return children(v, expectWhole(v, TAG.SEQUENCE, 'ExtKeyUsage')).map((t) => {
    if (t.tag !== TAG.OID) throw new DerError('ExtKeyUsage element is not an OID');
    return decodeOid(valueOf(v, t));
  });
}

/** GeneralNames of a SubjectAltName extnValue: URIs, DNS names and IP octets (others skipped). */
export function decodeSubjectAltName(v: Uint8Array, f: { uris: string[]; dnsNames: string[]; ipAddresses: Uint8Array[] }): void {
  for (const t of children(v, expectWhole(v, TAG.SEQUENCE, 'SubjectAltName'))) {
    const s = valueOf(v, t);
    if (t.tag === ctx(6, false)) f.uris.push(ascii(s, 'URI SAN'));
    else if (t.tag === ctx(2, false)) f.dnsNames.push(ascii(s, 'DNS SAN'));
    else if (t.tag === ctx(7, false)) f.ipAddresses.push(s);
  }
}

function decodeAki(v: Uint8Array): Uint8Array | undefined {
  for (const t of children(v, expectWhole(v, TAG.SEQUENCE, 'AuthorityKeyIdentifier'))) {
    if (t.tag === ctx(0, false)) return valueOf(v, t);
  }
  return undefined;
}

function ascii(b: Uint8Array, what: string): string {
  for (const c of b) if (c > 0x7e || c < 0x20) throw new DerError(`${what} has a non-printable or non-ASCII byte`);
  return Buffer.from(b).toString('latin1');
}

export const hasKeyUsage = (f: CertificateFields, bit: number): boolean => f.keyUsage !== undefined && (f.keyUsage & bit) !== 0;
export { KeyUsage };
