import { createPrivateKey, createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * An independent reading of the Biscuit wire format (biscuit-auth/biscuit
 * SPECIFICATIONS.md "Format" and "Signature", schema.proto), written from the spec
 * with node:crypto only, so tests can check tokens Tessera issues without the library
 * Tessera issues them with. It decodes the protobuf envelope, checks every block's
 * Ed25519 signature over `block ‖ esig? ‖ alg_next (u32 LE) ‖ pk_next`, the external
 * signatures, and the proof (the next secret matches the last key, or the sealing
 * signature). Datalog is not evaluated: only each block's symbol table is read.
 */
export interface WireBlock {
  data: Buffer;
  nextKey: { alg: number; key: Buffer };
  signature: Buffer;
  external?: { signature: Buffer; publicKey: { alg: number; key: Buffer } };
  /** Block.symbols, the block's own strings. */
  symbols: string[];
  version?: number;
}

export interface WireBiscuit {
  rootKeyId?: number;
  blocks: WireBlock[];
  proof: { nextSecret?: Buffer; finalSignature?: Buffer };
}

type Field = { no: number; wire: number; value: bigint | Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let v = 0n; let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const no = tag >>> 3; const wire = tag & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw new Error('truncated length-delimited field');
      yield { no, wire, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) { i += 8; } else if (wire === 5) { i += 4; } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const bytesOf = (f: Field): Buffer => { if (!Buffer.isBuffer(f.value)) throw new Error(`field ${f.no} is not bytes`); return f.value; };

function publicKey(buf: Buffer): { alg: number; key: Buffer } {
  let alg: number | undefined; let key: Buffer | undefined;
  for (const f of fields(buf)) { if (f.no === 1) alg = Number(f.value); else if (f.no === 2) key = bytesOf(f); }
  if (alg === undefined || !key) throw new Error('PublicKey lacks algorithm or key');
  return { alg, key };
}

function signedBlock(buf: Buffer): WireBlock {
  let data: Buffer | undefined; let nextKey: WireBlock['nextKey'] | undefined; let signature: Buffer | undefined;
  let external: WireBlock['external'];
  for (const f of fields(buf)) {
    if (f.no === 1) data = bytesOf(f);
    else if (f.no === 2) nextKey = publicKey(bytesOf(f));
    else if (f.no === 3) signature = bytesOf(f);
    else if (f.no === 4) {
      let s: Buffer | undefined; let pk: { alg: number; key: Buffer } | undefined;
      for (const g of fields(bytesOf(f))) { if (g.no === 1) s = bytesOf(g); else if (g.no === 2) pk = publicKey(bytesOf(g)); }
      if (!s || !pk) throw new Error('ExternalSignature lacks signature or publicKey');
      external = { signature: s, publicKey: pk };
    }
  }
  if (!data || !nextKey || !signature) throw new Error('SignedBlock lacks block, nextKey or signature');
  const symbols: string[] = []; let version: number | undefined;
  for (const f of fields(data)) {
    if (f.no === 1) symbols.push(bytesOf(f).toString('utf8'));
    else if (f.no === 3) version = Number(f.value);
  }
  return { data, nextKey, signature, ...(external ? { external } : {}), symbols, ...(version !== undefined ? { version } : {}) };
}

export function decodeBiscuit(bytes: Buffer): WireBiscuit {
  let rootKeyId: number | undefined; const blocks: WireBlock[] = []; const proof: WireBiscuit['proof'] = {};
  let authority: WireBlock | undefined;
  for (const f of fields(bytes)) {
    if (f.no === 1) rootKeyId = Number(f.value);
    else if (f.no === 2) authority = signedBlock(bytesOf(f));
    else if (f.no === 3) blocks.push(signedBlock(bytesOf(f)));
    else if (f.no === 4) {
      for (const g of fields(bytesOf(f))) { if (g.no === 1) proof.nextSecret = bytesOf(g); else if (g.no === 2) proof.finalSignature = bytesOf(g); }
    }
  }
  if (!authority) throw new Error('Biscuit lacks its authority block');
  return { ...(rootKeyId !== undefined ? { rootKeyId } : {}), blocks: [authority, ...blocks], proof };
}

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
export const ed25519Public = (raw: Buffer): KeyObject => createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' });

const u32le = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

/** Throws saying which signature failed; returns the revocation ids (each block's signature, hex). */
export function verifyBiscuitWire(bytes: Buffer, rootPublicKey: Buffer): string[] {
  const t = decodeBiscuit(bytes);
  let key = { alg: 0, key: rootPublicKey };
  t.blocks.forEach((b, i) => {
    if (key.alg !== 0 || key.key.length !== 32) throw new Error(`block ${i}: key algorithm ${key.alg} is not Ed25519`);
    if (b.signature.length !== 64) throw new Error(`block ${i}: signature is ${b.signature.length} bytes, not 64`);
    const payload = Buffer.concat([b.data, ...(b.external ? [b.external.signature] : []), u32le(b.nextKey.alg), b.nextKey.key]);
    if (!verify(null, payload, ed25519Public(key.key), b.signature)) throw new Error(`block ${i}: signature does not verify`);
    if (b.external) {
      if (i === 0) throw new Error('the authority block carries an external signature');
      const ext = Buffer.concat([b.data, u32le(key.alg), key.key]);
      if (!verify(null, ext, ed25519Public(b.external.publicKey.key), b.external.signature)) throw new Error(`block ${i}: external signature does not verify`);
    }
    key = b.nextKey;
  });
  const last = t.blocks[t.blocks.length - 1]!;
  if (t.proof.nextSecret) {
    const derived = createPublicKey(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, t.proof.nextSecret]), format: 'der', type: 'pkcs8' }))
      .export({ format: 'der', type: 'spki' }).subarray(-32);
    if (!derived.equals(last.nextKey.key)) throw new Error('proof: the next secret does not match the last block\'s next key');
  } else if (t.proof.finalSignature) {
    const payload = Buffer.concat([last.data, u32le(last.nextKey.alg), last.nextKey.key, last.signature]);
    if (!verify(null, payload, ed25519Public(last.nextKey.key), t.proof.finalSignature)) throw new Error('proof: the sealing signature does not verify');
  } else throw new Error('proof is empty');
  return t.blocks.map((b) => b.signature.toString('hex'));
}
