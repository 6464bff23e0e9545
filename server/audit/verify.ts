import { NoteError, openCheckpoint, parseVerifierKey, type NoteVerifier } from './checkpoint.ts';
import { EXPORT_FORMAT, EXPORT_VERSION } from './export.ts';
import { consistencyRanges, foldRange, HASH_SIZE, leafHash, MerkleError, nodeHash, rangeNodes, splitPoint, verifyConsistency, type NodeId, type Range } from './merkle.ts';

/**
 * The offline verifier (tessera-audit verify): recomputes the whole tree from an export's
 * leaf bytes and checks it against the signed checkpoints, trusting nothing but the
 * verifier keys it is given. No server, no database.
 *
 * When a checkpoint's root disagrees, the first bad leaf is found by walking down from
 * that authentic root: the export's stored subtree hashes are accepted at each step only
 * when they hash to the already-authenticated parent, so a forged hint is never
 * believed. Where the stored hashes were forged too, the walk stops and the index is a
 * lower bound ("at or after", `exact: false`).
 */
export interface Problem {
  /** The first leaf affected, when one can be named. */
  index?: number;
  exact: boolean;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  origin: string;
  /** Leaves in the export. */
  leaves: number;
  checkpoints: number;
  /** Largest tree size covered by a verified checkpoint. */
  verifiedSize: number;
  /** Leaves after the last verified checkpoint (not yet covered: reported, not a failure). */
  uncovered: number;
  firstBadIndex?: number;
  problems: Problem[];
}

interface ExportData {
  origin: string;
  verifierKey?: string;
  checkpoints: { size: number; note: string }[];
  data: (Buffer | undefined)[];
  stored: (Buffer | undefined)[];
  nodes: Map<string, Buffer>;
  problems: Problem[];
}

/** Parses export lines; structural problems (gaps, duplicates, bad lines) become problems with their index. */
export function parseExport(lines: Iterable<string>): ExportData {
  const out: ExportData = { origin: '', checkpoints: [], data: [], stored: [], nodes: new Map(), problems: [] };
  let header = false;
  let lineNo = 0;
  let expected = 0;
  for (const raw of lines) {
    lineNo++;
    if (!raw.trim()) continue;
    let o: Record<string, unknown>;
    try { o = JSON.parse(raw) as Record<string, unknown>; } catch {
      out.problems.push({ exact: false, message: `line ${lineNo} is not JSON` });
      continue;
    }
    if (!header) {
      if (o.format !== EXPORT_FORMAT || o.version !== EXPORT_VERSION) throw new Error(`not a ${EXPORT_FORMAT} version ${EXPORT_VERSION} file (line 1)`);
      header = true;
      out.origin = String(o.origin ?? '');
      out.verifierKey = typeof o.verifier_key === 'string' ? o.verifier_key : undefined;
      continue;
    }
    if (o.checkpoint && typeof o.checkpoint === 'object') {
      const c = o.checkpoint as { size?: unknown; note?: unknown };
      out.checkpoints.push({ size: Number(c.size), note: String(c.note ?? '') });
    } else if (typeof o.leaf === 'number') {
      const i = o.leaf;
      if (i !== expected) {
        out.problems.push({ index: Math.min(i, expected), exact: true, message: i > expected ? `leaves ${expected}..${i - 1} are missing` : `leaf ${i} appears again or out of order (after ${expected - 1})` });
        if (i < expected) continue;
      }
      out.data[i] = Buffer.from(String(o.data ?? ''), 'base64');
      out.stored[i] = Buffer.from(String(o.hash ?? ''), 'base64');
      expected = i + 1;
    } else if (Array.isArray(o.node) && typeof o.hash === 'string') {
      out.nodes.set(`${o.node[0]}/${o.node[1]}`, Buffer.from(o.hash, 'base64'));
    }
  }
  if (!header) throw new Error('empty export');
  return out;
}

/** Complete-subtree hashes computed from the leaf bytes, level by level (a missing leaf poisons its ancestors). */
class ComputedTree {
  readonly levels: (Buffer | undefined)[][] = [];
  constructor(leaves: (Buffer | undefined)[]) {
    let cur = leaves.map((d) => (d ? leafHash(d) : undefined));
    this.levels.push(cur);
    while (cur.length > 1) {
      const next: (Buffer | undefined)[] = [];
      for (let i = 0; i + 1 < cur.length; i += 2) next.push(cur[i] && cur[i + 1] ? nodeHash(cur[i]!, cur[i + 1]!) : undefined);
      this.levels.push(next);
      cur = next;
    }
  }
  node(n: NodeId): Buffer | undefined { return this.levels[n.level]?.[n.index]; }
}

function rangeHash([b, e]: Range, get: (n: NodeId) => Buffer | undefined): Buffer | undefined {
  const hs: Buffer[] = [];
  for (const n of rangeNodes(b, e)) {
    const h = get(n);
    if (!h || h.length !== HASH_SIZE) return undefined;
    hs.push(h);
  }
  return foldRange(hs);
}

