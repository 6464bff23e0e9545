import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { ChangeEvent, Datastore } from '../../server/datastore/types.ts';
import { tempDir } from '../helpers/tmp.ts';
import { postgresTestDatabase } from '../helpers/server.ts';
import { until } from '../helpers/wait.ts';

/**
 * Federation relationships in the datastore, on SQLite and on PostgreSQL: create,
 * update, delete with their 'federation' change events, the sequence that only moves
 * forward, and (PostgreSQL) a relationship written by one server reaching another.
 */
const B = TrustDomain.parse('b.test');
const rel = (url = 'https://b.test/bundle') => ({
  trustDomain: B, bundleEndpointUrl: url, profile: 'https_spiffe' as const, endpointSpiffeId: SpiffeId.parse('spiffe://b.test/tessera/server'), source: 'api' as const,
});

async function freshDatabase(t: ExecutionContext): Promise<string> {
  const url = await postgresTestDatabase(t, 'tessera_fed');
  if (!url) throw new Error('PostgreSQL at 127.0.0.1:5432 is not reachable');
  return url;
}

const engines: [string, (t: ExecutionContext) => Promise<Datastore>][] = [
  ['sqlite', async (t) => {
    const s = SqliteDatastore.open({ path: join(tempDir(t, 'tfs-'), 's.sqlite3'), clock: new FakeClock() });
    t.teardown(() => s.close());
    return s;
  }],
  ['postgres', async (t) => {
    const s = await PostgresDatastore.open({ connectionString: await freshDatabase(t), clock: new FakeClock(), logger: silentLogger, maxConnections: 2 });
    t.teardown(() => s.close());
    return s;
  }],
];

for (const [engine, open] of engines) {
  test(`${engine}: relationships are created once, updated, deleted, each with a 'federation' change event`, async (t) => {
    const store = await open(t);
    const events: ChangeEvent[] = [];
    store.subscribe((e) => { if (e.kind === 'federation') events.push(e); });
    const created = await store.createFederationRelationship(rel());
    t.like(created, { bundleEndpointUrl: 'https://b.test/bundle', profile: 'https_spiffe', source: 'api', bundleSequence: 0 });
    await t.throwsAsync(store.createFederationRelationship(rel()), { code: 'ERR_FEDERATION_EXISTS' });
    const got = await store.getFederationRelationship('b.test');
    t.is(got!.endpointSpiffeId!.toString(), 'spiffe://b.test/tessera/server');
    t.true(got!.trustDomain.equals(B));

    await store.raiseFederationBundleSequence('b.test', 7);
    await store.raiseFederationBundleSequence('b.test', 3);
    t.is((await store.getFederationRelationship('b.test'))!.bundleSequence, 7, 'never lowered');
    t.is((await store.updateFederationRelationship(rel())).bundleSequence, 7, 'same endpoint: sequence kept');
    t.is((await store.updateFederationRelationship(rel('https://b2.test/bundle'))).bundleSequence, 0, 'another endpoint numbers its own bundles');
    await t.throwsAsync(store.updateFederationRelationship({ ...rel(), trustDomain: TrustDomain.parse('x.test') }), { code: 'ERR_FEDERATION_NOT_FOUND' });

    t.deepEqual((await store.listFederationRelationships()).map((r) => r.trustDomain.name), ['b.test']);
    t.true(await store.deleteFederationRelationship('b.test'));
    t.false(await store.deleteFederationRelationship('b.test'));
    await until(() => events.length === 4, 'four change events');
    t.deepEqual(events.map((e) => e.id), ['b.test', 'b.test', 'b.test', 'b.test']);
  });
}

test('postgres: a relationship created through one server reaches another sharing the database', async (t) => {
  const cs = await freshDatabase(t);
  const one = await PostgresDatastore.open({ connectionString: cs, clock: new FakeClock(), logger: silentLogger, maxConnections: 2 });
  const two = await PostgresDatastore.open({ connectionString: cs, clock: new FakeClock(), logger: silentLogger, maxConnections: 2 });
  t.teardown(async () => { await one.close(); await two.close(); });
  const seen: string[] = [];
  two.subscribe((e) => { if (e.kind === 'federation') seen.push(e.id); });
  await one.createFederationRelationship(rel());
  await until(() => seen.includes('b.test'), 'the change event on the other server');
  t.is((await two.getFederationRelationship('b.test'))!.bundleEndpointUrl, 'https://b.test/bundle');
});
