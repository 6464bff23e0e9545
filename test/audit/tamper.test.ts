import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { AuditLog } from '../../server/audit/log.ts';
import { generateSigner, signCheckpoint, verifierKeyText, type NoteSigner } from '../../server/audit/checkpoint.ts';
import { leafOf } from '../../server/audit/events.ts';
import { exportLines } from '../../server/audit/export.ts';
import { verifyExport } from '../../server/audit/verify.ts';
import { leafHash } from '../../server/audit/merkle.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ROOT } from '../helpers/proc.ts';

/**
 * Tamper evidence on a real SQLite file: the log is written by the store, checkpoints
 * signed, then the file is edited behind the server's back (triggers dropped, as anyone
 * with the file can) and the offline verifier must name the first bad index.
 */
const N = 100;
const ORIGIN = 'example.org/tessera/audit';

async function buildLog(t: ExecutionContext): Promise<{ path: string; signer: NoteSigner }> {
  const path = join(tempDir(t), 'ds.sqlite3');
  const store = SqliteDatastore.open({ path, clock: new FakeClock(), logger: silentLogger });
  const signer = generateSigner(ORIGIN);
  const log = new AuditLog({ store, signer, origin: ORIGIN, clock: new FakeClock(), logger: silentLogger });
  for (let i = 0; i < N; i++) {
    await log.record({ type: 'x509svid.issued', time: Date.UTC(2026, 0, 1) + i, actor: 'spiffe://example.org/agent', resource: `spiffe://example.org/w${i}`, detail: { i } });
    if (i === 39 || i === 79) await log.checkpoint();
  }
  await log.checkpoint();
  await store.close();
  return { path, signer };
}

/** Opens the file as an attacker would: no triggers in the way. */
function tamper(path: string, sql: (db: Database.Database) => void): void {
  const db = new Database(path);
  for (const tr of ['tlog_leaves_no_update', 'tlog_leaves_no_delete', 'tlog_nodes_no_update', 'tlog_nodes_no_delete', 'tlog_checkpoints_no_update', 'tlog_checkpoints_no_delete']) {
    db.exec(`DROP TRIGGER IF EXISTS ${tr}`);
  }
  sql(db);
  db.close();
}

async function exportOf(path: string, signer: NoteSigner): Promise<string[]> {
  const store = SqliteDatastore.open({ path, clock: new FakeClock(), logger: silentLogger });
  try {
    const lines: string[] = [];
    for await (const chunk of exportLines(store, { origin: ORIGIN, verifierKey: verifierKeyText(signer) })) lines.push(...chunk.split('\n').filter(Boolean));
    return lines;
  } finally { await store.close(); }
}

const verify = async (path: string, signer: NoteSigner) => verifyExport(await exportOf(path, signer), [signer], { origin: ORIGIN });

test('an untouched log verifies: every checkpoint signature, root and consistency', async (t) => {
  const { path, signer } = await buildLog(t);
  const r = await verify(path, signer);
  t.true(r.ok, JSON.stringify(r.problems));
  t.like(r, { leaves: N, checkpoints: 3, verifiedSize: N, uncovered: 0 });
});

test('an edited event (its bytes changed) is found at its index', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => {
    const row = db.prepare('SELECT data FROM tlog_leaves WHERE idx = 57').get() as { data: Buffer };
    db.prepare('UPDATE tlog_leaves SET data = ? WHERE idx = 57').run(Buffer.from(row.data.toString().replace('"i":57', '"i":58')));
  });
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 57);
});

test('an edited event whose stored leaf hash was recomputed too is found (pair-exact)', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => {
    const row = db.prepare('SELECT data FROM tlog_leaves WHERE idx = 22').get() as { data: Buffer };
    const data = Buffer.from(row.data.toString().replace('"i":22', '"i":99'));
    db.prepare('UPDATE tlog_leaves SET data = ?, leaf_hash = ? WHERE idx = 22').run(data, leafHash(data));
  });
  const r = await verify(path, signer);
  t.false(r.ok);
  // Without the true hash anywhere, the walk down the signed tree pins it to its pair {22, 23}.
  t.is(r.firstBadIndex, 22);
});

