import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  buildProof, consistencyRanges, EMPTY_ROOT, Frontier, inclusionRanges, leafHash, MerkleError, nodeHash, verifyConsistency,
  verifyInclusion, type NodeId,
} from '../../server/audit/merkle.ts';

/** Published vectors (test/fixtures/ct-vectors/README.md): Tessera must agree with Go CT verifiers on each. */
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../fixtures/ct-vectors/${name}`, import.meta.url), 'utf8')) as T;
const tree = fixture<{ leafInputs: string[]; nodeHashes: string[][]; rootHashes: string[] }>('tree.json');
interface InclusionVector { file: string; leafIdx: number; treeSize: number; root: string | null; leafHash: string | null; proof: string[] | null; desc: string; wantErr: boolean }
interface ConsistencyVector { file: string; size1: number; size2: number; root1: string | null; root2: string | null; proof: string[] | null; desc: string; wantErr: boolean }
const inclusion = fixture<{ vectors: InclusionVector[] }>('inclusion.json').vectors;
const consistency = fixture<{ vectors: ConsistencyVector[] }>('consistency.json').vectors;

const b64 = (s: string | null) => Buffer.from(s ?? '', 'base64');
const hex = (s: string) => Buffer.from(s, 'hex');
const leaves = tree.leafInputs.map((x) => leafHash(hex(x)));

/** Every complete subtree of the reference tree, computed by Frontier (the store's append path). */
function storedNodes(size: number): Map<string, Buffer> {
  const f = new Frontier();
  const nodes = new Map<string, Buffer>();
  for (let i = 0; i < size; i++) {
    nodes.set(`0/${i}`, leaves[i]!);
    f.append(leaves[i]!, (n, h) => nodes.set(`${n.level}/${n.index}`, h));
  }
  return nodes;
}
const lookup = (nodes: Map<string, Buffer>) => (n: NodeId) => nodes.get(`${n.level}/${n.index}`);

test('leaf and interior hashes equal the RFC 6962 reference tree', (t) => {
  const nodes = storedNodes(8);
  tree.nodeHashes.forEach((level, l) => level.forEach((h, i) => t.is(nodes.get(`${l}/${i}`)?.toString('hex'), h, `node ${l}/${i}`)));
  t.is(nodeHash(leaves[0]!, leaves[1]!).toString('hex'), tree.nodeHashes[1]![0]);
});

test('the root of every prefix size 0..8 equals the reference roots', (t) => {
  t.is(EMPTY_ROOT.toString('hex'), tree.rootHashes[0]);
  const f = new Frontier();
  for (let n = 1; n <= 8; n++) {
    f.append(leaves[n - 1]!);
    t.is(f.root().toString('hex'), tree.rootHashes[n], `size ${n}`);
    // A frontier rebuilt from stored nodes (a restarted server) has the same root.
    const nodes = storedNodes(n);
    const rebuilt = new Frontier(n, new Map(Frontier.nodesFor(n).map((id) => [id.level, nodes.get(`${id.level}/${id.index}`)!])));
    t.is(rebuilt.root().toString('hex'), tree.rootHashes[n], `rebuilt size ${n}`);
  }
});

test('generated inclusion proofs equal the published happy-path proofs and verify for every index and size', (t) => {
  const happy = inclusion.filter((v) => !v.wantErr && v.proof);
  t.true(happy.length >= 3);
  for (const v of happy) {
    const proof = buildProof(inclusionRanges(v.leafIdx, v.treeSize), lookup(storedNodes(v.treeSize)));
    t.deepEqual(proof.map((p) => p.toString('base64')), v.proof, v.file);
  }
  for (let n = 1; n <= 8; n++) {
    for (let m = 0; m < n; m++) {
      const proof = buildProof(inclusionRanges(m, n), lookup(storedNodes(n)));
      t.notThrows(() => verifyInclusion(m, n, leaves[m]!, proof, hex(tree.rootHashes[n]!)), `${m} in ${n}`);
    }
  }
});

test('inclusion verification agrees with every published vector (accepts the good, refuses the tampered)', (t) => {
  t.true(inclusion.length > 50);
  for (const v of inclusion) {
    const run = () => verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
    if (v.wantErr) t.throws(run, { instanceOf: MerkleError }, v.file);
    else t.notThrows(run, v.file);
  }
});

test('generated consistency proofs equal the published happy-path proofs and verify for every pair of sizes', (t) => {
  const happy = consistency.filter((v) => !v.wantErr && v.size1 > 0 && v.size1 < v.size2 && v.size2 <= 8);
  t.true(happy.length >= 3);
  for (const v of happy) {
    const proof = buildProof(consistencyRanges(v.size1, v.size2), lookup(storedNodes(v.size2)));
    t.deepEqual(proof.map((p) => p.toString('base64')), v.proof, v.file);
  }
  for (let n = 1; n <= 8; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = m === n ? [] : buildProof(consistencyRanges(m, n), lookup(storedNodes(n)));
      t.notThrows(() => verifyConsistency(m, n, proof, hex(tree.rootHashes[m]!), hex(tree.rootHashes[n]!)), `${m} → ${n}`);
    }
  }
});

test('consistency verification agrees with every published vector (accepts the good, refuses the tampered)', (t) => {
  t.true(consistency.length > 50);
  for (const v of consistency) {
    const run = () => verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
    if (v.wantErr) t.throws(run, { instanceOf: MerkleError }, v.file);
    else t.notThrows(run, v.file);
  }
});

test('proofs in a large tree are O(log n) hashes and verify', (t) => {
  const n = 100_003;
  const f = new Frontier();
  const nodes = new Map<string, Buffer>();
  const leafOf = (i: number) => leafHash(Buffer.from(String(i)));
  for (let i = 0; i < n; i++) {
    const h = leafOf(i);
    if (i === 77_777 || i === 1) nodes.set(`0/${i}`, h);
    f.append(h, (id, hh) => nodes.set(`${id.level}/${id.index}`, hh));
    if (i === 49_999) nodes.set('root/50000', f.root());
  }
  // Keep level-0 hashes only where a proof needs them (memory), plus the leaves' neighbours.
  const get = (id: NodeId) => nodes.get(`${id.level}/${id.index}`) ?? (id.level === 0 ? leafOf(id.index) : undefined);
  const proof = buildProof(inclusionRanges(77_777, n), get);
  t.true(proof.length <= 17);
  t.notThrows(() => verifyInclusion(77_777, n, leafOf(77_777), proof, f.root()));
  const cproof = buildProof(consistencyRanges(50_000, n), get);
  t.true(cproof.length <= 34);
  t.notThrows(() => verifyConsistency(50_000, n, cproof, nodes.get('root/50000')!, f.root()));
  t.throws(() => verifyInclusion(77_776, n, leafOf(77_777), proof, f.root()), { instanceOf: MerkleError });
});
