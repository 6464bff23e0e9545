import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import type { Datastore } from '../../server/datastore/types.ts';
import { AuditLog } from '../../server/audit/log.ts';
import { generateSigner, openCheckpoint } from '../../server/audit/checkpoint.ts';
import { decodeEvent, leafOf } from '../../server/audit/events.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../../server/audit/merkle.ts';
import { tempDir } from '../helpers/tmp.ts';
import { postgresTestDatabase } from '../helpers/server.ts';

type Open = (t: ExecutionContext) => Promise<{ store: Datastore; reopen(): Promise<Datastore> } | undefined>;

const sqlite: Open = async (t) => {
  const path = join(tempDir(t), 'ds.sqlite3');
  const open = () => {
    const s = SqliteDatastore.open({ path, clock: new FakeClock(), logger: silentLogger });
    t.teardown(() => s.close());
    return s;
  };
  return { store: open(), reopen: async () => open() };
};

const postgres: Open = async (t) => {
  const cs = await postgresTestDatabase(t, 'tessera_tlog');
  if (!cs) return undefined;
  const open = async () => {
    const s = await PostgresDatastore.open({ connectionString: cs, clock: new FakeClock(), logger: silentLogger, maxConnections: 4, listen: false });
    t.teardown(() => s.close());
    return s;
  };
  return { store: await open(), reopen: open };
};

const ev = (i: number, actor = 'spiffe://example.org/agent') =>
  leafOf({ type: 'test.event', time: Date.UTC(2026, 0, 1) + i, actor, subject: `user-${i % 3}`, detail: { i } });

for (const [engine, open] of [['sqlite', sqlite], ['postgres', postgres]] as const) {
  test(`${engine}: batched appends get dense indices; proofs from the store verify against signed checkpoints`, async (t) => {
    const env = await open(t);
    if (!env) return t.pass('PostgreSQL not reachable');
    const { store } = env;
    const signer = generateSigner('example.org/tessera/audit');
    const log = new AuditLog({ store, signer, origin: signer.name, clock: new FakeClock(), logger: silentLogger });
    const first = await Promise.all(Array.from({ length: 300 }, (_, i) => store.appendLog(ev(i))));
    t.deepEqual(first, Array.from({ length: 300 }, (_, i) => i));
    const cp1 = await log.checkpoint();
    t.is(cp1.size, 300);
    const more = await Promise.all(Array.from({ length: 77 }, (_, i) => store.appendLog(ev(300 + i))));
    t.is(more[76], 376);
    const cp2 = await log.checkpoint();
    const opened = openCheckpoint(cp2.note, [signer], signer.name);
    t.is(opened.size, 377);
    t.deepEqual(opened.root, Buffer.from(cp2.root));

    for (const index of [0, 1, 150, 299, 376]) {
      const [leaf] = await store.logLeaves(index, index + 1);
      t.deepEqual(Buffer.from(leaf!.leafHash), leafHash(leaf!.data));
      t.is(decodeEvent(leaf!.data).detail?.i, index);
      verifyInclusion(index, 377, leaf!.leafHash, await store.logInclusionProof(index, 377), opened.root);
    }
    verifyConsistency(300, 377, await store.logConsistencyProof(300, 377), cp1.root, cp2.root);
    await t.throwsAsync(store.logInclusionProof(377, 377), { code: 'ERR_AUDIT_RANGE' });
    await t.throwsAsync(store.logRoot(378), { code: 'ERR_AUDIT_RANGE' });

    t.deepEqual((await store.queryLog({ subject: 'user-1', limit: 3 })).map((l) => l.index), [376, 373, 370]);
    t.deepEqual((await store.queryLog({ subject: 'user-1', afterIndex: 0, limit: 2 })).map((l) => l.index), [1, 4]);
  });

  test(`${engine}: appendAudit records land in the log; a reopened store extends the same tree`, async (t) => {
    const env = await open(t);
    if (!env) return t.pass('PostgreSQL not reachable');
    const signer = generateSigner('example.org/tessera/audit');
    const mk = (store: Datastore) => new AuditLog({ store, signer, origin: signer.name, clock: new FakeClock(), logger: silentLogger });
    await env.store.appendAudit({ time: 1_767_225_600, event: 'agent.banned', subject: 'spiffe://example.org/tessera/agent/join_token/x', data: { who: 'admin' } });
    await env.store.appendAudit({ time: 1_767_225_601, event: 'oauth.token_refused', subject: 'alice', data: { subject: 'alice', actor: 'spiffe://example.org/w', error_description: 'no policy' } });
    const cp1 = await mk(env.store).checkpoint();
    t.is(cp1.size, 2);
    const [banned, refused] = (await env.store.logLeaves(0, 2)).map((l) => decodeEvent(l.data));
    t.like(banned, { type: 'agent.banned', actor: 'spiffe://example.org/tessera/agent/join_token/x', decision: 'allow' });
    t.like(refused, { type: 'oauth.token_refused', actor: 'spiffe://example.org/w', subject: 'alice', decision: 'deny', reason: 'no policy' });

    await env.store.close();
    const again = await env.reopen();
    await again.appendLog(ev(2));
    const cp2 = await mk(again).checkpoint();
    t.is(cp2.size, 3);
    verifyConsistency(2, 3, await again.logConsistencyProof(2, 3), cp1.root, cp2.root);
  });
}

test('postgres: two stores appending concurrently to one database build one linear log', async (t) => {
  const cs = await postgresTestDatabase(t, 'tessera_tlog2');
  if (!cs) return t.pass('PostgreSQL not reachable');
  const open = async () => {
    const s = await PostgresDatastore.open({ connectionString: cs, clock: new FakeClock(), logger: silentLogger, maxConnections: 4, listen: false });
    t.teardown(() => s.close());
    return s;
  };
  const [a, b] = await Promise.all([open(), open()]);
  const n = 400;
  const [ia, ib] = await Promise.all([
    Promise.all(Array.from({ length: n }, (_, i) => a.appendLog(ev(i, 'spiffe://example.org/a')))),
    Promise.all(Array.from({ length: n }, (_, i) => b.appendLog(ev(i, 'spiffe://example.org/b')))),
  ]);
  const all = [...ia, ...ib].sort((x, y) => x - y);
  t.deepEqual(all, Array.from({ length: 2 * n }, (_, i) => i), 'no gap, no duplicate');
  // Each store's own events keep their submission order.
  t.deepEqual(ia, [...ia].sort((x, y) => x - y));
  const signer = generateSigner('example.org/tessera/audit');
  const cp = await new AuditLog({ store: a, signer, origin: signer.name, clock: new FakeClock(), logger: silentLogger }).checkpoint();
  t.is(cp.size, 2 * n);
  t.deepEqual(Buffer.from(await b.logRoot(2 * n)), Buffer.from(cp.root));
  const leaves = await b.logLeaves(0, 2 * n);
  for (const l of leaves) verifyInclusion(l.index, 2 * n, leafHash(l.data), await a.logInclusionProof(l.index, 2 * n), cp.root);
});
