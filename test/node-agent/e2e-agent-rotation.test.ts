import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { WorkloadApiClient, type X509SvidUpdate } from '../../spiffe/workloadapi/client.ts';
import { adminCall, startServer } from '../helpers/server.ts';
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

/** The agent's JSON log records with this message, in order (complete lines only: the last may still be arriving). */
const logLines = (stderr: string, msg: string) => stderr.split('\n').slice(0, -1).filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}"`))
  .map((l) => JSON.parse(l) as { time: string; expires_at?: string });
const logCount = (agent: TestAgent, msg: string) => logLines(agent.proc.stderr(), msg).length;

test('a server CA rotation arrives over sync: the new CA reaches both bundle streams before SVIDs signed by it, and the workload always holds a valid SVID', async (t) => {
  // CA TTL 24 s: the next CA is prepared (published) 12 s in and activated (signs) 20 s
  // in; the old one is pruned at 24 s. SVIDs live 10 s and are clamped to their CA.
  const srv = await startServer(t, { config: { ca: { ttl: '24s' }, svid: { x509_ttl: '10s', agent_ttl: '10s' } } });
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
  await until('SVIDs signed by three CAs in turn', () => issuers.length >= 3, 180_000, 200);
  clearInterval(sampler);
  t.deepEqual(problems, []);
  // The workload met the CAs in the order the server made them (on a slow machine the
  // first CA may be gone by the time the workload connects: any three in turn will do).
  const made = (ca: string) => Date.parse(new X509Certificate(Buffer.from(ca, 'hex')).validFrom);
  t.deepEqual(issuers, [...issuers].sort((a, b) => made(a) - made(b)), 'SVIDs follow the CAs in the order they were made');
  t.true(logCount(agent, 'trust bundle updated') >= 2, 'bundle updates came over sync');
  t.regex(agent.proc.stderr(), /"msg":"agent SVID renewed"/, 'the agent SVID followed the CA too');
  t.is(agent.proc.child.exitCode, null);
});

test('the agent SVID is renewed at half-life (not back to back), and the sync stream keeps its entries across renewals', async (t) => {
  // The server's minimum agent TTL; it backdates notBefore 10 s, so half-life must count from receipt.
  const srv = await startServer(t, { config: { svid: { agent_ttl: '10s' } } });
  const agent = await startAgent(t, { server: srv });
  // Entries and the agent record through the admin socket in-process: a CLI process per
  // call costs seconds on a busy machine and is tested elsewhere.
  const entry = async (spiffeId: string) => {
    const r = await adminCall<{ results: { status: { code: number; message: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
      entries: [{ spiffe_id: spiffeId, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${ALICE.uid}` }] }],
    });
    t.is(r.results[0]!.status.code, 0, r.results[0]!.status.message);
  };
  await entry('spiffe://example.org/alice');
  await entry('spiffe://example.org/alice-2');
  const w = watchX509(t, agent.socketPath, ALICE);
  await until('first update with both entries', () => w.updates().some((u) => u.svids.length === 2));
  const serial = async () => (await adminCall<{ x509_svid_serial: string }>(srv.admin().agent, 'GetAgent', { spiffe_id: agent.spiffeId })).x509_svid_serial;
  const before = await serial();
  // Renewals may already have happened while the test set up (a slow machine): count
  // only those logged after this mark, when the workload stream is open.
  const mark = agent.proc.stderr().lastIndexOf('\n') + 1;
  const since = (msg: string) => logLines(agent.proc.stderr().slice(mark), msg).length;

  await until('two renewals while the workload stream is open', () => since('agent SVID renewed') >= 2, 60_000, 200);
  // Each SVID (the attested one, then each renewed one) was replaced no earlier than half
  // its useful life after it arrived: receipt + (notAfter - receipt) / 2, from the agent's
  // own log times. A slow machine only delays renewals; back-to-back ones break this.
  const held = [...logLines(agent.proc.stderr(), 'agent attested'), ...logLines(agent.proc.stderr(), 'agent SVID renewed')]
    .map((l) => ({ at: Date.parse(l.time), expiresAt: Date.parse(l.expires_at!) }));
  t.true(held.length >= 3, 'attested once, renewed at least twice');
  for (let i = 1; i < held.length; i++) {
    const prev = held[i - 1]!, cur = held[i]!;
    const halfLife = prev.at + (prev.expiresAt - prev.at) / 2;
    // 100 ms: the log time is taken just after the agent notes the receipt time.
    t.true(cur.at >= halfLife - 100, `renewal ${i} at ${new Date(cur.at).toISOString()}, before the half-life (${new Date(halfLife).toISOString()}) of the SVID received at ${new Date(prev.at).toISOString()} expiring ${new Date(prev.expiresAt).toISOString()}`);
  }
  t.notDeepEqual(await serial(), before, 'the server recorded the new agent SVID');
  await until('sync reconnected with the renewed SVID', () => since('entry sync connected') > 0);

  // The open workload stream never lost an entry while the sync stream reconnected.
  t.true(w.updates().every((u) => u.svids.length === 2), JSON.stringify(w.updates().map((u) => u.svids.map((s) => s.spiffe_id))));
  t.notRegex(agent.proc.stderr(), /"msg":"server refused to renew/);
  // And sync still works on the renewed channel: a new entry reaches the stream.
  await entry('spiffe://example.org/alice-3');
  await until('new entry after renewals', () => w.updates().some((u) => u.svids.length === 3));
  t.is(w.child.exitCode, null);
});
