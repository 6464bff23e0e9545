/**
 * TPM wire format primitives (big-endian, TPM2B = u16 size + bytes). The agent builds
 * command parameters with them and the server parses evidence with them, so both
 * halves agree on one encoding: the TPM's own.
 */

export class WireError extends Error {
  constructor(message: string) { super(message); this.name = 'WireError'; }
}

export class WireReader {
  private off = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}

  private take(n: number): Uint8Array {
    if (this.off + n > this.buf.length) throw new WireError(`${this.what}: truncated at byte ${this.off} (need ${n} more)`);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u8(): number { return this.take(1)[0]!; }
  u16(): number { const b = this.take(2); return (b[0]! << 8) | b[1]!; }
  u32(): number { const b = this.take(4); return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0; }
  u64(): bigint { const b = this.take(8); return Buffer.from(b).readBigUInt64BE(0); }
  bytes(n: number): Uint8Array { return this.take(n); }
  tpm2b(): Uint8Array { return this.take(this.u16()); }
  get offset(): number { return this.off; }
  end(): void {
    if (this.off !== this.buf.length) throw new WireError(`${this.what}: ${this.buf.length - this.off} trailing bytes`);
  }
}

export const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
export const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
export const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
export const tpm2b = (bytes: Uint8Array): Buffer => {
  if (bytes.length > 0xffff) throw new WireError(`TPM2B payload of ${bytes.length} bytes is too large`);
  return Buffer.concat([u16(bytes.length), bytes]);
};
/** Contents of a TPM2B, rejecting trailing bytes. */
export function unwrapTpm2b(wire: Uint8Array, what: string): Uint8Array {
  const r = new WireReader(wire, what);
  const inner = r.tpm2b();
  r.end();
  return inner;
}
