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
 * Rotations with real server and agent processes: the server's CA, rotated by the test
 * through the admin API (prepare, then activate), and the agent's own SVID (short
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

test('a server CA rotation arrives over sync: each new CA reaches the bundle stream before any SVID it signed, SVIDs follow the CAs in order, and the workload always holds a valid SVID', async (t) => {
  // The CA lives a day, so nothing rotates by itself: the test prepares and activates
  // each next CA (what the server's own schedule does at ttl/2 and ttl/6 remaining).
  // SVIDs live 30 s and rotate at half-life, so each activation is followed by an SVID
  // from the new CA within about 15 s, with 15 s to spare before the old one expires.
  const srv = await startServer(t, { config: { svid: { x509_ttl: '30s', agent_ttl: '10s' } } });
  const agent = await startAgent(t, { server: srv });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/rotating', [`unix:uid:${UID}`]);
  const authority = (method: string, req: Record<string, unknown>) =>
    adminCall<{ authority_id: string; state: string }>(srv.admin().localAuthority, method, { kind: 'x509', ...req });

  const client = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => client.close());
  // Events of both streams are numbered in the order this process saw them.
  let seq = 0;
  const problems: string[] = [];
  const bundleSeenAt = new Map<string, number>(); // CA (hex DER) -> event number of its first FetchX509Bundles appearance
  let bundleNow: Uint8Array[] = [];
  const bundles = client.watchX509Bundles({
    onUpdate(u) {
      seq++;
      bundleNow = u.bundles.get(TD.idString) ?? [];
      for (const d of bundleNow) if (!bundleSeenAt.has(hex(d))) bundleSeenAt.set(hex(d), seq);
    },
    onError(e) { problems.push(`bundles stream: ${e.message}`); },
  });
  t.teardown(() => bundles.close());

  const cas = [hex(srv.readBundle().der[0]!)]; // in the order the server made them
  const served: string[] = []; // signing CA of every SVID served, in order
  let latest: X509SvidUpdate | undefined;
  const svids = client.watchX509Svids({
    onUpdate(u) {
      const at = ++seq;
      latest = u;
      for (const s of u.svids) {
        // The bundle in the same X509SVIDResponse must validate the SVID.
        try { verifyX509Svid(s.certificates, { getX509BundleForTrustDomain: () => new X509Bundle(TD, s.bundle) }); } catch (e) {
          problems.push(`SVID ${new X509Certificate(s.certificates[0]!).serialNumber} does not verify against its response's bundle: ${(e as Error).message}`);
        }
        const leaf = new X509Certificate(s.certificates[0]!);
        const issuer = s.bundle.find((ca) => leaf.verify(new X509Certificate(ca).publicKey));
        if (!issuer) continue;
        served.push(hex(issuer));
        const seen = bundleSeenAt.get(hex(issuer));
        if (seen === undefined || seen > at) problems.push(`SVID signed by CA #${cas.indexOf(hex(issuer)) + 1} served before that CA was on FetchX509Bundles`);
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

  await until('an SVID from the first CA', () => served.includes(cas[0]!));
  for (let round = 1; round <= 2; round++) {
    const prepared = await authority('PrepareAuthority', {});
    t.is(prepared.state, 'prepared');
    // Published, not yet signing: the new CA reaches the workload's bundle stream.
    const next = await until(`CA #${round + 1} on FetchX509Bundles`, () => bundleNow.map(hex).find((h) => !cas.includes(h)));
    cas.push(next);
    const mark = agent.proc.stderr().length;
    t.is((await authority('ActivateAuthority', { authority_id: prepared.authority_id })).state, 'active');
    // The next rotation of the workload's SVID is signed by it; so is the agent's next SVID.
    await until(`an SVID from CA #${round + 1}`, () => served.includes(next), 120_000, 200);
    await until('the agent SVID renewed after the activation', () => logLines(agent.proc.stderr().slice(mark), 'agent SVID renewed').length > 0, 120_000, 200);
  }
  clearInterval(sampler);
  t.deepEqual(problems, []);
  // SVIDs follow the CAs in order: once one from CA #n is served, none from an older CA.
  const order = served.map((h) => cas.indexOf(h));
  t.deepEqual(order, [...order].sort((a, b) => a - b), `issuers of the served SVIDs, by CA number: ${order.map((i) => i + 1).join(' ')}`);
  t.deepEqual([...new Set(order)], [0, 1, 2]);
  t.true(logCount(agent, 'trust bundle updated') >= 2, 'bundle updates came over sync');
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
