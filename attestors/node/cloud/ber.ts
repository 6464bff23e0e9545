/**
 * BER OCTET STRING reader for the PKCS#7 fields real signers stream. asn1-schema's
 * OctetString reads only a primitive string's bytes and yields an empty buffer for a
 * constructed (chunked) one; asn1js's getValue() flattens one level and drops nested
 * chunks. Either way a signed AWS document would come back empty or partial, so this
 * one reader does it strictly: definite and indefinite lengths, constructed strings
 * nested to any (bounded) depth, and an error for anything else, never a short value.
 */

export class BerError extends Error {}

const OCTET_STRING = 0x04;
const CONSTRUCTED = 0x20;
/** Real signers nest one level (AWS, OpenSSL, Windows); a deep nest is an attack on the stack. */
const MAX_DEPTH = 16;

interface Header { tag: number; valueStart: number; length: number | undefined }

function header(buf: Uint8Array, offset: number, limit: number): Header {
  if (offset + 2 > limit) throw new BerError(`truncated header at byte ${offset}`);
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new BerError(`multi-byte tag at byte ${offset} is not an OCTET STRING`);
  const first = buf[offset + 1];
  let p = offset + 2;
  let length = first;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0) {
      if (!(tag & CONSTRUCTED)) throw new BerError(`primitive value with indefinite length at byte ${offset}`);
      return { tag, valueStart: p, length: undefined };
    }
    if (n > 4) throw new BerError(`length of ${n} bytes at byte ${offset} is too large`);
    if (p + n > limit) throw new BerError(`truncated length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[p + i];
    p += n;
  }
  if (p + length > limit) throw new BerError(`value at byte ${offset} (${length} bytes) overruns its container`);
  return { tag, valueStart: p, length };
}

/** Reads one OCTET STRING at `offset`, appending its bytes to `out`; returns the offset after it. */
function readString(buf: Uint8Array, offset: number, limit: number, depth: number, out: Uint8Array[]): number {
  const h = header(buf, offset, limit);
  if ((h.tag & ~CONSTRUCTED) !== OCTET_STRING) {
    throw new BerError(`found tag 0x${h.tag.toString(16).padStart(2, '0')} at byte ${offset} where an OCTET STRING${depth > 0 ? ' chunk' : ''} belongs`);
  }
  if (!(h.tag & CONSTRUCTED)) {
    const end = h.valueStart + h.length!;
    out.push(buf.subarray(h.valueStart, end));
    return end;
  }
  if (depth >= MAX_DEPTH) throw new BerError(`constructed OCTET STRING nested deeper than ${MAX_DEPTH}`);
  let p = h.valueStart;
  if (h.length !== undefined) {
    const end = h.valueStart + h.length;
    while (p < end) p = readString(buf, p, end, depth + 1, out);
    return end;
  }
  for (;;) {
    if (p + 2 <= limit && buf[p] === 0 && buf[p + 1] === 0) return p + 2;
    if (p >= limit) throw new BerError(`indefinite-length OCTET STRING at byte ${offset} has no end-of-contents`);
    p = readString(buf, p, limit, depth + 1, out);
  }
}

/**
 * The contents of the OCTET STRING encoded in `bytes` (which must hold exactly that
 * one value), primitive or constructed, chunks concatenated in order.
 */
export function berOctetString(bytes: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  const end = readString(bytes, 0, bytes.length, 0, chunks);
  if (end !== bytes.length) throw new BerError(`${bytes.length - end} bytes follow the OCTET STRING`);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
