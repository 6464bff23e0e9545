import { HASHES, MAX_PCR, hashAlgByName } from './constants.ts';
import { WireError, WireReader, u16, u32, u8 } from './wire.ts';

/** One PCR bank and the PCR indices selected in it (ascending). */
export interface PcrBankSelection {
  hashAlg: number;
  pcrs: number[];
}
export type PcrSelection = PcrBankSelection[];

/**
 * Parses the tpm2-tools style spec used in config: `sha256:0,1,2-7`, banks joined by
 * `+` (`sha1:0,7+sha256:0-7`). Throws Error with a message naming the bad part.
 */
export function parsePcrSelectionSpec(spec: string): PcrSelection {
  const banks: PcrSelection = [];
  for (const part of spec.split('+')) {
    const m = /^([a-z0-9]+):([0-9,\- ]+)$/.exec(part.trim());
    if (!m) throw new Error(`"${part}" is not <bank>:<pcr list>, e.g. sha256:0,1,2-7`);
    const hashAlg = hashAlgByName(m[1]!);
    if (hashAlg === undefined) throw new Error(`unknown PCR bank "${m[1]}" (known: ${Object.values(HASHES).map((h) => h.name).join(', ')})`);
    if (banks.some((b) => b.hashAlg === hashAlg)) throw new Error(`PCR bank ${m[1]} listed twice`);
    const pcrs = new Set<number>();
    for (const item of m[2]!.split(',')) {
      const r = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
      if (!r) throw new Error(`"${item}" is not a PCR index or range`);
      const lo = Number(r[1]), hi = r[2] === undefined ? lo : Number(r[2]);
      if (lo > hi || hi > MAX_PCR) throw new Error(`PCR range "${item.trim()}" must lie within 0-${MAX_PCR}`);
      for (let i = lo; i <= hi; i++) pcrs.add(i);
    }
    banks.push({ hashAlg, pcrs: [...pcrs].sort((a, b) => a - b) });
  }
  return banks;
}

export function formatPcrSelection(sel: PcrSelection): string {
  return sel.map((b) => `${HASHES[b.hashAlg]?.name ?? `0x${b.hashAlg.toString(16)}`}:${b.pcrs.join(',')}`).join('+');
}

/** TPML_PCR_SELECTION wire bytes (3-byte bitmaps: PCRs 0-23). */
export function encodePcrSelection(sel: PcrSelection): Buffer {
  const parts: Buffer[] = [u32(sel.length)];
  for (const b of sel) {
    const bitmap = Buffer.alloc(3);
    for (const p of b.pcrs) bitmap[p >> 3]! |= 1 << (p & 7);
    parts.push(u16(b.hashAlg), u8(3), bitmap);
  }
  return Buffer.concat(parts);
}

/** Reads a TPML_PCR_SELECTION from `r` (ascending indices per bank, wire bank order). */
export function readPcrSelection(r: WireReader): PcrSelection {
  const count = r.u32();
  if (count > 16) throw new WireError(`TPML_PCR_SELECTION: ${count} banks is more than any TPM has`);
  const sel: PcrSelection = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16();
    const bitmap = r.bytes(r.u8());
    const pcrs: number[] = [];
    for (let j = 0; j < bitmap.length * 8; j++) if (bitmap[j >> 3]! & (1 << (j & 7))) pcrs.push(j);
    sel.push({ hashAlg, pcrs });
  }
  return sel;
}

export function decodePcrSelection(wire: Uint8Array): PcrSelection {
  const r = new WireReader(wire, 'TPML_PCR_SELECTION');
  const sel = readPcrSelection(r);
  r.end();
  return sel;
}
