/**
 * Entry write throughput on SQLite and on PostgreSQL: single-entry creates with 1, 8
 * and 64 in flight, next to batch creates (BATCH entries per call, one call at a
 * time), and the ratio single@64 / batch (goal >= 0.5: concurrent single writes are
 * coalesced into shared transactions, server/datastore/group-commit.ts).
 *
 * Two levels, both printed:
 *   api    BatchCreateEntry through the real admin API of a spawned tessera-server
 *          (what an operator sees: gRPC, validation, the audit row, the entry index)
 *   store  createEntries + appendAudit on the Datastore interface, in this process
 *          (the same store calls the admin API makes, without the server around them)
 *
 *   npm run bench:entry-writes [-- entries-per-run=400]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PostgresDatastore } from '../server/datastore/postgres.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import type { Datastore, NewEntry } from '../server/datastore/types.ts';
import { SpiffeId } from '../spiffe/id.ts';
import { parseSelector } from '../spiffe/selector.ts';
import { adminCall, postgresTestDatabase, sharedScope, startServer, type TestServer } from '../test/helpers/server.ts';

const N = Number(process.argv[2] ?? 400);
const BATCH = 100;
const GOAL = 0.5;
const PARENT = 'spiffe://example.org/tessera/agent/join_token/bench';
const scope = sharedScope();
let seq = 0;

/** Creates `count` entries in one call. */
type Create = (count: number) => Promise<void>;

/** Entries per second creating `total` entries one per call with `inFlight` calls outstanding. */
async function singleRate(create: Create, total: number, inFlight: number): Promise<number> {
  let left = total;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (left > 0) { left--; await create(1); }
  }));
  return total / ((performance.now() - t0) / 1000);
}

async function batchRate(create: Create, total: number): Promise<number> {
  const t0 = performance.now();
  for (let done = 0; done < total; done += BATCH) await create(Math.min(BATCH, total - done));
  return total / ((performance.now() - t0) / 1000);
}

async function measure(label: string, create: Create): Promise<void> {
  await create(1); // warm-up: connections, prepared statements, JIT
  await singleRate(create, 50, 8);
  const rates: string[] = [];
  let at64 = 0;
  for (const inFlight of [1, 8, 64]) {
    const r = await singleRate(create, inFlight === 1 ? Math.min(N, 200) : N, inFlight);
    if (inFlight === 64) at64 = r;
    rates.push(`single@${inFlight} ${r.toFixed(0).padStart(5)}/s`);
  }
  const batch = await batchRate(create, N * 2);
  const ratio = at64 / batch;
  console.log(`${label.padEnd(15)} ${rates.join('  ')}  batch(${BATCH}) ${batch.toFixed(0).padStart(5)}/s  ` +
    `single@64/batch ${ratio.toFixed(2)} (goal >= ${GOAL}) ${ratio >= GOAL ? 'OK' : 'BELOW GOAL'}`);
}

// ---- through the admin API of a real server ----

interface CreateResponse { results: { status: { code: number; message: string } }[] }

const wireEntry = () => {
  const n = ++seq;
  return { spiffe_id: `spiffe://example.org/bench/w${n}`, parent_id: PARENT, selectors: [{ type: 'unix', value: `uid:${n}` }] };
};

async function viaApi(engine: string, config: Record<string, unknown>): Promise<void> {
  const srv: TestServer = await startServer(scope, { config: { log_level: 'info', ...config } });
  await measure(`api   ${engine}`, async (count) => {
    const r = await adminCall<CreateResponse>(srv.admin().entry, 'BatchCreateEntry', { entries: Array.from({ length: count }, wireEntry) });
    const bad = r.results.find((x) => x.status.code !== 0);
    if (bad) throw new Error(bad.status.message);
  });
  await srv.stop();
}

// ---- on the Datastore interface ----

const parent = SpiffeId.parse(PARENT);
const newEntry = (): NewEntry => {
  const n = ++seq;
  return {
    spiffeId: SpiffeId.parse(`spiffe://example.org/bench/w${n}`), parentId: parent, selectors: [parseSelector(`unix:uid:${n}`)],
    x509SvidTtl: 0, jwtSvidTtl: 0, dnsNames: [], hint: '', admin: false, downstream: false, federatesWith: [], expiresAt: 0, agent: {},
  };
};

/** What BatchCreateEntry does with the store: one createEntries, then one audit row per created entry. */
async function viaStore(engine: string, store: Datastore): Promise<void> {
  await measure(`store ${engine}`, async (count) => {
    const results = await store.createEntries(Array.from({ length: count }, newEntry));
    for (const r of results) {
      if (!r.ok) throw r.error;
      await store.appendAudit({ time: 0, event: 'entry.created', subject: r.value.id, data: {} });
    }
  });
  await store.close();
}

async function main(): Promise<void> {
  console.log(`entry creates, ${N} entries per run (api: admin API of a spawned tessera-server; store: Datastore in-process)`);
  const dir = mkdtempSync(join(tmpdir(), 'ewb-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await viaApi('sqlite', {});
  await viaStore('sqlite', SqliteDatastore.open({ path: join(dir, 'store.sqlite3') }));
  const url = await postgresTestDatabase(scope, 'tessera_bench');
  const url2 = url && await postgresTestDatabase(scope, 'tessera_bench');
  if (!url || !url2) { console.log('postgres skipped: PostgreSQL not reachable'); return; }
  await viaApi('postgres', { datastore: { kind: 'postgres', connection: url } });
  await viaStore('postgres', await PostgresDatastore.open({ connectionString: url2, listen: false }));
}

main().then(() => scope.cleanup(), async (e) => { console.error(e); await scope.cleanup(); process.exitCode = 1; });
