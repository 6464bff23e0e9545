import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { optString, optStrings, runCli, UsageError, type Command, type CommandContext } from '../../common/cli.ts';
import { openCheckpoint, parseVerifierKey, type NoteVerifier } from './checkpoint.ts';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.ts';
import { parseKeyList, verifyExport, type VerifyReport } from './verify.ts';

/**
 * tessera-audit: the offline verifier (docs/audit.md "Verifying offline"). Reads an
 * export or a proof file; trusts only the verifier keys on its command line. No server,
 * no datastore. Exit 0: everything verified; 1: tampering or a bad proof (the first bad
 * index is printed); 2: usage.
 */
const KEY_OPTIONS = {
  key: { type: 'string' as const, multiple: true, value: 'VKEY', description: 'trusted verifier key "<name>+<id>+<base64>" (repeatable)' },
  'key-file': { type: 'string' as const, value: 'PATH', description: 'file of verifier keys, one per line (e.g. <data_dir>/audit-key.pub)' },
};

function keys(ctx: CommandContext): NoteVerifier[] {
  const list = optStrings(ctx.options, 'key').map(parseVerifierKey);
  const file = optString(ctx.options, 'key-file');
  if (file) list.push(...parseKeyList(readFileSync(file, 'utf8')));
  if (!list.length) throw new UsageError('a trusted key is required: --key or --key-file (the export\'s own key is never trusted)');
  return list;
}

async function readLines(path: string): Promise<string[]> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  const lines: string[] = [];
  for await (const l of createInterface({ input, crlfDelay: Infinity })) lines.push(l);
  return lines;
}

function reportText(r: VerifyReport): string {
  const head = r.ok
    ? `OK: ${r.leaves} entries; ${r.checkpoints} checkpoints verified (origin ${r.origin}); tree of size ${r.verifiedSize} matches its signed root`
    : `TAMPERED: first bad index ${r.firstBadIndex ?? 'unknown'}`;
  const tail = r.uncovered ? [`note: ${r.uncovered} entries after the last checkpoint are not covered by a signature yet`] : [];
  return [head, ...r.problems.map((p) => `  - ${p.index !== undefined ? `index ${p.exact ? '' : '≥ '}${p.index}: ` : ''}${p.message}`), ...tail].join('\n');
}

const b64 = (s: unknown) => Buffer.from(String(s ?? ''), 'base64');

export const AUDIT_VERIFY_COMMANDS: Command[] = [
  {
    name: 'verify', summary: 'verify an export (tessera-server audit export): signatures, the whole tree, consistency',
    positionals: '<EXPORT-FILE|->',
    options: {
      ...KEY_OPTIONS, origin: { type: 'string', value: 'ORIGIN', description: 'expected checkpoint origin (default: the key name)' },
      checkpoint: { type: 'string', multiple: true, value: 'FILE', description: 'a signed checkpoint kept elsewhere (e.g. saved from /audit/checkpoint): the export must reach and match it' },
    },
    details: 'Recomputes every leaf hash and the tree, checks each checkpoint\'s Ed25519 signature with the given keys and\n'
      + 'its root against the recomputed tree, and consistency between checkpoints. On a modified, deleted,\n'
      + 'inserted or reordered record it prints the first bad index and exits 1.',
    async run(ctx) {
      const path = ctx.positionals[0];
      if (!path) throw new UsageError('the export file is required (or - for stdin)');
      const ks = keys(ctx);
      const checkpoints = optStrings(ctx.options, 'checkpoint').map((f) => readFileSync(f, 'utf8'));
      const report = verifyExport(await readLines(path), ks, { origin: optString(ctx.options, 'origin') ?? ks[0]!.name, checkpoints });
      ctx.print({
        ok: report.ok, first_bad_index: report.firstBadIndex, leaves: report.leaves, checkpoints: report.checkpoints,
        verified_size: report.verifiedSize, uncovered: report.uncovered, origin: report.origin,
        problems: report.problems.map((p) => ({ index: p.index, exact: p.exact, message: p.message })),
      }, () => reportText(report));
      return report.ok ? 0 : 1;
    },
  },
  {
    name: 'verify-proof', summary: 'verify an inclusion or consistency proof (tessera-server audit prove|consistency --output json)',
    positionals: '<PROOF-FILE|->',
    options: { ...KEY_OPTIONS },
    async run(ctx) {
      const path = ctx.positionals[0];
      if (!path) throw new UsageError('the proof file is required (or - for stdin)');
      const p = JSON.parse((await readLines(path)).join('\n')) as Record<string, unknown>;
      const ks = keys(ctx);
      const cp = openCheckpoint(String(p.checkpoint ?? ''), ks, ks[0]!.name);
      if (cp.size !== Number(p.tree_size)) throw new Error(`the checkpoint is for size ${cp.size}, the proof for ${String(p.tree_size)}`);
      const hashes = (p.hashes as unknown[] ?? []).map(b64);
      if (p.from_size !== undefined && p.from_checkpoint) {
        const from = openCheckpoint(String(p.from_checkpoint), ks, ks[0]!.name);
        verifyConsistency(from.size, cp.size, hashes, from.root, cp.root);
        ctx.print({ ok: true, kind: 'consistency', from_size: from.size, tree_size: cp.size }, () => `OK: the log of size ${cp.size} extends the one of size ${from.size}`);
        return 0;
      }
      const index = Number(p.index);
      let lh: Buffer = b64(p.leaf_hash);
      if (p.leaf) {
        const computed = leafHash(b64(p.leaf));
        if (p.leaf_hash && !computed.equals(lh)) throw new Error(`the leaf bytes do not hash to leaf_hash ${String(p.leaf_hash)}`);
        lh = computed;
      }
      verifyInclusion(index, cp.size, lh, hashes, cp.root);
      ctx.print({ ok: true, kind: 'inclusion', index, tree_size: cp.size }, () => `OK: entry ${index} is in the log of size ${cp.size} signed by ${cp.verifiedBy.map((k) => k.name).join(', ')}`);
      return 0;
    },
  },
];

export async function main(argv: string[]): Promise<number> {
  return runCli('tessera-audit', AUDIT_VERIFY_COMMANDS, argv);
}
