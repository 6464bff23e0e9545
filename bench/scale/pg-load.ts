/**
 * One tessera-server on PostgreSQL with 1M registration entries: how long the server
 * takes to start (the entry index loads every entry) and how much heap the index holds
 * per entry.
 *
 *  - a fresh database; the server starts once on it (schema) and two template entries
 *    are made through the admin API, so the rows below have exactly the stored format;
 *  - the server stops; N entries are bulk-loaded in the database itself (INSERT …
 *    SELECT over generate_series, batches of 100k: entries and their selector rows),
 *    under 10k parents (100 per parent at 1M);
 *  - the server starts again: start time (spawn → "tessera server started"), the index's
 *    own "entry index loaded" time, heap after a forced GC (inspector) minus the
 *    heap of the same server with no entries, ÷ N.
 *
 *   node --experimental-websocket --import tsx bench/scale/pg-load.ts [--entries 1000000]
 */
import pg from 'pg';
import { arg } from '../lib/pinned-server.ts';
import { adminCall, postgresTestDatabase, sharedScope, startServer } from '../../test/helpers/server.ts';
import { rssMiB } from './proc-stats.ts';
import { load, ServerHeap } from './heap.ts';

const N = arg('entries', 1_000_000);
const PARENTS = 10_000;
const BATCH = 100_000;
const TD = 'example.org';
const report = (name: string, value: unknown) => console.log(`${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}  [${load()}]`);

const scope = sharedScope();
try {
  const url = await postgresTestDatabase(scope, 'tessera_scale');
  if (!url) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432');
  const config = { log_level: 'info', datastore: { kind: 'postgres', connection: url, statement_timeout: 120 } };
  const env = { NODE_OPTIONS: '--inspect=127.0.0.1:0' };
  const srv = await startServer(scope, { config, env, startTimeoutMs: 600_000 });
  const r = await adminCall<{ results: { status: { code: number; message: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
    entries: [0, 1].map((i) => ({ spiffe_id: `spiffe://${TD}/scale/template${i}`, parent_id: `spiffe://${TD}/tessera/agent/scale/p${i}`, selectors: [{ type: 'unix', value: `uid:${1000 + i}` }, { type: 'unix', value: 'gid:1000' }] })),
  });
  if (r.results.some((x) => x.status.code !== 0)) throw new Error(JSON.stringify(r.results));
  const empty = await new ServerHeap(ServerHeap.urlIn(srv.proc.stderr())).afterGc();
  report('heap after GC, 2 entries (MiB)', Math.round(empty.heapMiB));
  await srv.stop();

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const loadStart = Date.now();
    // The template's columns and selector rows, new id / SPIFFE ID / parent per row.
    for (let from = 1; from <= N; from += BATCH) {
      const to = Math.min(N, from + BATCH - 1);
      await db.query('BEGIN');
      await db.query(`INSERT INTO registration_entries
          (id, spiffe_id, parent_id, selectors_key, selectors, x509_svid_ttl, jwt_svid_ttl, dns_names, hint, admin, downstream,
           federates_with, expires_at, revision, created_at, updated_at, agent_model, agent_provider, agent_version)
        SELECT md5('scale' || i)::uuid::text, 'spiffe://${TD}/scale/e' || i, 'spiffe://${TD}/tessera/agent/scale/p' || (i % ${PARENTS}),
          t.selectors_key, t.selectors, t.x509_svid_ttl, t.jwt_svid_ttl, t.dns_names, t.hint, t.admin, t.downstream,
          t.federates_with, t.expires_at, 1, t.created_at, t.updated_at, t.agent_model, t.agent_provider, t.agent_version
        FROM generate_series($1::int, $2::int) i, registration_entries t WHERE t.spiffe_id = 'spiffe://${TD}/scale/template0'`, [from, to]);
      await db.query(`INSERT INTO entry_selectors (entry_id, type, value)
        SELECT md5('scale' || i)::uuid::text, s.type, s.value
        FROM generate_series($1::int, $2::int) i, registration_entries t JOIN entry_selectors s ON s.entry_id = t.id
        WHERE t.spiffe_id = 'spiffe://${TD}/scale/template0'`, [from, to]);
      await db.query('COMMIT');
    }
    await db.query('ANALYZE registration_entries');
    const ms = Date.now() - loadStart;
    report('bulk load', `${N} entries in ${ms} ms (${Math.round(N / (ms / 1000))}/s)`);
    const size = await db.query<{ s: string }>(`SELECT pg_size_pretty(pg_total_relation_size('registration_entries') + pg_total_relation_size('entry_selectors')) AS s`);
    report('table size (entries + selector rows, with indexes)', size.rows[0]!.s);
  } finally {
    await db.end();
  }

  const started = Date.now();
  await srv.restart();
  const startMs = Date.now() - started;
  const loaded = JSON.parse(srv.proc.stderr().split('\n').find((l) => l.includes('"entry index loaded"'))!) as { entries: number; ms: number };
  report(`server start with ${loaded.entries} entries (spawn → started)`, `${startMs} ms`);
  report('entry index load (its own log line)', `${loaded.ms} ms (${Math.round(loaded.entries / (loaded.ms / 1000))} entries/s)`);
  const full = await new ServerHeap(ServerHeap.urlIn(srv.proc.stderr())).afterGc();
  report(`heap after GC, ${loaded.entries} entries (MiB)`, Math.round(full.heapMiB));
  report('index heap per entry (bytes)', Math.round(((full.heapMiB - empty.heapMiB) * 2 ** 20) / N));
  report('server RSS (MiB)', Math.round(rssMiB(srv.proc.child.pid!)));
  // The stored format round-trips: a loaded entry is served like one made through the API.
  const one = await adminCall<{ spiffe_id: string }>(srv.admin().entry, 'GetEntry', { id: loaded.entries > 2 ? await firstId(url) : '' });
  report('a bulk-loaded entry through the admin API', one.spiffe_id);

} finally {
  await scope.cleanup();
}

async function firstId(url: string): Promise<string> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try { return (await db.query<{ id: string }>(`SELECT md5('scale1')::uuid::text AS id`)).rows[0]!.id; } finally { await db.end(); }
}
