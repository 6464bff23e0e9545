import test from 'ava';
import { WorkloadApiClient, type WorkloadApiError } from '../../spiffe/workloadapi/client.ts';
import { startServer } from '../helpers/server.ts';
import { startAgent, watchX509 } from '../helpers/agent.ts';
import { freePort, spawnTs } from '../helpers/proc.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';

/**
 * A server outage longer than the workload SVID's lifetime, with real server, agent
 * and workload processes. The open FetchX509SVID stream must get a new SVID as soon
 * as the server answers again (not at some later rotation), and the outage must cost
 * a number of mint attempts set by the backoff schedule, not one per request.
 * The agent runs with a 2 s Workload API idle timeout: silent connections are closed,
 * the stream (a connection with an open call) outlives the whole outage.
 */

// The watching workload (a separate process) and this test process (the in-process
// client making requests during the outage) both run as this uid: one shared SVID.
const UID = process.getuid!();
/** Requests made while the stream's SVID is expired and the server is down. */
const REQUESTS = 60;

const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('an open stream whose SVID expired during a server outage gets a new one when the server is back; the outage costs attempts per backoff step, not per request', async (t) => {
  t.timeout(240_000);
  // A fixed port, so the restarted server is where the agent's config says it is.
  const port = await freePort();
  const srv = await startServer(t, { config: { agent_api: { listen: `127.0.0.1:${port}` }, svid: { x509_ttl: '20s' } } });
  const agent = await startAgent(t, { server: srv, config: { workload_api: { idle_timeout: '2s' } } });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/outage', [`unix:uid:${UID}`]);
  const w = watchX509(t, agent.socketPath);
  await until('first update', () => w.updates().length >= 1, 30_000);
  // Connections that never send a request are closed by the agent (the holder never closes one itself).
  const holder = spawnTs(t, 'test/fixtures/hold-connections.ts', [agent.socketPath, '5']);
  await holder.waitFor(/"event":"closed","n":5\b/, 30_000);

  await srv.stop();
  const outageMark = agent.proc.stderr().length;
  const seenBeforeOutage = w.updates().length;
  const held = w.updates().at(-1)!.svids[0]!;
  // The stream's SVID runs out while the server is down (20 s TTL, rotation fails at ~10 s).
  await until('the stream\'s SVID has expired', () => Date.now() > Date.parse(held.not_after), 60_000, 100);

  // Workloads keep asking: each request fails (nothing valid to serve, server down).
  const client = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => client.close());
  const outcomes: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    outcomes.push(await client.fetchX509Svids({ timeoutMs: 10_000 }).then(() => 'served', (e: WorkloadApiError) => e.message));
    await new Promise((r) => setTimeout(r, 200)); // paced like a polling workload
  }
  t.deepEqual(outcomes.filter((o) => !o.startsWith('UNAVAILABLE')), [], 'every request during the outage fails with UNAVAILABLE');
  t.is(w.updates().length, seenBeforeOutage, 'nothing was pushed during the outage');

  const restartMark = agent.proc.stderr().length;
  const backAfter = Date.now();
  await srv.restart();
  t.is(srv.agentAddress, `127.0.0.1:${port}`);

  // The open stream (the same process, never reconnected) gets a new, valid SVID.
  const update = await until('a new SVID on the open stream', () => w.updates().slice(seenBeforeOutage).find((u) => u.svids[0]?.serial !== held.serial), 60_000, 100);
  const fresh = update.svids[0]!;
  t.is(fresh.spiffe_id, 'spiffe://example.org/outage');
  t.not(fresh.serial, held.serial);
  t.true(Date.parse(fresh.not_after) > Date.parse(held.not_after));
  t.true(Date.parse((update as unknown as { at: string }).at) >= backAfter, 'the update came after the server was back');
  t.is(w.child.exitCode, null, 'the stream stayed open throughout');

  // Triggered by recovery: the agent heard from the server again, then re-minted the
  // expired SVID in one rotation batch, which published it to the stream.
  const after = lines(agent.proc.stderr().slice(restartMark));
  const reachable = after.findIndex((l) => l.msg === 'server reachable again: minting resumes');
  const reminted = after.findIndex((l) => l.msg === 'rotated X.509-SVIDs' && Number(l.expired_or_missing) >= 1);
  t.true(reachable >= 0, 'agent logged the end of the outage');
  t.true(reminted > reachable, 'the expired SVID was re-minted after the server was reached');

  // Mint attempts and their log lines during the outage follow the backoff schedule.
  const during = lines(agent.proc.stderr().slice(outageMark, restartMark));
  const count = (msg: string) => during.filter((l) => l.msg === msg).length;
  const attempts = count('server unreachable: no SVIDs are minted until the next attempt; valid SVIDs keep being served');
  const perRequest = count('cannot mint X.509-SVID') + count('workload stream update failed');
  t.log(`outage: ${REQUESTS} requests after expiry; ${attempts} mint attempts logged, ${perRequest} per-request warnings/errors`);
  t.true(attempts >= 1);
  t.true(attempts <= REQUESTS / 4, `${attempts} attempts for ${REQUESTS} requests`);
  t.true(count('cannot mint X.509-SVID') >= 1, 'the failing requests were logged (rate-limited)');
  t.true(perRequest <= REQUESTS / 10, `${perRequest} per-request log lines for ${REQUESTS} requests`);
});
