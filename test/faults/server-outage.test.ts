import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { startServer } from '../helpers/server.ts';
import { startAgent, watchX509 } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { freePort } from '../helpers/proc.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { dumpOnFailure, figure, findLine, kill9, linesAfter } from './lib.ts';

/**
 * The server is down (kill -9) past the half-life of both the workload SVID and the
 * agent SVID, but not past their expiry. The agent keeps serving the valid cached
 * SVID, retries on a backoff schedule with jitter (not per request, not on a fixed
 * beat), and as soon as the server is back it rotates both: the workload's open stream
 * gets the new SVID while the old one is still valid (it never holds an expired SVID
 * while a valid one could be had). test/node-agent/e2e-outage-recovery.test.ts covers
 * an outage past the workload SVID's expiry.
 */
// Long enough that the agent SVID outlives an outage past its half-life plus a server
// restart on a saturated 2-core machine (at 90 s a run beside another suite left 20 s).
const TTL_S = 120;
const UID = process.getuid!();

interface Update { at: string; svids: { serial: string; not_after: string }[] }

test('a server outage past half the SVID TTL: valid cached SVIDs keep being served, retries back off with jitter, both SVIDs rotate when the server is back', async (t) => {
  t.timeout(360_000);
  const port = await freePort();
  const srv = await startServer(t, { config: { agent_api: { listen: `127.0.0.1:${port}` }, svid: { x509_ttl: `${TTL_S}s`, agent_ttl: `${TTL_S}s` } } });
  const agent = await startAgent(t, { server: srv });
  dumpOnFailure(t, { agent: () => agent.proc });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/faults/outage', [`unix:uid:${UID}`]);
  const w = watchX509(t, agent.socketPath);
  const updates = () => w.updates() as unknown as Update[];
  const first = await until('the first SVID on the stream', () => updates()[0], 60_000);
  const held = first.svids[0]!;
  const agentNotAfter = Date.parse(findLine(agent.proc, 'agent attested')!.expires_at as string);

  const mark = agent.proc.stderr().length;
  const downAt = Date.now();
  await kill9(srv.proc);

  // Past both half-lives: a rotation and a renewal were due and failed for want of a server.
  await until('a failed SVID rotation and a failed agent SVID renewal', () =>
    findLine(agent.proc, /^server unreachable: no SVIDs are minted/, mark) && findLine(agent.proc, 'agent SVID renewal failed; retrying', mark), 120_000, 200);
  const halfLife = Date.parse(first.at) + (Date.parse(held.not_after) - Date.parse(first.at)) / 2;
  await until('the held SVID past its half-life', () => Date.now() > halfLife, 120_000, 200);

  // Workloads asking now get the cached SVID, which is past half-life but valid.
  const client = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => client.close());
  const during = await client.fetchX509Svids({ timeoutMs: 30_000 });
  t.is(during.svids.length, 1);
  t.is(new X509Certificate(during.svids[0]!.certificates[0]!).serialNumber.toLowerCase(), held.serial, 'the cached SVID is served');
  t.is(updates().length, 1, 'nothing new was pushed while the server was down');
  t.true(Date.now() < Date.parse(held.not_after), 'the cached SVID is still valid');

  const backAt = Date.now();
  const restartMark = agent.proc.stderr().length;
  await srv.restart();
  const startedAt = Date.now();
  t.is(srv.agentAddress, `127.0.0.1:${port}`);

  // Both rotate as soon as the server is back, not at the next scheduled retry.
  const fresh = await until('a new SVID on the open stream', () => updates().find((u) => u.svids[0]!.serial !== held.serial), 120_000, 100);
  const renewed = await until('the agent SVID renewed', () => findLine(agent.proc, 'agent SVID renewed', restartMark), 120_000, 100);
  t.true(Date.parse(fresh.at) < Date.parse(held.not_after), 'the new SVID arrived while the old one was still valid');
  t.true(Date.parse(fresh.svids[0]!.not_after) > Date.parse(held.not_after));
  // Judged by the agent's own record of the renewal, not by when this (busy) test process looks.
  t.true(Date.parse(renewed.time!) < agentNotAfter, `the agent SVID was renewed (${renewed.time}) before it expired (${new Date(agentNotAfter).toISOString()})`);
  for (const u of updates()) t.true(u.svids.every((s) => Date.parse(s.not_after) > Date.parse(u.at)), `update at ${u.at}: only valid SVIDs`);
  t.is(w.child.exitCode, null, 'the workload stream stayed open through the outage');

  // The retry schedule during the outage: a handful of attempts, growing, jittered.
  const outageLines = linesAfter(agent.proc, mark).filter((l) => Date.parse(l.time!) < backAt);
  const mintWaits = outageLines.filter((l) => /^server unreachable: no SVIDs are minted/.test(l.msg!)).map((l) => Number(l.retry_in_ms));
  const renewWaits = outageLines.filter((l) => l.msg === 'agent SVID renewal failed; retrying').map((l) => Math.round(Number(l.retry_in_ms)));
  const syncWaits = outageLines.filter((l) => l.msg === 'entry sync disconnected; reconnecting').map((l) => Math.round(Number(l.retry_in_ms)));
  t.log(`retry_in_ms during the outage: mint ${JSON.stringify(mintWaits)}; renewal ${JSON.stringify(renewWaits)}; sync ${JSON.stringify(syncWaits)}`);
  const outageS = (backAt - downAt) / 1000;
  t.true(syncWaits.length >= 3 && new Set(syncWaits).size === syncWaits.length, 'sync reconnects are jittered (no two waits alike)');
  t.true(syncWaits.length <= outageS / 0.1, `${syncWaits.length} sync attempts in ${outageS} s: backed off`);
  t.true(syncWaits.at(-1)! > syncWaits[0]!, 'the sync backoff grew');

  figure(t, 'outage (kill -9 → restart begins)', backAt - downAt, 'ms');
  figure(t, 'server started → new workload SVID on the open stream', Date.parse(fresh.at) - startedAt, 'ms');
  figure(t, 'server started → agent SVID renewed', Date.parse(findLine(agent.proc, 'agent SVID renewed', restartMark)!.time!) - startedAt, 'ms');
  figure(t, 'validity left on the old SVID when the new one arrived', Date.parse(held.not_after) - Date.parse(fresh.at), 'ms');
});
