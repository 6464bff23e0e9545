import { SpiffeError } from './errors.ts';

/**
 * Minimal DER toolkit: enough to emit the fixed SVID/CSR profiles and to walk
 * certificates and CSRs without a general ASN.1 library on the hot paths.
 * Readers never copy: a `Tlv` points into the caller's buffer.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag number n, constructed or primitive. */
export const ctx = (n: number, constructed: boolean): number => (constructed ? 0xa0 : 0x80) | n;

export class DerError extends SpiffeError {
  constructor(message: string) { super('ERR_DER_INVALID', message); }
}

// ---------------------------------------------------------------- writing

function lengthBytes(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff);
  if (n < 0x1000000) return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff);
  throw new DerError(`DER value of ${n} bytes is too long`);
}

/** One TLV whose value is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = lengthBytes(len);
  const out = Buffer.allocUnsafe(1 + head.length + len);
  out[0] = tag;
  out.set(head, 1);
  let o = 1 + head.length;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SET, ...parts);
export const octetString = (v: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, v);
export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const derNull = (): Uint8Array => Uint8Array.of(TAG.NULL, 0);
export const derTrue = (): Uint8Array => Uint8Array.of(TAG.BOOLEAN, 1, 0xff);
/** BIT STRING with no unused bits (keys, signatures). */
export const bitString = (v: Uint8Array): Uint8Array => tlv(TAG.BIT_STRING, Uint8Array.of(0), v);

export function oid(dotted: string): Uint8Array {
  // BigInt arcs: UUID-derived OIDs (2.25.<128-bit integer>, ITU-T X.667) exceed 2^53.
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`"${dotted}" is not a dotted OID`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new DerError(`"${dotted}" is not a valid OID`);
  const out: number[] = [];
  const push = (v: bigint) => {
    const t = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) t.unshift(0x80 | Number(x & 0x7fn));
    out.push(...t);
  };
  push(40n * arcs[0]! + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Uint8Array.from(out));
}

/** INTEGER from unsigned big-endian magnitude (minimal, positive). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return Uint8Array.of(TAG.INTEGER, 1, 0);
  return (m[0] & 0x80) ? tlv(TAG.INTEGER, Uint8Array.of(0), m) : tlv(TAG.INTEGER, m);
}

export function smallInteger(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new DerError(`integer ${n} out of range`);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  if (Number.isNaN(y)) throw new DerError('invalid date');
  const rest = pad(d.getUTCMonth() + 1, 2) + pad(d.getUTCDate(), 2) + pad(d.getUTCHours(), 2)
    + pad(d.getUTCMinutes(), 2) + pad(d.getUTCSeconds(), 2) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad(y % 100, 2) + rest, 'latin1'));
  if (y < 0 || y > 9999) throw new DerError(`year ${y} cannot be encoded`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(pad(y, 4) + rest, 'latin1'));
}

// ---------------------------------------------------------------- reading

/** A TLV located in a buffer: value is buf[valueStart, end). */
export interface Tlv {
  tag: number;
  start: number;
  valueStart: number;
  end: number;
}

export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated DER header');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (p + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    if (buf[p] === 0 || len < 0x80) throw new DerError('non-minimal DER length');
    p += n;
  }
  const end = p + len;
  if (end > limit) throw new DerError('DER value overruns its container');
  return { tag, start: offset, valueStart: p, end };
}

/** Reads the TLV at `offset` and checks its tag. */
export function expectTlv(buf: Uint8Array, offset: number, tag: number, limit: number = buf.length, what = 'element'): Tlv {
  const t = readTlv(buf, offset, limit);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** Reads the TLV that must fill all of `buf` (a whole DER document or extnValue) and checks its tag. */
export function expectWhole(buf: Uint8Array, tag: number, what: string): Tlv {
  const t = expectTlv(buf, 0, tag, buf.length, what);
  if (t.end !== buf.length) throw new DerError(`trailing bytes after ${what}`);
  return t;
}

/** The direct children of a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.valueStart; p < parent.end;) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export const valueOf = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.valueStart, t.end);
export const bytesOf = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.start, t.end);

export function decodeOid(v: Uint8Array): string {
  if (v.length === 0) throw new DerError('empty OID');
  const arcs: (number | bigint)[] = [];
  // Number while exact (the common case, on every certificate read); BigInt past 2^46 for
  // UUID-derived arcs (2.25.<128-bit integer>).
  let acc: number | bigint = 0;
  let start = true;
  for (let i = 0; i < v.length; i++) {
    if (start && v[i] === 0x80) throw new DerError('non-minimal OID arc');
    start = false;
    if (typeof acc === 'number' && acc >= 2 ** 46) acc = BigInt(acc);
    acc = typeof acc === 'number' ? acc * 128 + (v[i]! & 0x7f) : acc * 128n + BigInt(v[i]! & 0x7f);
    if (!(v[i]! & 0x80)) {
      if (arcs.length === 0) {
        const a = Number(acc);
        if (a < 40) arcs.push(0, a); else if (a < 80) arcs.push(1, a - 40); else arcs.push(2, typeof acc === 'bigint' ? acc - 80n : a - 80);
      } else arcs.push(acc);
      acc = 0;
      start = true;
    } else if (i === v.length - 1) throw new DerError('truncated OID');
  }
  return arcs.join('.');
}

/** A Time (UTCTime or GeneralizedTime, RFC 5280 profile: seconds, Zulu). */
export function decodeTime(buf: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(valueOf(buf, t)).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else throw new DerError(`invalid time "${s}"`);
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw new DerError(`invalid time "${s}"`);
  }
  if (year < 100) back.setUTCFullYear(year);
  return back;
}

export function decodeBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.valueStart !== 1) throw new DerError('invalid BOOLEAN');
  const b = buf[t.valueStart];
  if (b !== 0 && b !== 0xff) throw new DerError('BOOLEAN is not DER (0x00 or 0xff)');
  return b === 0xff;
}

/** Non-negative INTEGER that fits a JS number. */
export function decodeSmallInteger(buf: Uint8Array, t: Tlv): number {
  const v = valueOf(buf, t);
  if (t.tag !== TAG.INTEGER || v.length === 0 || v.length > 6) throw new DerError('invalid small INTEGER');
  if (v[0] & 0x80) throw new DerError('negative INTEGER');
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

// ---------------------------------------------------------------- certificate lists

/**
 * Splits concatenated DER certificates (Workload API `x509_svid`/`bundle` fields)
 * into one buffer each. Each element must be a complete SEQUENCE.
 */
export function splitDerCertificates(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let p = 0; p < buf.length;) {
    const t = readTlv(buf, p);
    if (t.tag !== TAG.SEQUENCE) throw new DerError(`certificate at offset ${p} is not a DER SEQUENCE`);
    out.push(buf.subarray(t.start, t.end));
    p = t.end;
  }
  return out;
}

export function concatDer(list: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(list);
}
