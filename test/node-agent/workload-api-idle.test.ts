import test from 'ava';
import { spawnTs } from '../helpers/proc.ts';
import { until } from '../helpers/wait.ts';
import { startEndpoint, USER_1000 } from '../fixtures/workload-api-harness.ts';

/** The endpoint closes connections that sit without a call; an open stream is not idle. */

const mine = { id: 'mine', spiffeId: 'spiffe://example.org/mine', selectors: ['unix:uid:1000'] };
const HOLD = 20;

test('connections that never send a request are closed by the agent after the idle timeout; a connection with an open stream stays', async (t) => {
  const ep = await startEndpoint(t, { entries: [mine], server: { limits: { idleTimeoutMs: 1_000 } } });
  const stream = ep.client(['x509'], USER_1000);
  await stream.nth('message');

  // A separate process opens plain connections and never sends a byte on them.
  const holder = spawnTs(t, 'test/fixtures/hold-connections.ts', [ep.socket, String(HOLD)], { uid: USER_1000.uid, gid: USER_1000.gid });
  await holder.waitFor(/"event":"open"/, 30_000);
  // Each close is the agent's doing: the holder never closes a socket itself.
  await holder.waitFor(new RegExp(`"event":"closed","n":${HOLD}\\b`), 60_000);

  // The stream's connection is older than every closed one and is still served.
  t.deepEqual(stream.events().filter((e) => e.event !== 'ready' && e.event !== 'message'), []);
  t.is(ep.server.stats.streams, 1);
  // The holder sees each close before the endpoint has counted it: wait for the count to settle.
  await until(() => ep.server.stats.connections === 1, 'the endpoint to count only the stream connection');
  t.is(ep.server.stats.idleClosedConnections, HOLD);
  ep.provider.rotateSvids();
  await stream.nth('message', 1);
  t.is(holder.child.exitCode, null);
});
