import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { WorkloadApiClient, type X509SvidUpdate } from '../../spiffe/workloadapi/client.ts';
import { startServer } from '../helpers/server.ts';
import { startAgent, watchX509, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until, ALICE } from '../helpers/agent-e2e.ts';

/**
 * Rotations with real server and agent processes: the server's CA (short ca.ttl, as
 * in test/server/integration-server.test.ts) and the agent's own SVID (short
 * svid.agent_ttl, the server's minimum of 10 s).
 */
const TD = TrustDomain.parse('example.org');
// This test process is the workload for the in-process Workload API client.
const UID = process.getuid!();
const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');

const logCount = (agent: TestAgent, msg: string) => agent.proc.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;

test('a server CA rotation arrives over sync: the new CA reaches both bundle streams before SVIDs signed by it, and the workload always holds a valid SVID', async (t) => {
  // CA TTL 24 s: the next CA is prepared (published) 12 s in and activated (signs) 20 s
  // in; the old one is pruned at 24 s. SVIDs live 10 s and are clamped to their CA.
  const srv = await startServer(t, { config: { ca: { ttl: '24s' }, svid: { x509_ttl: '10s', agent_ttl: '10s' } } });
  const firstCa = hex(srv.bundleDer[0]!);
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/rotating', [`unix:uid:${UID}`]);

  const client = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => client.close());
  const problems: string[] = [];
  const bundleSeenAt = new Map<string, number>(); // CA (hex DER) -> first time on FetchX509Bundles
  let bundleNow: Uint8Array[] = [];
  const bundles = client.watchX509Bundles({
    onUpdate(u) {
      bundleNow = u.bundles.get(TD.idString) ?? [];
      for (const d of bundleNow) if (!bundleSeenAt.has(hex(d))) bundleSeenAt.set(hex(d), Date.now());
    },
    onError(e) { problems.push(`bundles stream: ${e.message}`); },
  });
  t.teardown(() => bundles.close());

  const issuers: string[] = []; // signing CAs of served SVIDs, in order of first appearance
  let latest: X509SvidUpdate | undefined;
  const svids = client.watchX509Svids({
    onUpdate(u) {
      latest = u;
      const now = Date.now();
      for (const s of u.svids) {
        // The bundle in the same X509SVIDResponse must validate the SVID.
        try { verifyX509Svid(s.certificates, { getX509BundleForTrustDomain: () => new X509Bundle(TD, s.bundle) }, { now: new Date(now) }); } catch (e) {
          problems.push(`SVID ${new X509Certificate(s.certificates[0]!).serialNumber} does not verify against its response's bundle: ${(e as Error).message}`);
        }
        const leaf = new X509Certificate(s.certificates[0]!);
        const issuer = s.bundle.find((ca) => leaf.verify(new X509Certificate(ca).publicKey));
        if (!issuer) continue;
        if (!issuers.includes(hex(issuer))) issuers.push(hex(issuer));
        const seen = bundleSeenAt.get(hex(issuer));
        if (seen === undefined || seen > now) problems.push(`SVID signed by CA #${issuers.indexOf(hex(issuer)) + 1} served before that CA was on FetchX509Bundles`);
      }
    },
    onError(e) { problems.push(`SVID stream: ${e.message}`); },
  });
  t.teardown(() => svids.close());

  // Every 200 ms the workload's current SVID must be unexpired and chain to the current bundle.
  const sampler = setInterval(() => {
    const s = latest?.svids[0];
    if (!s) return;
    const now = new Date();
    try { verifyX509Svid(s.certificates, { getX509BundleForTrustDomain: () => new X509Bundle(TD, bundleNow) }, { now }); } catch (e) {
      problems.push(`at ${now.toISOString()} the workload's current SVID is not valid against the current bundle: ${(e as Error).message}`);
    }
  }, 200);
  t.teardown(() => clearInterval(sampler));

  // Two activations: SVIDs from the first, second and third CA.
  await until('SVIDs signed by three CAs in turn', () => issuers.length >= 3, 60_000, 200);
  clearInterval(sampler);
  t.deepEqual(problems, []);
  t.is(issuers[0], firstCa);
  // Each new CA was published well before it signed (prepare at ttl/2 left, activate at ttl/6 left).
  for (const ca of issuers.slice(1)) t.true(bundleSeenAt.has(ca));
  t.true(logCount(agent, 'trust bundle updated') >= 2, 'bundle updates came over sync');
  t.regex(agent.proc.stderr(), /"msg":"agent SVID renewed"/, 'the agent SVID followed the CA too');
  t.is(agent.proc.child.exitCode, null);
});

test('the agent SVID is renewed at half-life (not back to back), and the sync stream keeps its entries across renewals', async (t) => {
  // The server's minimum agent TTL; it backdates notBefore 10 s, so half-life must count from receipt.
  const srv = await startServer(t, { config: { svid: { agent_ttl: '10s' } } });
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice', [`unix:uid:${ALICE.uid}`]);
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice-2', [`unix:uid:${ALICE.uid}`]);
  const w = watchX509(t, agent.socketPath, ALICE);
  await until('first update with both entries', () => w.updates().some((u) => u.svids.length === 2));
  const serial = async () => (JSON.parse((await srv.cli(['agent', 'show', agent.spiffeId, '--output', 'json'])).stdout) as { serial?: string; agent?: { serial?: string } });
  const before = await serial();
  const started = Date.now();
  const connectsBefore = logCount(agent, 'entry sync connected');

  await until('two renewals', () => logCount(agent, 'agent SVID renewed') >= 2, 30_000, 200);
  const elapsed = Date.now() - started;
  // 10 s TTL → one renewal every ~5 s; back-to-back renewals would be dozens by now.
  t.true(elapsed >= 4_000, `two renewals took ${elapsed} ms`);
  await new Promise((r) => setTimeout(r, 1000));
  t.true(logCount(agent, 'agent SVID renewed') <= 3, `${logCount(agent, 'agent SVID renewed')} renewals in ${elapsed + 1000} ms`);
  t.notDeepEqual(await serial(), before, 'the server recorded the new agent SVID');
  await until('sync reconnected with the renewed SVID', () => logCount(agent, 'entry sync connected') > connectsBefore);

  // The open workload stream never lost an entry while the sync stream reconnected.
  t.true(w.updates().every((u) => u.svids.length === 2), JSON.stringify(w.updates().map((u) => u.svids.map((s) => s.spiffe_id))));
  t.notRegex(agent.proc.stderr(), /"msg":"server refused to renew/);
  // And sync still works on the renewed channel: a new entry reaches the stream.
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/alice-3', [`unix:uid:${ALICE.uid}`]);
  await until('new entry after renewals', () => w.updates().some((u) => u.svids.length === 3));
  t.is(w.child.exitCode, null);
});
