import test from 'ava';
import Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../common/clock.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { SQLITE_MIGRATIONS } from '../../server/datastore/migrations/sqlite.ts';
import { spawnTs } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { registerDatastoreContract } from './datastore-contract.ts';

registerDatastoreContract('sqlite', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  const clock = new FakeClock();
  const stores: SqliteDatastore[] = [];
  const openOne = () => { const s = SqliteDatastore.open({ path, clock }); stores.push(s); return s; };
  t.teardown(async () => { for (const s of stores) await s.close(); });
  const store = openOne();
  return {
    store, clock,
    openAnother: async () => openOne(),
    exec: async (sql) => { const db = new Database(path); try { db.exec(sql); } finally { db.close(); } },
  };
});

test('sqlite: the database file is created 0600 in WAL mode with foreign keys on', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'ds.sqlite3');
  const store = SqliteDatastore.open({ path });
  t.teardown(() => store.close());
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.deepEqual(db.prepare('SELECT version FROM schema_version ORDER BY version').all().map((r) => (r as { version: number }).version),
    SQLITE_MIGRATIONS.map((m) => m.version));
});

test('sqlite: reopening an up-to-date database applies nothing and keeps the data', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  const a = SqliteDatastore.open({ path });
  await a.appendAudit({ time: 1, event: 'x', subject: 's', data: {} });
  await a.close();
  const b = SqliteDatastore.open({ path });
  t.teardown(() => b.close());
  t.is((await b.listAudit()).length, 1);
});

test('sqlite: a schema newer than this server knows refuses to start with a clear message', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  await SqliteDatastore.open({ path }).close();
  const db = new Database(path);
  db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (99, ?, 0)').run('from the future');
  db.close();
  const err = t.throws(() => SqliteDatastore.open({ path }), { code: 'ERR_DATASTORE_SCHEMA_TOO_NEW' });
  t.regex(err!.message, new RegExp(`schema version 99, newer than this server knows \\(${SQLITE_MIGRATIONS.length}\\)`));
});

test('sqlite: a failing migration leaves no partial schema behind', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  const next = SQLITE_MIGRATIONS.length + 1;
  const broken = [...SQLITE_MIGRATIONS, { version: next, description: 'broken', sql: 'CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;' }];
  const err = t.throws(() => SqliteDatastore.open({ path, migrations: broken }), { code: 'ERR_DATASTORE_MIGRATION' });
  t.regex(err!.message, new RegExp(`migration ${next} \\(broken\\) failed: no such table`));
  const db = new Database(path);
  t.teardown(() => db.close());
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => (r as { name: string }).name);
  t.false(tables.includes('half'));
  t.false(tables.includes('registration_entries'), 'migrations apply in one transaction');
});

test('sqlite: migration 2 adds previous_serial to a version-1 database and keeps its agents', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  await SqliteDatastore.open({ path, migrations: SQLITE_MIGRATIONS.slice(0, 1) }).close();
  const db = new Database(path);
  db.prepare(`INSERT INTO attested_agents (spiffe_id, attestation_type, selectors, serial, expires_at, banned, created_at, updated_at)
    VALUES ('spiffe://example.org/tessera/agent/join_token/old', 'join_token', '[]', 'abc', 2000000000, 0, 1, 1)`).run();
  db.close();
  const store = SqliteDatastore.open({ path });
  t.teardown(() => store.close());
  t.like(await store.getAgent('spiffe://example.org/tessera/agent/join_token/old'), { serial: 'abc', previousSerial: '' });
});

test('sqlite: join tokens are stored as hashes, never in the clear', async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  const store = SqliteDatastore.open({ path });
  t.teardown(() => store.close());
  await store.createJoinToken({ token: 'super-secret-token', expiresAt: 10 });
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT token_hash FROM join_tokens').all() as { token_hash: string }[];
  t.is(rows.length, 1);
  t.not(rows[0].token_hash, 'super-secret-token');
  t.regex(rows[0].token_hash, /^[0-9a-f]{64}$/);
});

test('sqlite: two processes with their own connections racing for the same join tokens: each token goes to exactly one', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ds.sqlite3');
  const gate = join(dir, 'go');
  const store = SqliteDatastore.open({ path });
  t.teardown(() => store.close());
  const count = 400;
  for (let i = 0; i < count; i++) await store.createJoinToken({ token: `race-${i}`, expiresAt: 10_000 });
  const script = fileURLToPath(new URL('./datastore-sqlite-race-child.ts', import.meta.url));
  const procs = [0, 1].map(() => spawnTs(t, script, [path, gate, String(count)]));
  await Promise.all(procs.map((p) => p.waitFor(/^ready$/m, 60_000)));
  writeFileSync(gate, '');
  const outs = await Promise.all(procs.map(async (p) => {
    const { code } = await p.exited;
    t.is(code, 0, p.stderr());
    return JSON.parse(/^results (.*)$/m.exec(p.stdout())![1]) as string[];
  }));
  const winners = outs[0].map((r, i) => [r, outs[1][i]].filter((x) => x === 'ok').length);
  t.true(winners.every((n) => n === 1), 'every token consumed exactly once');
  t.is(winners.length, count);
  t.log(`tokens won: ${outs[0].filter((x) => x === 'ok').length} / ${outs[1].filter((x) => x === 'ok').length}`);
});
