import test from 'ava';
import { adminCall, postgresTestDatabase, startServer } from '../helpers/server.ts';
import { startAgent, watchX509 } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { agentIds, dumpOnFailure, elapsed, figure, findLine, kill9, linesAfter } from '../faults/lib.ts';

/**
 * Agent failover (docs/agent.md, "Several servers"): two real servers on one
 * PostgreSQL, an agent configured with both addresses (`server_address` +
 * `server_addresses`), a workload process streaming its SVID. kill -9 of the server
 * the agent is connected to: the agent moves to the other one with the SVID it has
 * (no re-attestation; its join token is spent), the workload's stream never breaks
 * and never holds an expired SVID, and a change made through the survivor reaches it.
 */
const UID = process.getuid!();

test('an agent fails over to the second server when the one it uses is killed: no re-attestation, no gap for workloads', async (t) => {
  t.timeout(300_000);
  const url = await postgresTestDatabase(t, 'tessera_failover');
  if (!url) { t.pass('skipped: no PostgreSQL at 127.0.0.1:5432'); return; }
  const config = { datastore: { kind: 'postgres', connection: url } };
  const A = await startServer(t, { config });
  const B = await startServer(t, { config });
  // The agent's first bundle must hold both roots, so it can verify B's server SVID.
  await until('both CAs in A\'s bundle.pem', () => A.readBundle().der.length === 2, 90_000);

  const agent = await startAgent(t, { server: A, config: { server_addresses: [B.agentAddress] } });
  dumpOnFailure(t, { agent: () => agent.proc, B: () => B.proc });
  t.is(linesAfter(agent.proc).filter((l) => l.msg === 'agent attested').length, 1, 'attested once, at first start');
  await createEntry(A, agent.spiffeId, 'spiffe://example.org/failover/first', [`unix:uid:${UID}`]);
  const w = watchX509(t, agent.socketPath);
  await until('the first SVID on the workload\'s stream', () => w.updates().length >= 1, 60_000);

  const mark = agent.proc.stderr().length;
  const killedAt = Date.now();
  await kill9(A.proc);

  const moved = await until('the agent to fail over to B', () => findLine(agent.proc, 'server unreachable; failing over to the next server', mark), 90_000);
  t.is(moved.server, A.agentAddress);
  t.is(moved.next, B.agentAddress);
  await until('the sync stream connected to B', () => findLine(agent.proc, 'entry sync connected', mark), 90_000);
  const syncedAt = Date.now();
  figure(t, 'failover: kill -9 of the agent\'s server → sync stream on the other server', syncedAt - killedAt, 'ms');

  // A change made through the survivor reaches the workload: a new SVID minted by B.
  const before = w.updates().length;
  const createdAt = Date.now();
  await adminCall(B.admin().entry, 'BatchCreateEntry', {
    entries: [{ spiffe_id: 'spiffe://example.org/failover/second', parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] }],
  });
  const update = await until('the entry created through B on the stream',
    () => w.updates().slice(before).find((u) => u.svids.some((s) => s.spiffe_id.endsWith('/failover/second'))), 90_000);
  figure(t, 'failover: entry created through B → SVID on the workload stream', elapsed(createdAt), 'ms');
  t.is(update.svids.length, 2);

  // No re-attestation: same agent, one attestation ever, the token was not presented again.
  const after = linesAfter(agent.proc, mark);
  t.false(after.some((l) => l.msg === 'agent attested' || l.msg === 'attesting to the server'), 'no new attestation');
  t.false(after.some((l) => /revoked|banned|evicted/.test(String(l.msg))), 'the agent was never refused');
  t.deepEqual(await agentIds(B), [agent.spiffeId], 'still the one attested agent');

  // The workload never saw a gap: one stream throughout, every SVID it was handed valid when handed.
  t.is(w.child.exitCode, null, 'the workload stream stayed open');
  for (const u of w.updates() as unknown as { at: string; svids: { not_after: string }[] }[]) {
    t.true(u.svids.every((s) => Date.parse(s.not_after) > Date.parse(u.at)), `update at ${u.at} held only valid SVIDs`);
  }
  t.is(agent.proc.child.exitCode, null, 'the agent is still running');
});