test('a deleted event is found at its index', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => db.prepare('DELETE FROM tlog_leaves WHERE idx = 31').run());
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 31);
});

test('two swapped events (whole rows: bytes and hashes) are found at the first of them', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => {
    const a = db.prepare('SELECT data, leaf_hash FROM tlog_leaves WHERE idx = 13').get() as { data: Buffer; leaf_hash: Buffer };
    const b = db.prepare('SELECT data, leaf_hash FROM tlog_leaves WHERE idx = 66').get() as { data: Buffer; leaf_hash: Buffer };
    const set = db.prepare('UPDATE tlog_leaves SET data = ?, leaf_hash = ? WHERE idx = ?');
    set.run(b.data, b.leaf_hash, 13);
    set.run(a.data, a.leaf_hash, 66);
  });
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 13);
});

test('an inserted event (later rows renumbered) is found at the insertion point', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => {
    db.exec('UPDATE tlog_leaves SET idx = idx + 1000 WHERE idx >= 45');
    db.exec('UPDATE tlog_leaves SET idx = idx - 999 WHERE idx >= 1045');
    const forged = leafOf({ type: 'x509svid.issued', time: Date.UTC(2026, 0, 1), actor: 'spiffe://example.org/agent', detail: { forged: true } });
    db.prepare('INSERT INTO tlog_leaves (idx, time, type, actor, data, leaf_hash) VALUES (45, ?, ?, ?, ?, ?)')
      .run(forged.time, forged.type, forged.actor, Buffer.from(forged.data), Buffer.from(forged.leafHash));
  });
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 45);
});

test('a truncated table is found at index 0', async (t) => {
  const { path, signer } = await buildLog(t);
  tamper(path, (db) => db.exec('DELETE FROM tlog_leaves'));
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 0);
});

test('a replaced checkpoint (signed by another key, for a forged root) is refused', async (t) => {
  const { path, signer } = await buildLog(t);
  const mallory = generateSigner(ORIGIN);
  tamper(path, (db) => db.prepare('UPDATE tlog_checkpoints SET note = ? WHERE size = 80')
    .run(signCheckpoint({ origin: ORIGIN, size: 80, root: Buffer.alloc(32, 1) }, mallory)));
  const r = await verify(path, signer);
  t.false(r.ok);
  t.is(r.firstBadIndex, 40);
  t.regex(r.problems[0]!.message, /checkpoint of size 80: note is not signed by a known key/);
});

test('tessera-audit verify (the bin, a real process) exits 0 on a good export and 1 with the first bad index on a tampered one', async (t) => {
  const { path, signer } = await buildLog(t);
  const dir = tempDir(t);
  const keyFile = join(dir, 'audit-key.pub');
  writeFileSync(keyFile, verifierKeyText(signer) + '\n');
  const run = (file: string) => spawnSync(process.execPath, [join(ROOT, 'bin/tessera-audit.js'), 'verify', file, '--key-file', keyFile, '--output', 'json'], { encoding: 'utf8' });
  const good = join(dir, 'good.jsonl');
  writeFileSync(good, (await exportOf(path, signer)).join('\n') + '\n');
  const ok = run(good);
  t.is(ok.status, 0, ok.stderr);
  t.like(JSON.parse(ok.stdout), { ok: true, leaves: N });

  tamper(path, (db) => db.prepare('DELETE FROM tlog_leaves WHERE idx = 77').run());
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, (await exportOf(path, signer)).join('\n') + '\n');
  const ko = run(bad);
  t.is(ko.status, 1, ko.stderr);
  t.like(JSON.parse(ko.stdout), { ok: false, first_bad_index: 77 });
});
