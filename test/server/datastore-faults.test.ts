import test, { type ExecutionContext } from 'ava';
import type * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { silentLogger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import { call } from '../../server/cli/admin-client.ts';
import { attestNewAgent, postgresTestDatabase, startServer, type AttestOutcome, type TestServer } from '../helpers/server.ts';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../helpers/tcp-proxy.ts';

/**
 * A real tessera-server on PostgreSQL through a TCP fault proxy: whatever the network
 * does to the datastore connections (refuse, stall, stall then reset mid-transaction,
 * crawl), the process keeps running, requests fail with UNAVAILABLE before the
 * caller's deadline, and once the network heals everything works again, including the
 * change feed (LISTEN), which pushes a write made by another store after the outage.
 */

const PG = new URL(process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres');
/** Short server deadlines so each fault is felt quickly; the callers' deadline is far longer. */
const DATASTORE_TIMEOUTS = { connect_timeout: '2s', statement_timeout: '3s', pool_wait_timeout: '3s', keepalive: '1s' };
const CALLER_DEADLINE_MS = 60_000;
const HEAL_WITHIN_MS = 90_000;

interface Rig {
  srv: TestServer;
  proxy: TcpProxy;
  agent: AttestOutcome;
  /** A store on the same database that bypasses the proxy: the "other server". */
  direct: PostgresDatastore;
  /** Entry ids the agent's sync stream has delivered. */
  synced: Set<string>;
  exited(): boolean;
}

async function rig(t: ExecutionContext): Promise<Rig | undefined> {
  const url = await postgresTestDatabase(t, 'tessera_fault');
  if (!url) return undefined;
  const proxy = await startTcpProxy(t, { host: PG.hostname, port: Number(PG.port || 5432) });
  const viaProxy = new URL(url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const srv = await startServer(t, { config: { datastore: { kind: 'postgres', connection: viaProxy.toString(), ...DATASTORE_TIMEOUTS } } });
  let exited = false;
  void srv.proc.exited.then(() => { exited = true; });
  const direct = await PostgresDatastore.open({ connectionString: url, logger: silentLogger, maxConnections: 2, listen: false });
  t.teardown(() => direct.close());
  const agent = await attestNewAgent(t, srv);
  const synced = new Set<string>();
  const stream = agent.client.SyncEntries({});
  stream.on('data', (m: SyncEntriesResponse__Output) => { for (const e of m.upserted) synced.add(e.id); });
  stream.on('error', () => undefined); // cancelled at teardown
  t.teardown(() => stream.cancel());
  return { srv, proxy, agent, direct, synced, exited: () => exited };
}

type AdminError = Error & { code?: string; grpcCode?: number };

const createEntry = (r: Rig, name: string) => call<unknown, { results: { status: { code: number; message: string }; entry: { id: string } }[] }>(
  r.srv.admin().entry, 'BatchCreateEntry',
  { entries: [{ spiffe_id: `spiffe://example.org/fault/${name}`, parent_id: r.agent.id, selectors: [{ type: 'unix', value: `uid:${name}` }] }] },
  CALLER_DEADLINE_MS);

/** Admin calls that need the datastore: a write transaction, pooled reads, an autocommit insert. */
const datastoreCalls = (r: Rig, tag: string): [string, () => Promise<unknown>][] => [
  ['create entry', () => createEntry(r, `during-${tag}`)],
  ['get entry', () => call(r.srv.admin().entry, 'GetEntry', { id: 'no-such-entry' }, CALLER_DEADLINE_MS)],
  ['list entries', () => call(r.srv.admin().entry, 'ListEntries', {}, CALLER_DEADLINE_MS)],
  ['create join token', () => call(r.srv.admin().agent, 'CreateJoinToken', { ttl: 60 }, CALLER_DEADLINE_MS)],
];

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = HEAL_WITHIN_MS): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last error: ${(last as Error)?.message ?? 'none'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function survives(t: ExecutionContext, fault: ProxyMode): Promise<void> {
  const r = await rig(t);
  if (!r) { t.pass('skipped: no PostgreSQL'); return; }
  const before = (await createEntry(r, 'before')).results[0]!.entry.id;
  await until('the entry made before the fault on the sync stream', async () => (r.synced.has(before) ? true : undefined));

  // Several open pooled connections, so requests during the fault use established ones
  // (a transaction in flight when the reset comes) as well as new ones.
  await Promise.all(Array.from({ length: 8 }, () => call(r.srv.admin().entry, 'ListEntries', {})));
  const mark = r.srv.proc.stderr().length;
  r.proxy.set(fault);
  const outcomes = await Promise.allSettled(datastoreCalls(r, fault.kind).map(([, call]) => call()));
  outcomes.forEach((o, i) => {
    const what = datastoreCalls(r, fault.kind)[i]![0];
    t.is(o.status, 'rejected', `${what} during ${fault.kind} must fail`);
    if (o.status === 'rejected') {
      const e = o.reason as AdminError;
      t.is(e.grpcCode, 14 satisfies grpc.status.UNAVAILABLE, `${what} during ${fault.kind}: ${e.code} ${e.message}`);
      t.is(e.code, 'ERR_DATASTORE_UNAVAILABLE', `${what} during ${fault.kind}`);
    }
  });
  t.false(r.exited(), `the server is still running during ${fault.kind}`);
  // The LISTEN connection must notice the fault too (a stall raises no error by itself)
  // and keep trying through it, before the network heals.
  await until('the server to notice its LISTEN connection is gone', async () =>
    (/LISTEN connection lost/.test(r.srv.proc.stderr().slice(mark)) ? true : undefined));

  r.proxy.set({ kind: 'pass' });
  let attempt = 0;
  const after = await until('a create to succeed after healing', async () => {
    // A new name each try: an attempt whose reply was lost may have committed.
    const res = await createEntry(r, `after-${fault.kind}-${++attempt}`);
    return res.results[0]!.status.code === 0 ? res.results[0]!.entry.id : undefined;
  });
  t.truthy(await call(r.srv.admin().entry, 'GetEntry', { id: after }));
  await until('the server\'s own write on the sync stream', async () => (r.synced.has(after) ? true : undefined));

  // Written by another store: only the healed LISTEN connection (or its catch-up) tells the server.
  const [pushed] = await r.direct.createEntries([{
    spiffeId: SpiffeId.parse('spiffe://example.org/fault/pushed'), parentId: SpiffeId.parse(r.agent.id),
    selectors: [parseSelector('unix:uid:4242')], x509SvidTtl: 0, jwtSvidTtl: 0, dnsNames: [], hint: '',
    admin: false, downstream: false, federatesWith: [], expiresAt: 0, agent: {},
  }]);
  if (!pushed!.ok) throw pushed!.error;
  await until('the change feed to push a write made after healing', async () => (r.synced.has(pushed!.value.id) ? true : undefined));
  t.false(r.exited(), 'the server is still running after healing');
  t.notRegex(r.srv.proc.stderr(), /Unhandled 'error' event/);
}

test.serial('the server survives refused connections (drop) and recovers', (t) => survives(t, { kind: 'drop' }));
test.serial('the server survives a stalled network (stall) and recovers', (t) => survives(t, { kind: 'stall' }));
test.serial('the server survives connections reset mid-transaction after a stall and recovers', (t) =>
  // Reset well before the statement deadline: the write transaction is still waiting on its socket.
  survives(t, { kind: 'stall-then-reset', resetAfterMs: 500 }));
test.serial('the server survives a crawling network (slow) and recovers', (t) =>
  // Each chunk arrives long after the statement and connect deadlines.
  survives(t, { kind: 'slow', delayMs: 10_000 }));

test('a write that waits for the change-log lock past the statement deadline fails with unavailable, and the connection stays usable', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_fault');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  await (await PostgresDatastore.open({ connectionString: url, listen: false })).close(); // migrated under the default deadlines
  // One pooled connection: the write after the failure must reuse the one that failed.
  const store = await PostgresDatastore.open({ connectionString: url, logger: silentLogger, maxConnections: 1, listen: false, statementTimeoutMs: 1000 });
  t.teardown(() => store.close());
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  t.teardown(() => holder.end());
  // Another server in the middle of a write: it holds the change-log lock (key from postgres.ts).
  await holder.query('BEGIN');
  await holder.query('SELECT pg_advisory_xact_lock(8392585648256934241)');
  await t.throwsAsync(store.upsertAgent(agentRecord('a1')), { code: 'ERR_DATASTORE_UNAVAILABLE', message: /statement timeout/ });
  await holder.query('COMMIT');
  await t.notThrowsAsync(store.upsertAgent(agentRecord('a2')));
  t.is((await store.getAgent('spiffe://example.org/tessera/agent/join_token/a2'))?.serial, '01');
});

function agentRecord(name: string) {
  return {
    spiffeId: SpiffeId.parse(`spiffe://example.org/tessera/agent/join_token/${name}`), attestationType: 'join_token',
    selectors: [], serial: '01', expiresAt: 2_000_000_000, banned: false, createdAt: 1, updatedAt: 1,
  };
}
