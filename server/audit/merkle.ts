import { createHash, hash } from 'node:crypto';

/**
 * RFC 9162 §2.1 (CT v2, same hashing as RFC 6962) Merkle tree arithmetic: pure, no I/O.
 * The store keeps every complete subtree hash (level, index), so a proof is a plan of
 * node ids (read in one query) folded here; verification needs nothing but the proof.
 *
 * Tree sizes and indices are plain numbers (exact up to 2^53): no 32-bit bit operators.
 */

export const HASH_SIZE = 32;
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256 of the empty string: the root of the empty tree. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export class MerkleError extends Error {
  constructor(readonly code: 'ERR_PROOF_INVALID' | 'ERR_PROOF_RANGE', message: string) {
    super(message);
    this.name = 'MerkleError';
  }
}

// One-shot hashing (crypto.hash, Node ≥ 20.12) of one buffer, no Hash object per call: every
// issuance event hashes one leaf and, on average, one node on the event loop.

export function leafHash(data: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** The leaf hash of bytes that already begin with the 0x00 leaf prefix (events.ts leafOf encodes them so). */
export function leafHashOfPrefixed(prefixed: Uint8Array): Buffer {
  if (prefixed[0] !== 0x00) throw new TypeError('leaf input does not begin with the 0x00 leaf prefix');
  return hash('sha256', prefixed, 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right], 1 + left.length + right.length), 'buffer');
}

/** A complete subtree: leaves [index·2^level, (index+1)·2^level). Level 0 is a leaf. */
export interface NodeId { level: number; index: number }

/** One integer per node for the store's primary key (levels < 24, indices < 2^40 … 2^53 total). */
export const nodeKey = (n: NodeId): number => n.level * 2 ** 40 + n.index;
export const nodeFromKey = (k: number): NodeId => ({ level: Math.floor(k / 2 ** 40), index: k % 2 ** 40 });

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** Largest power of two strictly below n (n ≥ 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * [begin, end) as complete subtrees, left to right, largest first. Valid for the ranges
 * the RFC recursion produces: `begin` is a multiple of every power of two ≤ end-begin.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let at = begin;
  while (at < end) {
    let size = 1;
    while (size * 2 <= end - at && at % (size * 2) === 0) size *= 2;
    let level = 0;
    for (let s = size; s > 1; s /= 2) level++;
    out.push({ level, index: at / size });
    at += size;
  }
  return out;
}

/** MTH of a range from its complete subtrees (rangeNodes order): a right fold, as the RFC splits. */
export function foldRange(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  let r: Buffer = Buffer.from(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i--) r = nodeHash(hashes[i]!, r);
  return r;
}

export type Range = readonly [begin: number, end: number];

/** RFC 9162 §2.1.3.1 PATH(m, D[n]): the subtrees whose hashes form the proof, leaf to root. */
export function inclusionRanges(index: number, size: number): Range[] {
  if (!(index >= 0 && index < size)) throw new MerkleError('ERR_PROOF_RANGE', `leaf index ${index} is not below tree size ${size}`);
  const out: Range[] = [];
  const walk = (m: number, begin: number, n: number) => {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) { walk(m, begin, k); out.push([begin + k, begin + n]); } else { walk(m - k, begin + k, n - k); out.push([begin, begin + k]); }
  };
  walk(index, 0, size);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), as ranges. */
export function consistencyRanges(first: number, second: number): Range[] {
  if (!(first > 0 && first <= second)) {
    throw new MerkleError('ERR_PROOF_RANGE', `a consistency proof needs 0 < first ≤ second (got first ${first}, second ${second})`);
  }
  const out: Range[] = [];
  const sub = (m: number, begin: number, n: number, complete: boolean) => {
    if (m === n) { if (!complete) out.push([begin, begin + n]); return; }
    const k = splitPoint(n);
    if (m <= k) { sub(m, begin, k, complete); out.push([begin + k, begin + n]); } else { sub(m - k, begin + k, n - k, false); out.push([begin, begin + k]); }
  };
  sub(first, 0, second, true);
  return out;
}

/** Every node a list of ranges needs, deduplicated (what the store reads in one query). */
export function nodesOf(ranges: readonly Range[]): NodeId[] {
  const seen = new Map<number, NodeId>();
  for (const [b, e] of ranges) for (const n of rangeNodes(b, e)) seen.set(nodeKey(n), n);
  return [...seen.values()];
}

/** Assembles a proof from the ranges and a lookup of node hashes (throws on a missing node). */
export function buildProof(ranges: readonly Range[], get: (n: NodeId) => Uint8Array | undefined): Buffer[] {
  return ranges.map(([b, e]) => foldRange(rangeNodes(b, e).map((n) => {
    const h = get(n);
    if (!h) throw new MerkleError('ERR_PROOF_RANGE', `subtree (level ${n.level}, index ${n.index}) is not stored`);
    return h;
  })));
}

