import test, { type ExecutionContext } from 'ava';
import { PassThrough } from 'node:stream';
import { FakeClock } from '../../common/clock.ts';
import { unavailable } from '../../common/errors.ts';
import { memoryLogger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { makeRootCa, type TestCa } from '../helpers/pki.ts';
import { until } from '../helpers/wait.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { runEntrySync } from '../../node-agent/sync/entry-sync.ts';
import { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import { RetryBackoff } from '../../node-agent/cache/retry-gate.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { ServerApi, SignParams } from '../../node-agent/bootstrap/server-api.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { testEntry, testWorkload } from './svid-cache-fixture.ts';

/**
 * The shared retry gate and the entry sync, wired as node-agent/main.ts wires them:
 * after a failed mint closes the gate, a message on the sync stream (the server
 * answers) reopens it at once, not at the next backoff step; and a lost sync stream
 * reconnects as soon as the server connection is back, not at its next backoff step.
 * The fake clock never moves, so only those signals can make the tests pass.
 * (The first message of a stream raises onConnection instead; the gate reopened on a
 * reconnect before this change.)
 */

const entry = testEntry;
const workload = testWorkload;

/** A real leaf issuer behind a switch: down = the server cannot be reached. */
async function signer(clock: FakeClock): Promise<SvidSigner & { down: boolean; calls: number; ca: TestCa }> {
  const ca = await makeRootCa('example.org');
  const issue = createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey });
  const s = {
    down: false, calls: 0, ca,
    async batchSignX509Svids(params: SignParams[]) {
      s.calls++;
      if (s.down) throw unavailable('ERR_SERVER_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:8081');
      const notAfter = Math.floor((clock.now() + 100_000) / 1000) * 1000;
      return params.map((p) => ({
        status: { code: 0, message: '' }, entry_id: p.entryId, expires_at: notAfter / 1000,
        cert_chain: [Buffer.from(issue({ spiffeId: SpiffeId.parse(`spiffe://example.org/${p.entryId}`), publicKey: parseCsr(p.csr).spki, notBefore: new Date(clock.now()), notAfter: new Date(notAfter) }))],
      }));
    },
    async mintJwtSvid(): Promise<{ token: string; expiresAt: number }> { throw new Error('not used'); },
  };
  return s;
}

/** The agent's side of the server connection: SyncEntries streams the test writes to, and connection events. */
function serverApi() {
  const streams: (PassThrough & { cancel(): void })[] = [];
  const connection = new Set<(up: boolean) => void>();
  const api = {
    syncEntries() {
      const s = Object.assign(new PassThrough({ objectMode: true }), { cancel() { s.destroy(); } });
      streams.push(s);
      return s;
    },
    onCredentialsChange: () => () => undefined,
    onConnectionChange(l: (up: boolean) => void) { connection.add(l); return () => connection.delete(l); },
  };
  const connectionUp = () => { for (const l of connection) l(true); };
  return { api: api as unknown as ServerApi, streams, connectionUp, waiting: () => connection.size };
}

function startSync(t: ExecutionContext, o: { api: ServerApi; entries: EntryCache; clock: FakeClock; onConnection?(up: boolean): void; onAnswer?(): void }) {
  const ac = new AbortController();
  const logs = memoryLogger();
  const done = runEntrySync({
    api: o.api, entries: o.entries, clock: o.clock, logger: logs, signal: ac.signal, onBundle: () => undefined,
    onConnection: o.onConnection, onAnswer: o.onAnswer, backoff: new Backoff({ initialMs: 60_000, maxMs: 60_000, random: () => 1 }),
  });
  t.teardown(async () => { ac.abort(); await done; });
  return logs;
}

test('a message on the sync stream reopens the retry gate a failed mint closed, before its next backoff step', async (t) => {
  const clock = new FakeClock(Date.now());
  const s = await signer(clock);
  const entries = new EntryCache(memoryLogger());
  const mintRetry = new RetryBackoff({ initialMs: 30_000, maxMs: 30_000, random: () => 1 });
  const cache = new SvidCache({
    entries, signer: s, clock, logger: memoryLogger(), random: () => 0.5, processAlive: () => true,
    bundle: { trustDomain: s.ca.trustDomain, x509Authorities: [s.ca.certificate], jwtAuthorities: [], sequence: 1, refreshHint: 0 },
    retryBackoff: mintRetry,
  });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  void cache.run(ac.signal);
  const { api, streams } = serverApi();
  // As node-agent/main.ts wires it.
  startSync(t, {
    api, entries, clock,
    onConnection: (up) => { if (up) cache.serverReachable(); },
    onAnswer: () => { if (mintRetry.failing) cache.serverReachable(); },
  });
  await until(() => streams.length === 1, 'the sync stream to open');
  streams[0]!.write({ full: true, upserted: [entry('a', 1)], deleted_ids: [], sequence: 1, bundle: null });
  await until(() => entries.size === 1, 'the snapshot to be applied');

  s.down = true;
  await t.throwsAsync(cache.x509Svids(workload(1)), { code: 'ERR_SERVER_UNREACHABLE' });
  t.true(mintRetry.failing);
  const callsWhileDown = s.calls;
  await t.throwsAsync(cache.x509Svids(workload(1)), { code: 'ERR_SERVER_UNAVAILABLE', message: /next in 30000 ms/ },
    'the gate is closed: requests fail at once without calling the server');
  t.is(s.calls, callsWhileDown);

  // The server answers again: a change pushed on the stream that outlived the outage.
  s.down = false;
  streams[0]!.write({ full: false, upserted: [entry('b', 2)], deleted_ids: [], sequence: 2, bundle: null });
  const svids = await until(async () => cache.x509Svids(workload(1)).catch(() => undefined), 'a mint to go through with the clock stopped');
  t.is(svids.length, 1);
  t.false(mintRetry.failing, 'the success ended the outage');

  // Further messages are no sign of anything: they do not wake the cache.
  const calls = s.calls;
  streams[0]!.write({ full: false, upserted: [entry('c', 3)], deleted_ids: [], sequence: 3, bundle: null });
  await until(() => entries.size === 3, 'the change to be applied');
  await cache.idle();
  t.is(s.calls, calls);
});

test('a lost sync stream reconnects as soon as the server connection is back, not at its next backoff step', async (t) => {
  const clock = new FakeClock(Date.now());
  const entries = new EntryCache(memoryLogger());
  const { api, streams, connectionUp, waiting } = serverApi();
  const logs = startSync(t, { api, entries, clock });
  await until(() => streams.length === 1, 'the sync stream to open');
  streams[0]!.destroy(new Error('connection reset'));
  await until(() => logs.records.some((r) => r.msg === 'entry sync disconnected; reconnecting' && r.retry_in_ms === 60_000),
    'the loop to wait out its backoff (60 s)');
  await until(() => waiting() === 1, 'the loop to listen for the connection');
  connectionUp();
  await until(() => streams.length === 2, 'a new sync stream with the clock stopped');
  t.true(logs.records.some((r) => r.msg === 'server connection back: entry sync reconnecting now'));
  t.is(waiting(), 0, 'the listener is removed once woken');
});
