import { Frontier, nodeFromKey, nodeKey, type NodeId } from '../audit/merkle.ts';
import type { Row } from './rows.ts';
import type { SqlConn } from './sql-driver.ts';

/**
 * SQL of the transparency log (docs/audit.md), shared by SQLite and PostgreSQL through
 * SqlStore. Three tables, all append-only (triggers refuse UPDATE and DELETE):
 *
 *   tlog_leaves       idx (0-based, dense), the event bytes, their leaf hash, and the
 *                     indexed columns queries filter on
 *   tlog_nodes        every complete subtree hash above the leaves, keyed by
 *                     level·2^40 + index (merkle.ts nodeKey): a proof is one IN query
 *   tlog_checkpoints  signed checkpoints (C2SP tlog-checkpoint notes) by tree size
 *
 * Appends run inside the store's serialised write transaction (PostgreSQL: the advisory
 * lock every change-log writer takes; SQLite: BEGIN IMMEDIATE), so the next index is
 * read and taken by one writer at a time across every server on the database: no fork,
 * no gap, no duplicate (and idx is the primary key should anything else try).
 */

export interface TlogLeafInput {
  data: Uint8Array;
  leafHash: Uint8Array;
  /** Unix milliseconds. */
  time: number;
  type: string;
  actor?: string;
  subject?: string;
  instance?: string;
}

export interface TlogLeaf extends TlogLeafInput { index: number }

export interface TlogCheckpoint {
  size: number;
  root: Uint8Array;
  /** The signed note, verbatim. */
  note: string;
  /** Unix milliseconds the checkpoint was made. */
  time: number;
}

export interface TlogQuery {
  type?: string;
  actor?: string;
  subject?: string;
  instance?: string;
  /** Unix ms, inclusive. */
  since?: number;
  /** Unix ms, exclusive. */
  until?: number;
  /** Only leaves with index > afterIndex (ascending order) … */
  afterIndex?: number;
  /** … or the newest first, below this index. */
  beforeIndex?: number;
  /** Default 100, at most 10 000. */
  limit?: number;
}

const LEAF_COLUMNS = ['idx', 'time', 'type', 'actor', 'subject', 'instance', 'data', 'leaf_hash'] as const;
/** Rows per multi-row INSERT (a power of two): 8 parameters each, under either engine's parameter limit. */
const LEAF_CHUNK = 256;
const NODE_CHUNK = 1024;
const IN_CHUNK = 500;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const bytes = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
/** A parameter view of bytes, without copying them (leafOf hands over Buffers already). */
const param = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));
const opt = (v: unknown): string | undefined => (v === null || v === undefined || v === '' ? undefined : String(v));

export function rowToLeaf(r: Row): TlogLeaf {
  return {
    index: num(r.idx), time: num(r.time), type: String(r.type), actor: opt(r.actor), subject: opt(r.subject),
    instance: opt(r.instance), data: bytes(r.data), leafHash: bytes(r.leaf_hash),
  };
}

export async function treeSize(c: SqlConn): Promise<number> {
  const rows = await c.all('SELECT MAX(idx) AS m FROM tlog_leaves');
  const m = rows[0]?.m;
  return m === null || m === undefined ? 0 : num(m) + 1;
}

/** Reads the hashes of the given nodes (level 0 from tlog_leaves), keyed by nodeKey. */
export async function readNodes(c: SqlConn, ids: readonly NodeId[]): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  const leaves = ids.filter((n) => n.level === 0).map((n) => n.index);
  const inner = ids.filter((n) => n.level > 0).map(nodeKey);
  for (let i = 0; i < leaves.length; i += IN_CHUNK) {
    const part = leaves.slice(i, i + IN_CHUNK);
    const rows = await c.all(`SELECT idx, leaf_hash FROM tlog_leaves WHERE idx IN (${part.map(() => '?').join(', ')})`, part);
    for (const r of rows) out.set(nodeKey({ level: 0, index: num(r.idx) }), bytes(r.leaf_hash));
  }
  for (let i = 0; i < inner.length; i += IN_CHUNK) {
    const part = inner.slice(i, i + IN_CHUNK);
    const rows = await c.all(`SELECT id, hash FROM tlog_nodes WHERE id IN (${part.map(() => '?').join(', ')})`, part);
    for (const r of rows) out.set(num(r.id), bytes(r.hash));
  }
  return out;
}

/**
 * Appends leaves at the end of the tree and caches the subtrees they complete. Must run
 * in the serialised write transaction. Returns the index of the first leaf.
 */
export async function appendLeaves(c: SqlConn, leaves: readonly TlogLeafInput[]): Promise<number> {
  const size = await treeSize(c);
  const edge = Frontier.nodesFor(size);
  const stored = await readNodes(c, edge);
  const byLevel = new Map<number, Uint8Array>();
  for (const n of edge) {
    const h = stored.get(nodeKey(n));
    if (!h) throw new Error(`transparency log: subtree (level ${n.level}, index ${n.index}) of the tree of size ${size} is missing`);
    byLevel.set(n.level, h);
  }
  const frontier = new Frontier(size, byLevel);
  const nodes: [number, Buffer][] = [];
  for (const l of leaves) frontier.append(l.leafHash, (n, h) => nodes.push([nodeKey(n), h]));

  for (const [i, n] of chunks(leaves.length, LEAF_CHUNK)) {
    await c.run(LEAF_INSERT(n), leaves.slice(i, i + n).flatMap((l, j) => [size + i + j, l.time, l.type, l.actor ?? null,
      l.subject ?? null, l.instance ?? null, param(l.data), param(l.leafHash)]));
  }
  for (const [i, n] of chunks(nodes.length, NODE_CHUNK)) await c.run(NODE_INSERT(n), nodes.slice(i, i + n).flat());
  return size;
}

