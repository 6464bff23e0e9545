import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { adminCall, postgresTestDatabase, startServer, type TestServer } from '../helpers/server.ts';
import { dumpOnFailure, elapsed, figure, kill9 } from './lib.ts';
import { halfWritten, postgresEntries, sqliteEntries, type StoredEntry } from './store-check.ts';

/**
 * kill -9 of a real tessera-server in the middle of a burst of entry writes (single
 * creates and 4-entry batches, many in flight, group-committed). After a restart on the
 * same store: every write that was acknowledged is there, whole (entry row, every
 * selector row, its change-log row); a batch is there entirely or not at all; writes
 * in flight at the kill may or may not have committed, but never in part.
 */
const IN_FLIGHT = 24;
/** Entries acknowledged before the kill: enough that commits are in progress when it lands. */
const ACKED_BEFORE_KILL = 400;
const BATCH = 4;
const PARENT = 'spiffe://example.org/tessera/agent/join_token/burst';

interface Call { call: number; spiffeIds: string[] }
interface Burst { acked: Map<string, string>; calls: Call[]; inFlightAtKill: number; errorsBeforeKill: string[]; killedAfterMs: number }

const entryFor = (spiffeId: string, n: number) => ({
  spiffe_id: spiffeId, parent_id: PARENT,
  selectors: [{ type: 'unix', value: `uid:${n}` }, { type: 'unix', value: `gid:${n}` }, { type: 'unix', value: `user:u${n}` }],
});

/** Writes until ACKED_BEFORE_KILL entries are acknowledged, kills the server, then collects what the calls said. */
async function burstThenKill(srv: TestServer): Promise<Burst> {
  const acked = new Map<string, string>(); // spiffe id -> entry id
  const calls: Call[] = [];
  const errorsBeforeKill: string[] = [];
  let killed = false, inFlight = 0, inFlightAtKill = 0, next = 0;
  let killNow!: () => void;
  const enough = new Promise<void>((r) => { killNow = r; });
  const client = srv.admin().entry;
  const started = Date.now();
  const worker = async () => {
    while (!killed) {
      const call = next++;
      const size = call % 2 === 0 ? 1 : BATCH;
      const spiffeIds = Array.from({ length: size }, (_, i) => `spiffe://example.org/burst/c${call}/i${i}`);
      calls.push({ call, spiffeIds });
      inFlight++;
      try {
        const r = await adminCall<{ results: { status: { code: number; message: string }; entry: { id: string } }[] }>(
          client, 'BatchCreateEntry', { entries: spiffeIds.map((id, i) => entryFor(id, call * BATCH + i)) });
        r.results.forEach((res, i) => {
          if (res.status.code !== 0) errorsBeforeKill.push(`item refused: ${res.status.message}`);
          else acked.set(spiffeIds[i]!, res.entry.id);
        });
        if (acked.size >= ACKED_BEFORE_KILL) killNow();
      } catch (e) {
        if (!killed) errorsBeforeKill.push((e as Error).message);
        return;
      } finally {
        inFlight--;
      }
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await Promise.race([enough, Promise.all(workers)]);
  killed = true;
  inFlightAtKill = inFlight;
  const killedAfterMs = elapsed(started);
  await kill9(srv.proc);
  await Promise.all(workers);
  return { acked, calls, inFlightAtKill, errorsBeforeKill, killedAfterMs };
}

async function killDuringBurst(t: ExecutionContext, srv: TestServer, readStore: () => Promise<StoredEntry[]>): Promise<void> {
  dumpOnFailure(t, { server: () => srv.proc });
  const burst = await burstThenKill(srv);
  t.deepEqual(burst.errorsBeforeKill, [], 'every write before the kill succeeded');
  t.true(burst.acked.size >= ACKED_BEFORE_KILL);

  const restartAt = Date.now();
  await srv.restart();
  figure(t, 'restart after kill -9 → "tessera server started"', elapsed(restartAt), 'ms');

  const stored = await readStore();
  const byId = new Map(stored.map((e) => [e.id, e]));
  const bySpiffeId = new Map(stored.map((e) => [e.spiffeId, e]));
  const lost = [...burst.acked].filter(([spiffeId, id]) => byId.get(id)?.spiffeId !== spiffeId);
  t.deepEqual(lost, [], 'every acknowledged write is in the store after the restart');
  t.deepEqual(halfWritten(stored), [], 'no entry without all its selector rows and its change-log row');
  t.true(stored.every((e) => e.selectorCount === 3), 'every entry has the 3 selectors it was written with');
  const partial = burst.calls.filter((c) => {
    const present = c.spiffeIds.filter((id) => bySpiffeId.has(id)).length;
    return present !== 0 && present !== c.spiffeIds.length;
  });
  t.deepEqual(partial, [], 'each call (a 4-entry batch included) is there entirely or not at all');
  t.is(stored.filter((e) => !e.spiffeId.startsWith('spiffe://example.org/burst/')).length, 0, 'nothing else was written');

  const attempted = burst.calls.reduce((n, c) => n + c.spiffeIds.length, 0);
  const committedUnacked = stored.length - burst.acked.size;
  figure(t, 'burst until kill', burst.killedAfterMs, 'ms');
  figure(t, 'entries acknowledged before the kill', burst.acked.size);
  figure(t, 'calls in flight at the kill', burst.inFlightAtKill);
  figure(t, 'entries committed but not acknowledged (in flight)', committedUnacked);
  figure(t, 'entries attempted, never committed', attempted - stored.length);

  // The restarted server serves reads and writes on the same store.
  const r = await adminCall<{ results: { status: { code: number } }[] }>(srv.admin().entry, 'BatchCreateEntry', { entries: [entryFor('spiffe://example.org/after-restart', 1)] });
  t.is(r.results[0]!.status.code, 0);
  const count = await adminCall<{ count: number }>(srv.admin().entry, 'CountEntries', {});
  t.is(count.count, stored.length + 1, 'the restarted server\'s index holds every stored entry');
}

test('sqlite: kill -9 during a burst of entry writes loses no acknowledged write and leaves no half-written entry', async (t) => {
  t.timeout(240_000);
  const srv = await startServer(t);
  await killDuringBurst(t, srv, async () => {
    const { entries, integrity } = sqliteEntries(join(srv.dataDir, 'datastore.sqlite3'));
    t.is(integrity, 'ok', 'PRAGMA integrity_check');
    return entries;
  });
});

test('postgres: kill -9 during a burst of entry writes loses no acknowledged write and leaves no half-written entry', async (t) => {
  t.timeout(240_000);
  const url = await postgresTestDatabase(t, 'tessera_kill');
  if (!url) { t.pass('skipped: no PostgreSQL at 127.0.0.1:5432'); return; }
  const srv = await startServer(t, { config: { datastore: { kind: 'postgres', connection: url } } });
  await killDuringBurst(t, srv, () => postgresEntries(url));
});
