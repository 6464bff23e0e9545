import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { agentId } from '../../spiffe/id.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { POSTGRES_MIGRATIONS } from '../../server/datastore/migrations/postgres.ts';
import type { ChangeEvent } from '../../server/datastore/types.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { newAgent, newEntry, ok, registerDatastoreContract, sel, td, waitFor } from './datastore-contract.ts';

const ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, uniquely named database for one test, dropped (with its connections) in teardown. */
async function freshDatabase(t: ExecutionContext): Promise<string> {
  const name = `tessera_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  try { await admin.query(`CREATE DATABASE ${name}`); } finally { await admin.end(); }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: ADMIN });
    await c.connect();
    try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
  });
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

async function openStore(t: ExecutionContext, cs: string, clock = new FakeClock()): Promise<PostgresDatastore> {
  const s = await PostgresDatastore.open({ connectionString: cs, clock, logger: silentLogger, maxConnections: 4 });
  t.teardown(() => s.close());
  return s;
}

registerDatastoreContract('postgres', async (t) => {
  const cs = await freshDatabase(t);
  const clock = new FakeClock();
  const store = await openStore(t, cs, clock);
  return {
    store, clock,
    openAnother: () => openStore(t, cs, clock),
    exec: async (sql) => { await store.pool.query(sql); },
  };
});

test('postgres: a second server\'s store hears about writes through LISTEN/NOTIFY, in order', async (t) => {
  const cs = await freshDatabase(t);
  const a = await openStore(t, cs);
  const b = await openStore(t, cs);
  const seen: ChangeEvent[] = [];
  b.subscribe((ev) => seen.push(ev));
  const created = (await a.createEntries([newEntry(), newEntry({ selectors: sel('x:2') })])).map((r) => ok(t, r));
  await a.upsertAgent(newAgent());
  await waitFor(() => seen.length >= 3);
  t.deepEqual(seen.map((e) => [e.kind, e.id]), [
    ['entry_upsert', created[0].id], ['entry_upsert', created[1].id], ['agent_upsert', newAgent().spiffeId.toString()],
  ]);
  t.true(seen[0].seq < seen[1].seq && seen[1].seq < seen[2].seq);
});

test('postgres: after its LISTEN connection is killed, a store reconnects and delivers what it missed', async (t) => {
  const cs = await freshDatabase(t);
  const a = await openStore(t, cs);
  const b = await openStore(t, cs);
  const seen: ChangeEvent[] = [];
  b.subscribe((ev) => seen.push(ev));
  const pid = b.listenerPid;
  t.truthy(pid);
  await a.pool.query('SELECT pg_terminate_backend($1)', [pid]);
  const e = ok(t, (await a.createEntries([newEntry()]))[0]);
  await waitFor(() => seen.some((ev) => ev.id === e.id), 10_000);
  await waitFor(() => b.listenerPid !== undefined && b.listenerPid !== pid, 10_000);
  const e2 = ok(t, (await a.createEntries([newEntry({ selectors: sel('x:after') })]))[0]);
  await waitFor(() => seen.some((ev) => ev.id === e2.id), 10_000);
  t.is(new Set(seen.map((ev) => ev.seq)).size, seen.length, 'each event once');
});

test('postgres: concurrent writers from two servers get gap-free, commit-ordered sequences', async (t) => {
  const cs = await freshDatabase(t);
  const a = await openStore(t, cs);
  const b = await openStore(t, cs);
  const writes = Array.from({ length: 30 }, (_, i) =>
    (i % 2 ? a : b).createEntries([newEntry({ selectors: sel(`x:${i}`) })]));
  await Promise.all(writes);
  const evs = await a.changesSince(0);
  t.is(evs.length, 30);
  t.deepEqual(evs.map((e) => e.seq), Array.from({ length: 30 }, (_, i) => i + 1));
});

test('postgres: servers racing to consume the same join tokens: each token goes to exactly one', async (t) => {
  const cs = await freshDatabase(t);
  const stores = [await openStore(t, cs), await openStore(t, cs), await openStore(t, cs)];
  const tokens = Array.from({ length: 50 }, (_, i) => `tok-${i}`);
  for (const token of tokens) await stores[0].createJoinToken({ token, expiresAt: 10_000 });
  const results = await Promise.all(tokens.map((tok) => Promise.all(stores.map((s) => s.consumeJoinToken(tok, 1)))));
  for (const r of results) t.deepEqual(r.filter((x) => x === 'ok').length, 1);
});

test('postgres: servers starting at once migrate once', async (t) => {
  const cs = await freshDatabase(t);
  await Promise.all([openStore(t, cs), openStore(t, cs), openStore(t, cs)]);
  const c = new pg.Client({ connectionString: cs });
  await c.connect();
  t.teardown(() => c.end());
  const rows = (await c.query('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version);
  t.deepEqual(rows, POSTGRES_MIGRATIONS.map((m) => m.version));
});

test('postgres: a schema newer than this server knows refuses to start with a clear message', async (t) => {
  const cs = await freshDatabase(t);
  const s = await openStore(t, cs);
  await s.pool.query("INSERT INTO schema_version (version, description, applied_at) VALUES (42, 'future', 0)");
  const err = await t.throwsAsync(PostgresDatastore.open({ connectionString: cs, listen: false }), { code: 'ERR_DATASTORE_SCHEMA_TOO_NEW' });
  t.regex(err!.message, new RegExp(`schema version 42, newer than this server knows \\(${POSTGRES_MIGRATIONS.length}\\)`));
  t.false(err!.message.includes('password'));
});

test('postgres: an unreachable database is reported as unavailable', async (t) => {
  const err = await t.throwsAsync(PostgresDatastore.open({ connectionString: 'postgres://postgres@127.0.0.1:1/none', listen: false }));
  t.is((err as { kind?: string }).kind, 'unavailable');
});

test('postgres: the entry index on one server follows writes made by another', async (t) => {
  const cs = await freshDatabase(t);
  const clock = new FakeClock();
  const a = await openStore(t, cs, clock);
  const b = await openStore(t, cs, clock);
  const A = agentId(td, 'join_token', 'a1');
  await a.upsertAgent(newAgent({ spiffeId: A }));
  const index = await AuthorizedEntryIndex.load(b, { trustDomain: td, clock, logger: silentLogger });
  t.teardown(() => index.close());
  const upserted: string[] = [];
  index.watch(A.toString(), (c) => upserted.push(...c.upserted.map((e) => e.id)));
  const e = ok(t, (await a.createEntries([newEntry({ parentId: A })]))[0]);
  await waitFor(() => upserted.includes(e.id));
  t.is(index.isAuthorized(A.toString(), e.id)?.id, e.id);
});