function checkHash(h: Uint8Array, what: string): void {
  if (h.length !== HASH_SIZE) throw new MerkleError('ERR_PROOF_INVALID', `${what} is ${h.length} bytes, not ${HASH_SIZE}`);
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to (throws when its shape is wrong). */
export function rootFromInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new MerkleError('ERR_PROOF_RANGE', `leaf index ${index} is not below tree size ${size}`);
  }
  checkHash(leaf, 'leaf hash');
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const [i, p] of proof.entries()) {
    checkHash(p, `proof[${i}]`);
    if (sn === 0) throw new MerkleError('ERR_PROOF_INVALID', `inclusion proof has ${proof.length} hashes; too many for index ${index} in size ${size}`);
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleError('ERR_PROOF_INVALID', `inclusion proof has ${proof.length} hashes; too few for index ${index} in size ${size}`);
  return r;
}

export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const got = rootFromInclusion(index, size, leaf, proof);
  if (!got.equals(root)) throw new MerkleError('ERR_PROOF_INVALID', `inclusion proof for index ${index} leads to root ${got.toString('base64')}, not ${Buffer.from(root).toString('base64')}`);
}

/** RFC 9162 §2.1.4.2: checks that the tree of size `first` with root1 is a prefix of the one of size `second` with root2. */
export function verifyConsistency(first: number, second: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) {
    throw new MerkleError('ERR_PROOF_RANGE', `a consistency proof needs first ≤ second (got ${first}, ${second})`);
  }
  if (first === 0) throw new MerkleError('ERR_PROOF_RANGE', 'a consistency proof from the empty tree proves nothing');
  if (first === second) {
    if (proof.length) throw new MerkleError('ERR_PROOF_INVALID', 'sizes are equal but the proof is not empty');
    if (!Buffer.from(root1).equals(root2)) throw new MerkleError('ERR_PROOF_INVALID', 'sizes are equal but the roots differ');
    return;
  }
  checkHash(root1, 'first root');
  checkHash(root2, 'second root');
  if (proof.length === 0) throw new MerkleError('ERR_PROOF_INVALID', 'consistency proof is empty');
  proof.forEach((p, i) => checkHash(p, `proof[${i}]`));
  const path = isPowerOfTwo(first) ? [root1, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) { fn = half(fn); sn = half(sn); }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) throw new MerkleError('ERR_PROOF_INVALID', `consistency proof from ${first} to ${second} has too many hashes`);
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleError('ERR_PROOF_INVALID', `consistency proof from ${first} to ${second} has too few hashes`);
  if (!fr.equals(root1)) throw new MerkleError('ERR_PROOF_INVALID', `consistency proof does not lead to the root of size ${first}`);
  if (!sr.equals(root2)) throw new MerkleError('ERR_PROOF_INVALID', `consistency proof does not lead to the root of size ${second}`);
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * The right edge of a growing tree (a compact range): the pending left subtree at each
 * level where the size has a one bit. Appending a leaf completes the subtrees it closes
 * (reported to `onNode`, so the store can cache them); root() folds the frontier.
 */
export class Frontier {
  /** level → hash of the complete subtree waiting for its right sibling. */
  private readonly pending = new Map<number, Buffer>();

  constructor(private count = 0, nodes?: ReadonlyMap<number, Uint8Array>) {
    if (nodes) for (const [l, h] of nodes) this.pending.set(l, Buffer.from(h));
  }

  /** The nodes a frontier of `size` leaves is made of (level → its id): what to load from the store. */
  static nodesFor(size: number): NodeId[] {
    const out: NodeId[] = [];
    for (let l = 0, s = size; s > 0; l++, s = half(s)) if (odd(s)) out.push({ level: l, index: s - 1 });
    return out;
  }

  get size(): number { return this.count; }

  append(leaf: Uint8Array, onNode?: (n: NodeId, hash: Buffer) => void): void {
    let cur: Buffer = Buffer.from(leaf);
    let level = 0;
    let idx = this.count;
    while (odd(idx)) {
      cur = nodeHash(this.pending.get(level)!, cur);
      this.pending.delete(level);
      level++;
      idx = half(idx);
      onNode?.({ level, index: idx }, cur);
    }
    this.pending.set(level, cur);
    this.count++;
  }

  root(): Buffer {
    const levels = [...this.pending.keys()].sort((a, b) => a - b);
    if (levels.length === 0) return EMPTY_ROOT;
    let r = this.pending.get(levels[0]!)!;
    for (const l of levels.slice(1)) r = nodeHash(this.pending.get(l)!, r);
    return r;
  }
}
