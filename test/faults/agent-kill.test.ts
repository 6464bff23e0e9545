import test from 'ava';
import { tmpdir } from 'node:os';
import { startServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { WorkloadApiClient, type WorkloadApiError } from '../../spiffe/workloadapi/client.ts';
import { agentIds, dumpOnFailure, figure, findLine, kill9, linesAfter, percentile } from './lib.ts';

/**
 * kill -9 of a real agent while workloads hold SDK streams (X509Source with default
 * options, in a separate process), then a restart on the same data dir and socket path
 * (the killed agent left its socket file behind). The agent resumes with the agent SVID
 * it stored (no attestation: its join token was spent at first start and is not sent
 * again), and every source gets an SVID again once the socket is back.
 */
const SOURCES = 8;
const UID = process.getuid!();

interface Line { at: string; source?: number; serial?: string; not_after?: string; error?: string; ready?: number }

test('after kill -9 and restart, the agent resumes its stored identity and every SDK stream gets an SVID again', async (t) => {
  t.timeout(240_000);
  const srv = await startServer(t);
  const agent = await startAgent(t, { server: srv });
  dumpOnFailure(t, { agent: () => agent.proc, server: () => srv.proc });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/faults/sdk', [`unix:uid:${UID}`]);

  // Two workload processes: SDK defaults, and a short retry schedule (100 ms → 1 s) for comparison.
  const env = { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint };
  const workloads = { default: spawnTs(t, 'test/faults/fixtures/sdk-watch.ts', [String(SOURCES)], { env }),
    fast: spawnTs(t, 'test/faults/fixtures/sdk-watch.ts', [String(SOURCES), 'fast'], { env }) };
  const lines = (w: Proc) => w.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  for (const w of Object.values(workloads)) await w.waitFor(/"ready":/, 90_000);

  const serverMark = srv.proc.stderr().length;
  const killedAt = new Date();
  await kill9(agent.proc);
  // The sources notice (their stream fails) while the agent is gone.
  for (const w of Object.values(workloads)) {
    await until('every source to see its stream fail', () => new Set(lines(w).filter((l) => l.error && Date.parse(l.at) >= killedAt.getTime()).map((l) => l.source)).size === SOURCES, 60_000);
  }

  await agent.restart();
  // A workload asking the moment the socket is back is served, never told it has no identity.
  const early = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => early.close());
  const earlyOutcome = await early.fetchX509Svids({ timeoutMs: 60_000 }).then((u) => `served ${u.svids.length}`, (e: WorkloadApiError) => e.code);
  t.true(agent.resumed, 'the agent resumed from its data dir');
  t.truthy(findLine(agent.proc, 'resumed agent identity from data dir, not re-attesting'));
  t.falsy(findLine(agent.proc, 'agent attested'), 'no attestation after the restart');
  t.falsy(findLine(srv.proc, 'agent attested', serverMark), 'the server saw no attestation (the spent join token was not presented)');
  t.deepEqual(await agentIds(srv), [agent.spiffeId], 'still the one attested agent');

  // The socket is back when the agent says it listens; each source's first SVID after that.
  const listening = Date.parse(findLine(agent.proc, 'workload API listening')!.time!);
  for (const [name, w] of Object.entries(workloads)) {
    const firstAfter = await until(`an SVID on every ${name} source after the restart`, () => {
      const firsts = new Map<number, Line>();
      for (const l of lines(w)) if (l.serial && Date.parse(l.at) > killedAt.getTime() && !firsts.has(l.source!)) firsts.set(l.source!, l);
      return firsts.size === SOURCES ? [...firsts.values()] : undefined;
    }, 120_000, 100);
    for (const l of firstAfter) t.true(Date.parse(l.not_after!) > Date.parse(l.at), `${name} source ${l.source} got a valid SVID`);
    const delays = firstAfter.map((l) => Date.parse(l.at) - listening);
    figure(t, `socket back → SVID on the SDK stream, ${SOURCES} sources, ${name} backoff, median / max`, `${percentile(delays, 50)} / ${Math.max(...delays)}`, 'ms');
    const errs = lines(w).filter((l) => l.error && Date.parse(l.at) >= listening).map((l) => `${l.error}@+${Date.parse(l.at) - listening}ms`);
    t.log(`${name}: stream errors after the socket was back: ${errs.join(', ') || 'none'}`);
    t.is(w.child.exitCode, null, `the ${name} workload process kept running`);
  }
  t.is(earlyOutcome, 'served 1', 'a fetch right after the restart gets the SVID');
  figure(t, 'kill -9 → agent socket back (restart incl. node start)', listening - killedAt.getTime(), 'ms');
  const synced = Date.parse(findLine(agent.proc, 'entry sync connected')!.time!);
  figure(t, 'socket back → first entry sync after the restart (a fetch in between finds no entries)', synced - listening, 'ms');
  t.is(linesAfter(agent.proc).filter((l) => l.level === 'error').length, 0, 'the restarted agent logged no error');
});
