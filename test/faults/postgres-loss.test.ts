import test, { type ExecutionContext } from 'ava';
import { tmpdir } from 'node:os';
import { adminCall, startServer } from '../helpers/server.ts';
import { agentCli, startAgent, watchX509 } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import type { ProxyMode } from '../helpers/tcp-proxy.ts';
import { until as untilAsync } from '../helpers/wait.ts';
import { dumpOnFailure, figure, findLine, postgresBehindProxy } from './lib.ts';

/**
 * PostgreSQL lost while a real server serves a real agent and workloads: every
 * datastore connection reset (and new ones refused), then a stall (packets vanish).
 * Served workloads keep their SVIDs and the agent's sync stream stays up; what needs
 * the database fails with UNAVAILABLE within its deadline (none hangs). When the
 * network heals, the server recovers by itself: writes succeed and reach the workload.
 * A workload never seen before still gets an SVID during the outage: agent RPC
 * authentication falls back to the entry index's agent record when the database is down.
 * test/server/datastore-faults.test.ts covers each fault in depth without an agent.
 */
const DATASTORE_TIMEOUTS = { connect_timeout: '2s', statement_timeout: '3s', pool_wait_timeout: '3s', keepalive: '1s' };
const UID = process.getuid!();

async function rig(t: ExecutionContext, dump = true) {
  const pg = await postgresBehindProxy(t, 'tessera_pgloss');
  if (!pg) return undefined;
  const { proxy, viaProxy } = pg;
  const srv = await startServer(t, { config: { datastore: { kind: 'postgres', connection: viaProxy, ...DATASTORE_TIMEOUTS } } });
  const agent = await startAgent(t, { server: srv });
  if (dump) dumpOnFailure(t, { agent: () => agent.proc, server: () => srv.proc });
  return { proxy, srv, agent };
}

test('PostgreSQL reset and stalled under a live agent: served SVIDs stay, the sync stream stays up, writes fail fast, everything recovers by itself', async (t) => {
  t.timeout(420_000);
  const r0 = await rig(t);
  if (!r0) { t.pass('skipped: no PostgreSQL at 127.0.0.1:5432'); return; }
  const { proxy, srv, agent } = r0;
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/faults/pg/watcher', [`unix:uid:${UID}`]);
  // One workload per fault that asks for the first time during the outage (the agent must mint).
  const newcomers: Record<string, number> = { drop: 2001, stall: 2002 };
  for (const [kind, uid] of Object.entries(newcomers)) await createEntry(srv, agent.spiffeId, `spiffe://example.org/faults/pg/${kind}`, [`unix:uid:${uid}`]);
  const w = watchX509(t, agent.socketPath);
  await until('the first SVID on the stream', () => w.updates().length >= 1, 60_000);
  let exited = false;
  void srv.proc.exited.then(() => { exited = true; });

  for (const fault of [{ kind: 'drop' }, { kind: 'stall' }] as ProxyMode[]) {
    const agentMark = agent.proc.stderr().length;
    proxy.set(fault);

    // Workloads already served keep their SVIDs; one never seen before needs a mint.
    const cached = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', agent.socketPath], { env: { HOME: tmpdir() } });
    t.is(cached.code, 0, `a served workload still gets its SVID during ${fault.kind}: ${cached.stderr}`);
    const uid = newcomers[fault.kind]!;
    const fetchAt = Date.now();
    const fresh = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', agent.socketPath, '--timeout', '60s'], { uid, gid: uid, env: { HOME: tmpdir() } });
    t.log(`${fault.kind}: a new workload's first fetch during the outage: exit ${fresh.code} after ${Date.now() - fetchAt} ms ${fresh.stderr.trim()}`);

    const writeAt = Date.now();
    const refused = await adminCall(srv.admin().entry, 'BatchCreateEntry', {
      entries: [{ spiffe_id: `spiffe://example.org/faults/pg/during-${fault.kind}`, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] }],
    }).then(() => undefined, (e: Error & { grpcCode?: number; code?: string }) => e);
    t.is(refused?.grpcCode, 14, `a write during ${fault.kind} fails with UNAVAILABLE: ${refused?.code} ${refused?.message}`);
    figure(t, `${fault.kind}: admin write during the outage → UNAVAILABLE`, Date.now() - writeAt, 'ms');
    t.falsy(findLine(agent.proc, 'entry sync disconnected; reconnecting', agentMark), 'the agent\'s sync stream stayed up');
    t.false(exited, 'the server is still running');

    const healedAt = Date.now();
    proxy.set({ kind: 'pass' });
    let attempt = 0;
    const name = await untilAsync(async () => {
      // A new name each try: an attempt whose answer was lost may have committed.
      const spiffeId = `spiffe://example.org/faults/pg/after-${fault.kind}-${++attempt}`;
      const ok = await adminCall<{ results: { status: { code: number } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
        entries: [{ spiffe_id: spiffeId, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] }],
      }).then((x) => x.results[0]!.status.code === 0, () => false);
      return ok ? spiffeId : undefined;
    }, 'a write to succeed after healing', 120_000);
    figure(t, `${fault.kind}: heal → first successful write`, Date.now() - healedAt, 'ms');
    await until('the write on the workload stream', () => w.updates().some((u) => u.svids.some((s) => s.spiffe_id === name)), 120_000, 100);
    figure(t, `${fault.kind}: heal → write on the workload's stream`, Date.now() - healedAt, 'ms');
  }
  t.is(w.child.exitCode, null, 'the workload stream stayed open');
  t.notRegex(srv.proc.stderr(), /Unhandled 'error' event/);
});

test('a workload never seen before is issued an SVID while PostgreSQL is down (agents authenticate from the entry index)', async (t) => {
  t.timeout(240_000);
  const r = await rig(t, false);
  if (!r) { t.fail('no PostgreSQL at 127.0.0.1:5432'); return; }
  await createEntry(r.srv, r.agent.spiffeId, 'spiffe://example.org/faults/pg/newcomer', ['unix:uid:2003']);
  r.proxy.set({ kind: 'drop' });
  const fresh = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', r.agent.socketPath, '--timeout', '60s'], { uid: 2003, gid: 2003, env: { HOME: tmpdir() } });
  t.is(fresh.code, 0, fresh.stderr);
});
