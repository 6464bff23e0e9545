import test from 'ava';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';
import { createMtlsHttpsServer } from '../../spiffe/tls/server.ts';
import { getPeer } from '../../spiffe/tls/peer.ts';
import { bundleSetOf, makeRootCa, type TestCa } from '../helpers/pki.ts';
import { close, get, listen, serialOf, svid } from './fixtures.ts';
import { until } from '../helpers/wait.ts';

/**
 * Rotation through an in-memory source (fast): the SDK reads SVIDs and bundles
 * from the source interface only, so this is the same code path the Workload API
 * X509Source drives (test/sdk/e2e-rotation.test.ts does it with real processes).
 */
test('requests flow without a failure across three SVID rotations of both sides and a CA change; new connections use the new certificates; established ones stay up', async (t) => {
  let ca: TestCa = await makeRootCa('example.org');
  const serverSrc = new StaticX509Source({ svid: svid(ca, 'service'), bundles: bundleSetOf([ca]) });
  const clientSrc = new StaticX509Source({ svid: svid(ca, 'planner'), bundles: bundleSetOf([ca]) });

  const server = createMtlsHttpsServer({ source: serverSrc, authorize: authorizeID('spiffe://example.org/planner') }, (req, res) => {
    res.end(JSON.stringify({ peer_serial: serialOf(getPeer(req)!.verifiedChain![0]!) }));
  });
  server.keepAliveTimeout = 60_000;
  const port = await listen(server);
  t.teardown(() => close(server));

  const authorize = authorizeID('spiffe://example.org/service');
  const fresh = createMtlsAgent({ source: clientSrc, authorize, agent: { keepAlive: false } });
  const kept = createMtlsAgent({ source: clientSrc, authorize, agent: { keepAlive: true, maxSockets: 1 } });
  t.teardown(() => { fresh.destroy(); kept.destroy(); });

  const firstKept = await get(port, kept);
  const keptSocket = firstKept.socket;

  let ok = 0; let failed = 0; let running = true;
  const errors: string[] = [];
  const done = [0, 0, 0]; // requests completed, per pump
  const pump = async (agent: typeof fresh, i: number) => {
    while (running) {
      try { const r = await get(port, agent); if (r.status === 200) ok++; else { failed++; errors.push(`status ${r.status}`); } } catch (e) { failed++; errors.push((e as Error).message); }
      done[i]!++;
    }
  };
  const pumps = [pump(fresh, 0), pump(fresh, 1), pump(kept, 2)];

  /** A new connection presents the current SVIDs on both sides. */
  const checkNewConnection = async () => {
    const r = await get(port, fresh);
    t.is(serialOf(getPeer(r.socket)!.verifiedChain![0]!), serialOf(serverSrc.getX509Svid().certificates[0]!), 'client sees the server\'s current certificate');
    t.is(JSON.parse(r.body).peer_serial, serialOf(clientSrc.getX509Svid().certificates[0]!), 'server sees the client\'s current certificate');
  };
  /**
   * Every pump completes two more requests: the second was sent after the change, so
   * each kind of connection made a request in every state (a failure ends the wait).
   */
  let settles = 0;
  const settle = async () => {
    const from = [...done];
    await until(() => failed > 0 || done.every((n, i) => n >= from[i]! + 2), 'two requests per pump after the change');
    settles++;
  };

  for (let i = 0; i < 3; i++) {
    serverSrc.set({ svid: svid(ca, 'service') });
    clientSrc.set({ svid: svid(ca, 'planner') });
    await settle();
    await checkNewConnection();
  }
  // CA change as a server does it: publish the next CA, then issue from it, then drop the old one.
  const next = await makeRootCa('example.org');
  const both = new BundleSet(bundleSetOf([ca, next]).bundles());
  serverSrc.set({ bundles: both }); clientSrc.set({ bundles: both });
  await settle();
  const old = ca; ca = next;
  serverSrc.set({ svid: svid(ca, 'service') }); clientSrc.set({ svid: svid(ca, 'planner') });
  await settle();
  await checkNewConnection();
  serverSrc.set({ bundles: bundleSetOf([ca]) }); clientSrc.set({ bundles: bundleSetOf([ca]) });
  await settle();
  await checkNewConnection();

  running = false;
  await Promise.all(pumps);
  const last = await get(port, kept);
  t.is(last.socket, keptSocket, 'the keep-alive connection opened before all rotations is still the one in use');
  t.not(serialOf(old.root), serialOf(ca.root));
  t.log(`requests: ${ok} ok, ${failed} failed`);
  t.is(failed, 0, errors.slice(0, 5).join('; '));
  t.true(ok >= settles * 2 * pumps.length, `${ok} requests in ${settles} states`);
});