/**
 * [offset, count] pieces of `total` in power-of-two counts ≤ max: drivers cache one
 * prepared statement per SQL text, so a handful of shapes serve every batch size.
 */
function* chunks(total: number, max: number): Generator<[number, number]> {
  let at = 0;
  while (at < total) {
    let n = max;
    while (n > total - at) n /= 2;
    yield [at, n];
    at += n;
  }
}

const shapes = new Map<string, string>();
const shaped = (key: string, make: () => string) => { let v = shapes.get(key); if (!v) shapes.set(key, v = make()); return v; };
const LEAF_INSERT = (n: number) => shaped(`l${n}`, () =>
  `INSERT INTO tlog_leaves (${LEAF_COLUMNS.join(', ')}) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`);
const NODE_INSERT = (n: number) => shaped(`n${n}`, () => `INSERT INTO tlog_nodes (id, hash) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')}`);

/** Leaves [from, to) in index order. */
export async function selectLeaves(c: SqlConn, from: number, to: number): Promise<TlogLeaf[]> {
  return (await c.all('SELECT * FROM tlog_leaves WHERE idx >= ? AND idx < ? ORDER BY idx', [from, to])).map(rowToLeaf);
}

export async function queryLeaves(c: SqlConn, q: TlogQuery): Promise<TlogLeaf[]> {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const eq = (col: string, v: string | undefined) => { if (v !== undefined) { clauses.push(`${col} = ?`); params.push(v); } };
  eq('type', q.type); eq('actor', q.actor); eq('subject', q.subject); eq('instance', q.instance);
  if (q.since !== undefined) { clauses.push('time >= ?'); params.push(q.since); }
  if (q.until !== undefined) { clauses.push('time < ?'); params.push(q.until); }
  if (q.afterIndex !== undefined) { clauses.push('idx > ?'); params.push(q.afterIndex); }
  if (q.beforeIndex !== undefined) { clauses.push('idx < ?'); params.push(q.beforeIndex); }
  const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), 10_000);
  const order = q.afterIndex !== undefined ? 'ASC' : 'DESC';
  const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  return (await c.all(`SELECT * FROM tlog_leaves ${where} ORDER BY idx ${order} LIMIT ${limit}`, params)).map(rowToLeaf);
}

/** Complete-subtree hashes with level ≥ 1 whose key is in [fromKey, toKey) (export). */
export async function selectNodes(c: SqlConn, level: number, fromIndex: number, toIndex: number): Promise<{ level: number; index: number; hash: Buffer }[]> {
  const rows = await c.all('SELECT id, hash FROM tlog_nodes WHERE id >= ? AND id < ? ORDER BY id',
    [nodeKey({ level, index: fromIndex }), nodeKey({ level, index: toIndex })]);
  return rows.map((r) => ({ ...nodeFromKey(num(r.id)), hash: bytes(r.hash) }));
}

/** Records a checkpoint; false when one for that size already exists (another server made it). */
export async function insertCheckpoint(c: SqlConn, cp: TlogCheckpoint): Promise<boolean> {
  return await c.run('INSERT INTO tlog_checkpoints (size, root, note, time) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING',
    [cp.size, Buffer.from(cp.root), cp.note, cp.time]) === 1;
}

const rowToCheckpoint = (r: Row): TlogCheckpoint => ({ size: num(r.size), root: bytes(r.root), note: String(r.note), time: num(r.time) });

/** The newest checkpoint at or below `maxSize` (any size when absent). */
export async function selectCheckpoint(c: SqlConn, opts: { atLeast?: number; atMost?: number } = {}): Promise<TlogCheckpoint | undefined> {
  if (opts.atLeast !== undefined) {
    const rows = await c.all('SELECT * FROM tlog_checkpoints WHERE size >= ? ORDER BY size LIMIT 1', [opts.atLeast]);
    return rows[0] ? rowToCheckpoint(rows[0]) : undefined;
  }
  const rows = opts.atMost !== undefined
    ? await c.all('SELECT * FROM tlog_checkpoints WHERE size <= ? ORDER BY size DESC LIMIT 1', [opts.atMost])
    : await c.all('SELECT * FROM tlog_checkpoints ORDER BY size DESC LIMIT 1');
  return rows[0] ? rowToCheckpoint(rows[0]) : undefined;
}

export async function selectCheckpoints(c: SqlConn, afterSize = -1, limit = 1000): Promise<TlogCheckpoint[]> {
  return (await c.all('SELECT * FROM tlog_checkpoints WHERE size > ? ORDER BY size LIMIT ?', [afterSize, limit])).map(rowToCheckpoint);
}
