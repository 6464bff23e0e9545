import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { startEndpoint, NOBODY, USER_1000, type ClientEvent } from '../fixtures/workload-api-harness.ts';
import { until } from '../helpers/wait.ts';

/** Adversarial checks of the Workload API endpoint as any local user can reach it. */

const nobodyEntry = { id: 'n', spiffeId: 'spiffe://example.org/nobody', selectors: ['unix:uid:65534'] };
const u1000Entry = { id: 'u', spiffeId: 'spiffe://example.org/u1000', selectors: ['unix:uid:1000'] };

function events(p: Proc): ClientEvent[] {
  return p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ClientEvent);
}
/** The bound only turns a hang into a failure (a process start on a busy machine can take tens of seconds). */
async function nth(p: Proc, event: string, n = 0, timeoutMs = 90_000): Promise<ClientEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = events(p).filter((e) => e.event === event);
    if (hits.length > n) return hits[n]!;
    if (Date.now() > deadline) throw new Error(`no ${event} #${n}; stdout:\n${p.stdout()}\nstderr:\n${p.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a caller whose uid changed after connect (setuid) is denied, not attested by its new uid', async (t) => {
  // SO_PEERCRED is captured at connect(); /proc shows the credentials now. A process that
  // connects and then execs a setuid binary would otherwise be attested with the new euid
  // while another process holding the same socket reads the answer.
  const ep = await startEndpoint(t, { entries: [nobodyEntry, { id: 'root', spiffeId: 'spiffe://example.org/root', selectors: ['unix:uid:0'] }] });
  const p = spawnTs(t, 'test/fixtures/raw-workload-client.ts', [ep.socket, '--drop', '65534:65534']);
  const s = await nth(p, 'status');
  t.is(s.code, grpc.status.PERMISSION_DENIED);
  t.is(events(p).filter((e) => e.event === 'message').length, 0);
});

test('a stream on a connection whose connecting process exited delivers nothing more (socket handed to another process)', async (t) => {
  const ep = await startEndpoint(t, { entries: [{ id: 'r', spiffeId: 'spiffe://example.org/r', selectors: ['unix:uid:0'] }], server: { updateJitterMs: 5 } });
  const parent = spawnTs(t, 'test/fixtures/raw-workload-client.ts', [ep.socket, '--handoff']);
  const ready = await nth(parent, 'ready');
  t.teardown(() => { try { process.kill(ready.child as number, 'SIGKILL'); } catch { /* gone */ } });
  const first = await nth(parent, 'message');
  t.deepEqual(first.spiffe_ids, ['spiffe://example.org/r']);
  // Not parent.stop(): its stdout stays open in the child, so 'close' would not come.
  const exited = new Promise((r) => parent.child.once('exit', r));
  process.kill(parent.child.pid!, 'SIGKILL');
  await exited;
  ep.provider.rotateSvids();
  const s = await nth(parent, 'status');
  t.is(s.code, grpc.status.PERMISSION_DENIED);
  t.is(events(parent).filter((e) => e.event === 'message').length, 1);
});

test('connections are capped per uid: one user cannot exhaust the endpoint for others', async (t) => {
  const ep = await startEndpoint(t, { entries: [u1000Entry], server: { limits: { maxConnectionsPerUid: 3 } } });
  const hog = spawnTs(t, 'test/fixtures/hold-connections.ts', [ep.socket, '5'], NOBODY);
  // The endpoint has decided on all five (kept or refused): from then on its counts are final.
  await until(() => ep.server.stats.connections + ep.server.stats.refusedConnections === 5, 'the endpoint to accept or refuse all five connections');
  t.is(ep.server.stats.refusedConnections, 2);
  t.is(ep.server.stats.connections, 3);
  await nth(hog, 'closed', 1); // the two refused ones, as the hog sees them
  t.true(ep.logs.records.some((r) => r.msg === 'refusing workload connection: too many connections' && r.uid === 65534));
  // Another user is still served.
  const m = await ep.client(['x509', '--once'], USER_1000).nth('message');
  t.deepEqual((m.svids as { spiffe_id: string }[]).map((s) => s.spiffe_id), ['spiffe://example.org/u1000']);
});

test('the total number of connections is capped', async (t) => {
  const ep = await startEndpoint(t, { entries: [u1000Entry], server: { limits: { maxConnections: 2 } } });
  const hog = spawnTs(t, 'test/fixtures/hold-connections.ts', [ep.socket, '4'], NOBODY);
  await until(() => ep.server.stats.connections + ep.server.stats.refusedConnections === 4, 'the endpoint to accept or refuse all four connections');
  t.is(ep.server.stats.refusedConnections, 2);
  t.is(ep.server.stats.connections, 2);
  await nth(hog, 'closed', 1);
});

test('open streams are capped per uid with ResourceExhausted', async (t) => {
  const ep = await startEndpoint(t, { entries: [u1000Entry], server: { limits: { maxStreamsPerUid: 2 } } });
  const a = ep.client(['x509'], USER_1000);
  const b = ep.client(['x509-bundles'], USER_1000);
  await a.nth('message'); await b.nth('message');
  const c = await ep.client(['x509'], USER_1000).nth('status');
  t.is(c.code, grpc.status.RESOURCE_EXHAUSTED);
  t.is(ep.server.stats.streams, 2);
});

test('FetchJWTSVID bounds the number and size of audiences', async (t) => {
  const ep = await startEndpoint(t, { entries: [u1000Entry] });
  const many = Array.from({ length: 200 }, (_, i) => ['--audience', `a${i}`]).flat();
  const s1 = await ep.client(['jwt', ...many], USER_1000).nth('status');
  t.is(s1.code, grpc.status.INVALID_ARGUMENT);
  t.regex(s1.details!, /at most \d+ audiences/);
  const s2 = await ep.client(['jwt', '--audience', 'x'.repeat(5000)], USER_1000).nth('status');
  t.is(s2.code, grpc.status.INVALID_ARGUMENT);
  t.regex(s2.details!, /longer than \d+ bytes/);
  const s3 = await ep.client(['jwt', '--audience', 'a\nb'], USER_1000).nth('status');
  t.is(s3.code, grpc.status.INVALID_ARGUMENT);
  // Sane requests still work.
  t.truthy(await ep.client(['jwt', '--audience', 'a', '--audience', 'b'], USER_1000).nth('message'));
});

test('a huge request (ValidateJWTSVID token) is refused by the message size limit', async (t) => {
  const ep = await startEndpoint(t, { entries: [u1000Entry] });
  const s = await ep.client(['validate', '--audience', 'a', '--svid', 'x'.repeat(100_000)], USER_1000).nth('status');
  t.is(s.code, grpc.status.RESOURCE_EXHAUSTED);
  // The endpoint is still fine afterwards.
  t.truthy(await ep.client(['x509', '--once'], USER_1000).nth('message'));
});
