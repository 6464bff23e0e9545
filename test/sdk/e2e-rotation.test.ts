import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { startServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { createEntry, ALICE, BOB } from '../helpers/agent-e2e.ts';
import { spawnTs } from '../helpers/proc.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Source } from '../../spiffe/workloadapi/x509-source.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { createMtlsAgent } from '../../spiffe/tls/client.ts';
import { getPeer } from '../../spiffe/tls/peer.ts';
import { get } from './fixtures.ts';

/**
 * End to end with real processes: tessera-server (CA TTL 60 s, X.509-SVID TTL 20 s,
 * so SVIDs rotate every few seconds and the CA is prepared at ~30 s and activated at ~50 s),
 * tessera-agent, the example tool service as one workload (uid 1000) and the example
 * planner as another (uid 65534), plus this test process as a third workload sending
 * requests continuously through the SDK.
 */
test('e2e: zero failed mTLS requests across SVID rotations of both sides and a CA change, with server + agent processes', async (t) => {
  t.timeout(170_000);
  const srv = await startServer(t, { config: { ca: { ttl: 60 }, svid: { x509_ttl: 20, agent_ttl: 20 } }, startTimeoutMs: 60_000 });
  const started = Date.now();
  const agent = await startAgent(t, { server: srv, logLevel: 'info', startTimeoutMs: 60_000 });
  const td = 'example.org';
  await createEntry(srv, agent.spiffeId, `spiffe://${td}/tools`, [`unix:uid:${ALICE.uid}`], ['--agent-model', 'tool-runner', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, `spiffe://${td}/planner`, [`unix:uid:${BOB.uid}`], ['--agent-model', 'claude-test', '--agent-provider', 'anthropic', '--agent-version', '1.0']);
  await createEntry(srv, agent.spiffeId, `spiffe://${td}/loadgen`, [`unix:uid:${process.getuid!()}`], ['--agent-model', 'loadgen', '--agent-provider', 'anthropic']);

  const env = { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint };
  const service = spawnTs(t, 'examples/mtls-agents/tool-service.ts', [], { env: { ...env, PORT: '0' }, uid: ALICE.uid, gid: ALICE.gid });
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(await service.waitFor(/listening on 127\.0\.0\.1:\d+/, 60_000))![1]);

  // The other example agent, as a separate workload: it logs the server's ID and claims.
  const planner = spawnTs(t, 'examples/mtls-agents/planner.ts', [], { env: { ...env, SERVICE_URL: `https://127.0.0.1:${port}`, COUNT: '3', INTERVAL_MS: '100' }, uid: BOB.uid, gid: BOB.gid });
  const exit = await planner.exited;
  t.is(exit.code, 0, planner.stderr());
  t.regex(planner.stdout(), /"server":"spiffe:\/\/example.org\/tools","server_claims":\{"agent_model":"tool-runner","agent_provider":"anthropic","agent_instance_id":"inst_[^"]+"\}/);
  t.regex(service.stdout(), /"peer connected","peer":"spiffe:\/\/example.org\/planner","claims":\{"agent_model":"claude-test","agent_provider":"anthropic","agent_version":"1.0","agent_instance_id":"inst_/);

  // This process: continuous requests, fresh connections and one keep-alive connection.
  const source = await X509Source.create({ address: agent.endpoint, backoff: { initialMs: 100, maxMs: 1000 } });
  t.teardown(() => source.close());
  const mySerials = new Set<string>();
  const bundleVersions = new Set<string>();
  const record = () => {
    try { mySerials.add(new X509Certificate(source.getX509Svid().certificates[0]!).serialNumber); } catch { /* revoked for a moment */ }
    const b = source.getX509BundleForTrustDomain(TrustDomain.parse(td));
    if (b) bundleVersions.add(b.authorities.map((a) => new X509Certificate(a).serialNumber).sort().join(','));
  };
  record();
  source.onUpdate(record);
  const authorize = authorizeID(`spiffe://${td}/tools`);
  const fresh = createMtlsAgent({ source, authorize, agent: { keepAlive: false } });
  const kept = createMtlsAgent({ source, authorize, agent: { keepAlive: true, maxSockets: 1 } });
  t.teardown(() => { fresh.destroy(); kept.destroy(); });
  const keptSocket = (await get(port, kept, '/tools/warmup')).socket;

  let ok = 0, failed = 0, running = true;
  const errors: string[] = [];
  const serverLeaves = new Map<string, string>(); // serial -> issuer serial, as seen on new connections
  const echoed = new Set<string>();               // our certificates as the service saw them
  const pump = async (a: typeof fresh, isFresh: boolean) => {
    while (running) {
      try {
        const r = await get(port, a, '/tools/ping');
        if (r.status !== 200) { failed++; errors.push(`status ${r.status}`); continue; }
        ok++;
        if (isFresh) {
          const chain = getPeer(r.socket)!.verifiedChain!;
          serverLeaves.set(new X509Certificate(chain[0]!).serialNumber, new X509Certificate(chain[chain.length - 1]!).serialNumber);
          echoed.add(JSON.parse(r.body).peer_serial);
        }
      } catch (e) { failed++; errors.push((e as Error).message); }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const pumps = [pump(fresh, true), pump(fresh, true), pump(kept, false)];

  // Run until the CA has rotated (activated at ~50 s after the server started) and both
  // sides rotated as often as asserted below: conditions, not a window of time. The
  // deadline only bounds a run where they never come (the assertions then say which).
  const issuers = () => new Set(serverLeaves.values());
  const serviceRotations = () => new Set(service.stdout().split('\n').slice(0, -1) // complete lines only
    .filter((l) => l.includes('"svid rotated"')).map((l) => JSON.parse(l).serial as string)).size;
  const done = () => issuers().size >= 2 && serviceRotations() >= 3 && mySerials.size >= 4 && echoed.size >= 4 && bundleVersions.size >= 2;
  const deadline = started + 150_000;
  while (Date.now() < deadline && !done()) await new Promise((r) => setTimeout(r, 500));
  running = false;
  await Promise.all(pumps);
  const last = await get(port, kept, '/tools/last');

  const rotations = [...new Set(service.stdout().split('\n').filter((l) => l.includes('"svid rotated"')).map((l) => JSON.parse(l).serial as string))];
  t.log(`requests: ${ok} ok, ${failed} failed over ${Math.round((Date.now() - started) / 1000)} s since server start`);
  t.log(`service SVID rotations: ${rotations.length}; server leaves seen on new connections: ${serverLeaves.size}; our SVIDs: ${mySerials.size} (${echoed.size} seen by the service); bundle versions: ${bundleVersions.size}; CA issuers seen: ${issuers().size}`);
  t.is(failed, 0, errors.slice(0, 5).join('; '));
  t.true(ok > 100);
  t.true(rotations.length >= 3, 'the service rotated at least three times');
  t.true(mySerials.size >= 4, 'we rotated at least three times');
  // Every certificate the service rotated to (but the very last) was presented on some new connection.
  for (const s of rotations.slice(0, -1)) t.true(serverLeaves.has(s), `service certificate ${s} was used by new connections`);
  // Every certificate of ours the service saw is one our source held, and it saw at least four of them.
  for (const s of echoed) t.true(mySerials.has(s));
  t.true(echoed.size >= 4);
  t.true(bundleVersions.size >= 2, 'the CA bundle changed');
  t.true(issuers().size >= 2, 'new connections moved to certificates of the new CA');
  t.is(last.socket, keptSocket, 'the keep-alive connection survived every rotation');
});