export function verifyExport(lines: Iterable<string>, keys: readonly NoteVerifier[], o: { origin?: string; checkpoints?: string[] } = {}): VerifyReport {
  const x = parseExport(lines);
  // Checkpoints kept outside the database (a witness, an operator's copy of /audit/checkpoint):
  // they catch a log truncated together with its checkpoint table.
  for (const note of o.checkpoints ?? []) x.checkpoints.push({ size: Number(note.split('\n')[1]), note });
  const origin = o.origin ?? x.origin;
  const problems = [...x.problems];
  const n = x.data.length;
  const tree = new ComputedTree(x.data);
  const stored = (id: NodeId) => (id.level === 0 ? x.stored[id.index] : x.nodes.get(`${id.level}/${id.index}`));
  const computed = (id: NodeId) => tree.node(id);

  for (let i = 0; i < n; i++) {
    const d = x.data[i];
    if (d && x.stored[i] && !leafHash(d).equals(x.stored[i]!)) problems.push({ index: i, exact: true, message: `leaf ${i}: its bytes do not hash to the leaf hash stored beside them` });
  }

  /** The first leaf in [b, e) whose computed hash disagrees with the authentic hash `h` of that range. */
  const locate = (r: Range, h: Buffer): { index: number; exact: boolean } | undefined => {
    const [b, e] = r;
    const c = rangeHash(r, computed);
    if (c?.equals(h)) return undefined;
    if (e - b === 1) return { index: b, exact: true };
    const k = splitPoint(e - b);
    const L: Range = [b, b + k];
    const R: Range = [b + k, e];
    const sl = rangeHash(L, stored);
    const sr = rangeHash(R, stored);
    if (sl && sr && nodeHash(sl, sr).equals(h)) {
      const cl = rangeHash(L, computed);
      return cl?.equals(sl) ? locate(R, sr) : locate(L, sl);
    }
    if (e - b === 2) {
      // The stored pair is forged too. A record moved elsewhere (reordering) still has its
      // true hash somewhere in the export: if the left leaf pairs with one of them, it is good.
      const cl = rangeHash(L, computed);
      if (cl) for (const cand of [...x.stored, ...tree.levels[0]!]) if (cand && nodeHash(cl, cand).equals(h)) return { index: b + 1, exact: true };
    }
    return { index: b, exact: false };
  };

  const sorted = [...x.checkpoints].sort((a, b) => a.size - b.size);
  let verifiedSize = 0;
  let lastGood: { size: number; root: Buffer } | undefined;
  for (const cp of sorted) {
    let root: Buffer;
    try {
      const opened = openCheckpoint(cp.note, keys, origin);
      if (opened.size !== cp.size) throw new NoteError('ERR_CHECKPOINT_FORMAT', `the note is for size ${opened.size}, listed as ${cp.size}`);
      root = opened.root;
    } catch (e) {
      problems.push({ index: lastGood?.size ?? 0, exact: false, message: `checkpoint of size ${cp.size}: ${(e as Error).message}` });
      continue;
    }
    if (cp.size > n) {
      problems.push({ index: n, exact: true, message: `checkpoint of size ${cp.size} is signed but the export has only ${n} leaves: leaves ${n}..${cp.size - 1} are missing` });
      continue;
    }
    const got = rangeHash([0, cp.size], computed);
    if (!got?.equals(root)) {
      const at = cp.size === 0 ? undefined : locate([0, cp.size], root);
      problems.push({ index: at?.index, exact: at?.exact ?? false, message: `the leaves do not hash to the signed root of checkpoint ${cp.size}` });
      continue;
    }
    if (lastGood && lastGood.size > 0 && lastGood.size < cp.size) {
      // The proof a monitor would be served, built from the recomputed tree, against both signed roots.
      try {
        const proof = consistencyRanges(lastGood.size, cp.size).map((r) => rangeHash(r, computed)!);
        verifyConsistency(lastGood.size, cp.size, proof, lastGood.root, root);
      } catch (e) {
        if (!(e instanceof MerkleError)) throw e;
        problems.push({ index: lastGood.size, exact: false, message: `checkpoints ${lastGood.size} and ${cp.size} are inconsistent: ${e.message}` });
      }
    }
    lastGood = { size: cp.size, root };
    verifiedSize = Math.max(verifiedSize, cp.size);
  }
  if (sorted.length === 0 && n > 0) problems.push({ exact: false, message: 'the export has no checkpoint: nothing is signed' });

  // A definite finding (a missing, duplicated or mismatching leaf) names the index; a walk
  // stopped by forged hints only bounds it, so exact findings win.
  const exact = problems.filter((p) => p.index !== undefined && p.exact);
  const indexed = exact.length ? exact : problems.filter((p) => p.index !== undefined);
  const first = indexed.length ? indexed.reduce((a, b) => (a.index! <= b.index! ? a : b)) : undefined;
  return {
    ok: problems.length === 0, origin, leaves: n, checkpoints: sorted.length, verifiedSize,
    uncovered: Math.max(0, n - verifiedSize), firstBadIndex: first?.index, problems,
  };
}

/** Verifier keys from text: one "<name>+<id>+<key>" per line (blank lines and # comments skipped). */
export function parseKeyList(text: string): NoteVerifier[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map(parseVerifierKey);
}
