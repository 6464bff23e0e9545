import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { FakeClock } from '../../common/clock.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import { startEndpoint, USER_1000 } from '../fixtures/workload-api-harness.ts';
import { until, within } from '../helpers/wait.ts';

const mine = { id: 'mine', spiffeId: 'spiffe://example.org/mine', selectors: ['unix:uid:1000'] };
type Svid = { spiffe_id: string; fingerprint: string };
const svidsOf = (m: Record<string, unknown>) => m.svids as Svid[];

test('removing the caller\'s last entry closes its open stream with PermissionDenied at once', async (t) => {
  // The update jitter runs on a clock that never moves: every pushed update waits for
  // ever, so a status that arrives at all did not wait for the jitter.
  const ep = await startEndpoint(t, { entries: [mine], server: { clock: new FakeClock(), updateJitterMs: 5000 } });
  const c = ep.client(['x509'], USER_1000);
  await c.nth('message');
  const bundles = ep.client(['x509-bundles'], USER_1000);
  await bundles.nth('message');
  ep.provider.removeEntry('mine');
  const s = await c.nth('status');
  t.is(s.code, grpc.status.PERMISSION_DENIED);
  t.is((await bundles.nth('status')).code, grpc.status.PERMISSION_DENIED);
  t.is(ep.server.stats.streams, 0);
});

test('an SVID rotation arrives on an open stream as a new full-state message', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine] });
  const c = ep.client(['x509'], USER_1000);
  const first = svidsOf(await c.nth('message'))[0]!;
  ep.provider.rotateSvids();
  const second = svidsOf(await c.nth('message', 1))[0]!;
  t.is(second.spiffe_id, first.spiffe_id);
  t.not(second.fingerprint, first.fingerprint);
});

test('an entry added for the caller is pushed; removing one of two leaves the other', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine] });
  const c = ep.client(['x509'], USER_1000);
  await c.nth('message');
  ep.provider.addEntry({ id: 'extra', spiffeId: 'spiffe://example.org/extra', selectors: ['unix:gid:1000'] });
  t.deepEqual(svidsOf(await c.nth('message', 1)).map((s) => s.spiffe_id), ['spiffe://example.org/mine', 'spiffe://example.org/extra']);
  ep.provider.removeEntry('mine');
  t.deepEqual(svidsOf(await c.nth('message', 2)).map((s) => s.spiffe_id), ['spiffe://example.org/extra']);
  ep.provider.updateEntry('extra', { spiffeId: 'spiffe://example.org/renamed' });
  t.deepEqual(svidsOf(await c.nth('message', 3)).map((s) => s.spiffe_id), ['spiffe://example.org/renamed']);
});

test('a change that does not touch the caller sends it nothing', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine] });
  // Counts the caller's state builds: each change makes the endpoint rebuild it, and
  // sends a message only if it differs from the last one sent.
  let built = 0;
  const x509Svids = ep.provider.x509Svids.bind(ep.provider);
  ep.provider.x509Svids = async (w: AttestedWorkload) => { const r = await x509Svids(w); built++; return r; };
  const c = ep.client(['x509'], USER_1000);
  const first = svidsOf(await c.nth('message'))[0]!;
  const before = built;
  ep.provider.addEntry({ id: 'other', spiffeId: 'spiffe://example.org/other', selectors: ['unix:uid:4242'] });
  ep.provider.removeEntry('other');
  // The endpoint has looked at the caller's state after the unrelated change...
  await until(() => built > before, 'the caller\'s state rebuilt after the unrelated change');
  // ...then a real change: on one stream, in order, so had the unrelated change sent
  // anything, it would be the second message, with the first SVID again.
  ep.provider.rotateSvids();
  const second = svidsOf(await c.nth('message', 1))[0]!;
  t.not(second.fingerprint, first.fingerprint, 'the second message is the rotation, not a resend of the unchanged state');
});

test('a JWT key rotation reaches open JWT bundle streams; a CA rotation reaches X.509 bundle streams', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine] });
  const x = ep.client(['x509-bundles'], USER_1000);
  const j = ep.client(['jwt-bundles'], USER_1000);
  const first = await x.nth('message');
  t.deepEqual(first.bundles, { 'spiffe://example.org': 1 });
  const j1 = await j.nth('message');
  const kid = (m: typeof j1) => ((m.bundles as Record<string, { keys: { kid: string; use: string }[] }>)['spiffe://example.org']!.keys[0]!);
  t.is(kid(j1).use, 'jwt-svid');
  ep.provider.rotateJwtKey();
  const j2 = await j.nth('message', 1);
  t.not(kid(j2).kid, kid(j1).kid);
  await ep.provider.rotateCa();
  t.deepEqual((await x.nth('message', 1)).bundles, { 'spiffe://example.org': 1 });
});

test('stop() ends open streams with Unavailable and removes the socket', async (t) => {
  // A drain timeout far beyond the bound below: stop() can only finish in time by
  // ending the open stream itself, not by waiting the drain out and forcing it.
  const ep = await startEndpoint(t, { entries: [mine], server: { drainTimeoutMs: 300_000 } });
  const c = ep.client(['x509'], USER_1000);
  await c.nth('message');
  await within(ep.server.stop(), 'stop() with a stream open (it must end the stream, not wait for the drain timeout)');
  t.is((await c.nth('status')).code, grpc.status.UNAVAILABLE);
  t.false(existsSync(ep.socket));
});
