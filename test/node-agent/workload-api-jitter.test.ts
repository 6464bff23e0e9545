import test from 'ava';
import { FakeClock } from '../../common/clock.ts';
import { startEndpoint, USER_1000 } from '../fixtures/workload-api-harness.ts';

const mine = { id: 'mine', spiffeId: 'spiffe://example.org/mine', selectors: ['unix:uid:1000'] };
type Svid = { spiffe_id: string; fingerprint: string };

// The jitter runs on a clock that never moves: an update that arrives at all did not wait for it.
test('with one open stream, a rotated SVID is pushed without waiting for the broadcast jitter', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine], server: { clock: new FakeClock(), updateJitterMs: 5000 } });
  const c = ep.client(['x509'], USER_1000);
  const first = (await c.nth('message')).svids as Svid[];
  ep.provider.rotateSvids();
  const second = (await c.nth('message', 1)).svids as Svid[];
  t.is(second[0]!.spiffe_id, first[0]!.spiffe_id);
  t.not(second[0]!.fingerprint, first[0]!.fingerprint);
});

test('with one open stream, an entry added for the caller is pushed without waiting for the jitter', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine], server: { clock: new FakeClock(), updateJitterMs: 5000 } });
  const c = ep.client(['x509'], USER_1000);
  await c.nth('message');
  ep.provider.addEntry({ id: 'extra', spiffeId: 'spiffe://example.org/extra', selectors: ['unix:gid:1000'] });
  t.deepEqual(((await c.nth('message', 1)).svids as Svid[]).map((s) => s.spiffe_id), ['spiffe://example.org/mine', 'spiffe://example.org/extra']);
});
