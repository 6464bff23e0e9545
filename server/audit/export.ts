import type { Datastore } from '../datastore/types.ts';

/**
 * The export format (docs/audit.md "Export format"): JSON Lines, everything the offline
 * verifier needs and nothing it must trust. One header line, then every signed
 * checkpoint, every leaf (bytes and the hash stored beside them) and every stored
 * complete-subtree hash. The verifier trusts only the checkpoint signatures (by a key
 * it is given); stored hashes are hints it authenticates against them, which is how it
 * pins a tampered record to its index.
 *
 *   {"format":"tessera-audit-export","version":1,"origin":"…","verifier_key":"…","size":N}
 *   {"checkpoint":{"size":N,"time":…,"note":"…"}}
 *   {"leaf":0,"data":"<base64>","hash":"<base64>"}
 *   {"node":[1,0],"hash":"<base64>"}
 */
export const EXPORT_FORMAT = 'tessera-audit-export';
export const EXPORT_VERSION = 1;

export type ExportStore = Pick<Datastore, 'logSize' | 'logLeaves' | 'logNodes' | 'listCheckpoints'>;

const CHUNK = 1000;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Lines of the export of leaves [0, size) (size default: everything written), each ending in "\n". */
export async function* exportLines(store: ExportStore, o: { origin: string; verifierKey: string; size?: number }): AsyncGenerator<string> {
  const size = Math.min(o.size ?? Infinity, await store.logSize());
  yield JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION, origin: o.origin, verifier_key: o.verifierKey, size }) + '\n';
  for (let after = -1; ;) {
    const cps = await store.listCheckpoints(after, CHUNK);
    // Every checkpoint up to the requested size, even beyond the leaves present: a signed
    // size the leaves do not reach is evidence of truncation.
    for (const cp of cps) if (o.size === undefined || cp.size <= o.size) yield JSON.stringify({ checkpoint: { size: cp.size, time: cp.time, note: cp.note } }) + '\n';
    if (cps.length < CHUNK) break;
    after = cps[cps.length - 1]!.size;
  }
  for (let from = 0; from < size; from += CHUNK) {
    const leaves = await store.logLeaves(from, Math.min(size, from + CHUNK));
    yield leaves.map((l) => JSON.stringify({ leaf: l.index, data: b64(l.data), hash: b64(l.leafHash) }) + '\n').join('');
  }
  for (let level = 1; 2 ** level <= size; level++) {
    const count = Math.floor(size / 2 ** level);
    for (let from = 0; from < count; from += CHUNK) {
      const nodes = await store.logNodes(level, from, Math.min(count, from + CHUNK));
      yield nodes.map((n) => JSON.stringify({ node: [n.level, n.index], hash: b64(n.hash) }) + '\n').join('');
    }
  }
}
