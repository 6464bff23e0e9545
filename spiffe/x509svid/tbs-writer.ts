import { hash, randomFillSync } from 'node:crypto';
import { AGENT_CLAIM_KEYS, AGENT_CLAIMS_OID, type AgentClaims } from '../agent-claims.ts';
import { DerError, TAG, oid } from '../der.ts';
import { X509SvidError } from '../errors.ts';
import { OID } from './oids.ts';

/**
 * Single-allocation DER writer for the leaf TBSCertificate. The generic helpers in
 * der.ts allocate a buffer per TLV and re-encode OIDs (BigInt arithmetic for the
 * 128-bit agent-claims arc) on every call: on the issuance path that cost ~3x the
 * ECDSA signature. Here every fixed TLV is encoded once at load, lengths are
 * summed first, and the variable parts are written straight into one buffer.
 * Output is byte-identical to an ASN.1 library's (test/perf-diff/tbs-diff.test.ts).
 */

/** Bytes of a DER length field for a value of n bytes. */
export function lengthSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x100) return 2;
  if (n < 0x10000) return 3;
  if (n < 0x1000000) return 4;
  throw new DerError(`DER value of ${n} bytes is too long`);
}

/** Size of a whole TLV whose value has n bytes. */
export const tlvSize = (n: number): number => 1 + lengthSize(n) + n;

/** Writes tag and length at o; returns the offset of the value. */
export function writeHeader(buf: Buffer, o: number, tag: number, n: number): number {
  buf[o++] = tag;
  if (n < 0x80) { buf[o++] = n; return o; }
  if (n < 0x100) { buf[o++] = 0x81; buf[o++] = n; return o; }
  if (n < 0x10000) { buf[o++] = 0x82; buf[o++] = n >> 8; buf[o++] = n & 0xff; return o; }
  buf[o++] = 0x83; buf[o++] = n >> 16; buf[o++] = (n >> 8) & 0xff; buf[o++] = n & 0xff;
  return o;
}

const SAN_OID = oid(OID.subjectAltName);
const CLAIMS_OID = oid(AGENT_CLAIMS_OID);
const CRITICAL = Uint8Array.of(TAG.BOOLEAN, 1, 0xff);
/** SEQUENCE { subjectKeyIdentifier, OCTET STRING { OCTET STRING (20) } }: fixed size, SHA-1 goes last. */
const SKI_PREFIX = Buffer.concat([Uint8Array.of(TAG.SEQUENCE, 0x1d), oid(OID.subjectKeyIdentifier), Uint8Array.of(TAG.OCTET_STRING, 0x16, TAG.OCTET_STRING, 0x14)]);
/** SubjectPublicKeyInfo header of an uncompressed P-256 point (the key of nearly every CSR). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const MAX_CLAIM_BYTES = 1024;

/** The subjectPublicKey bits of P-256 SPKI DER without parsing it; undefined for other keys. */
export function p256PublicKeyBits(spki: Uint8Array): Uint8Array | undefined {
  if (spki.length !== 91 || spki[26] !== 0x04) return undefined;
  for (let i = 0; i < 26; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return undefined;
  return spki.subarray(26);
}

/** RFC 5280 4.2.1.2 method 1. */
export const sha1KeyId = (bits: Uint8Array): Buffer => hash('sha1', bits, 'buffer');

// ---------------------------------------------------------------- serials

let pool = Buffer.alloc(0);
let poolAt = 0;

/**
 * A certificate serial: 16 random octets, positive (top bit clear) and exactly 16
 * octets (first octet non-zero). Drawn from a CSPRNG pool refilled 256 serials at a
 * time (one randomFillSync costs as much as a quarter of an ECDSA signature); a pool
 * is never rewritten, so handed-out views stay valid.
 */
export function randomSerial(): Uint8Array {
  if (poolAt + 16 > pool.length) { pool = randomFillSync(Buffer.allocUnsafe(4096)); poolAt = 0; }
  const sn = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  sn[0] = (sn[0]! & 0x7f) | 0x01;
  return sn;
}

/** INTEGER value octets of an unsigned magnitude: leading zeros stripped, 0x00 added before a high bit. */
export function serialValue(m: Uint8Array): { bytes: Uint8Array; pad: boolean } {
  let i = 0;
  while (i < m.length - 1 && m[i] === 0) i++;
  const bytes = m.length === 0 ? Uint8Array.of(0) : m.subarray(i);
  return { bytes, pad: (bytes[0]! & 0x80) !== 0 };
}

// ---------------------------------------------------------------- time

/** RFC 5280 4.1.2.5 Time: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function timeSize(d: Date): number {
  const y = d.getUTCFullYear();
  if (Number.isNaN(y)) throw new DerError('invalid date');
  if (y >= 1950 && y < 2050) return 15;
  if (y < 0 || y > 9999) throw new DerError(`year ${y} cannot be encoded`);
  return 17;
}

function digits(buf: Buffer, o: number, v: number, width: number): number {
  for (let i = width - 1; i >= 0; i--) { buf[o + i] = 0x30 + (v % 10); v = Math.floor(v / 10); }
  return o + width;
}

export function writeTime(buf: Buffer, o: number, d: Date): number {
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) { buf[o++] = TAG.UTC_TIME; buf[o++] = 13; o = digits(buf, o, y % 100, 2); }
  else { buf[o++] = TAG.GENERALIZED_TIME; buf[o++] = 15; o = digits(buf, o, y, 4); }
  o = digits(buf, o, d.getUTCMonth() + 1, 2);
  o = digits(buf, o, d.getUTCDate(), 2);
  o = digits(buf, o, d.getUTCHours(), 2);
  o = digits(buf, o, d.getUTCMinutes(), 2);
  o = digits(buf, o, d.getUTCSeconds(), 2);
  buf[o++] = 0x5a; // 'Z'
  return o;
}

// ---------------------------------------------------------------- extensions

/** A GeneralName to write: tag and octets (string names are written as latin1). */
export interface NamePart { tag: number; text?: string; bytes?: Uint8Array; size: number }

/** Extension SEQUENCE content size: OID, optional critical flag, OCTET STRING holding `inner` bytes. */
const extValueSize = (oidSize: number, critical: boolean, inner: number): number => oidSize + (critical ? 3 : 0) + tlvSize(inner);

function namesSize(names: NamePart[]): number {
  let n = 0;
  for (const x of names) n += tlvSize(x.size);
  return n;
}

/** Size of the whole subjectAltName Extension TLV. */
export const sanExtensionSize = (names: NamePart[], critical: boolean): number =>
  tlvSize(extValueSize(SAN_OID.length, critical, tlvSize(namesSize(names))));

export function writeSanExtension(buf: Buffer, o: number, names: NamePart[], critical: boolean): number {
  const inner = namesSize(names);
  const seqSize = tlvSize(inner);
  o = writeHeader(buf, o, TAG.SEQUENCE, extValueSize(SAN_OID.length, critical, seqSize));
  buf.set(SAN_OID, o); o += SAN_OID.length;
  if (critical) { buf.set(CRITICAL, o); o += 3; }
  o = writeHeader(buf, o, TAG.OCTET_STRING, seqSize);
  o = writeHeader(buf, o, TAG.SEQUENCE, inner);
  for (const n of names) {
    o = writeHeader(buf, o, n.tag, n.size);
    if (n.text !== undefined) o += buf.write(n.text, o, 'latin1');
    else { buf.set(n.bytes!, o); o += n.size; }
  }
  return o;
}

export const SKI_EXTENSION_SIZE = SKI_PREFIX.length + 20;

export function writeSkiExtension(buf: Buffer, o: number, keyId: Uint8Array): number {
  buf.set(SKI_PREFIX, o); o += SKI_PREFIX.length;
  buf.set(keyId, o);
  return o + 20;
}

/** Claim values in tag order ([n] = AGENT_CLAIM_KEYS[n]) with their UTF-8 sizes; empty strings are left out (cleanAgentClaims). */
export interface ClaimFields { tags: number[]; values: string[]; sizes: number[]; inner: number }

export function claimFields(c: AgentClaims): ClaimFields {
  const f: ClaimFields = { tags: [], values: [], sizes: [], inner: 0 };
  for (let n = 0; n < AGENT_CLAIM_KEYS.length; n++) {
    const k = AGENT_CLAIM_KEYS[n]!;
    const v = (c as Record<string, unknown>)[k];
    if (typeof v !== 'string' || v.length === 0) continue;
    const size = Buffer.byteLength(v, 'utf8');
    if (size > MAX_CLAIM_BYTES) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', `agent claim ${k} exceeds ${MAX_CLAIM_BYTES} bytes`);
    }
    f.tags.push(0x80 | n); f.values.push(v); f.sizes.push(size); f.inner += tlvSize(size);
  }
  return f;
}

export const claimsExtensionSize = (f: ClaimFields): number => tlvSize(extValueSize(CLAIMS_OID.length, false, tlvSize(f.inner)));

export function writeClaimsExtension(buf: Buffer, o: number, f: ClaimFields): number {
  const seqSize = tlvSize(f.inner);
  o = writeHeader(buf, o, TAG.SEQUENCE, extValueSize(CLAIMS_OID.length, false, seqSize));
  buf.set(CLAIMS_OID, o); o += CLAIMS_OID.length;
  o = writeHeader(buf, o, TAG.OCTET_STRING, seqSize);
  o = writeHeader(buf, o, TAG.SEQUENCE, f.inner);
  for (let i = 0; i < f.tags.length; i++) {
    o = writeHeader(buf, o, f.tags[i]!, f.sizes[i]!);
    o += buf.write(f.values[i]!, o, 'utf8');
  }
  return o;
}
