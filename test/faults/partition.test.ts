import test, { type ExecutionContext } from 'ava';
import { X509Certificate } from 'node:crypto';
import { adminCall, startServer } from '../helpers/server.ts';
import { startAgent, watchX509, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { startTcpProxy, type ProxyMode, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { dumpOnFailure, figure, findLine } from './lib.ts';

/**
 * A network partition between a real agent and its server, through a TCP proxy:
 * a blackhole (packets vanish: no RST, no FIN, only the agent's keepalive can tell) and
 * a reset (every connection reset, new ones refused). Each time: one clear warning
 * ("server connection lost"), cached SVIDs keep being served, and when the network
 * heals the agent says so ("server connection restored"), resyncs, and a change made
 * during the partition reaches the workload's open stream.
 */
const UID = process.getuid!();

async function partition(t: ExecutionContext, proxy: TcpProxy, agent: TestAgent, fault: ProxyMode, w: ReturnType<typeof watchX509>, srv: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  const held = w.updates().at(-1)!.svids;
  const mark = agent.proc.stderr().length;
  const cutAt = Date.now();
  proxy.set(fault);
  const lost = await until(`the agent to notice the ${fault.kind} partition`, () => findLine(agent.proc, 'server connection lost', mark), 120_000, 100);
  t.is(lost.level, 'warn');
  figure(t, `${fault.kind}: partition → "server connection lost"`, Date.parse(lost.time!) - cutAt, 'ms');

  // Cached SVIDs are served during the partition.
  const client = new WorkloadApiClient({ address: agent.endpoint });
  t.teardown(() => client.close());
  const during = await client.fetchX509Svids({ timeoutMs: 30_000 });
  t.deepEqual(during.svids.map((s) => new X509Certificate(s.certificates[0]!).serialNumber.toLowerCase()).sort(), held.map((s) => s.serial).sort(), 'the cached SVIDs are served');

  // A change on the server side of the partition.
  const name = `spiffe://example.org/faults/partition/${fault.kind}`;
  await adminCall(srv.admin().entry, 'BatchCreateEntry', { entries: [{ spiffe_id: name, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] }] });

  const healMark = agent.proc.stderr().length;
  const healedAt = Date.now();
  proxy.set({ kind: 'pass' });
  const restored = await until('"server connection restored"', () => findLine(agent.proc, 'server connection restored', healMark), 120_000, 100);
  await until('the entry made during the partition on the stream', () => w.updates().some((u) => u.svids.some((s) => s.spiffe_id === name)), 120_000, 100);
  figure(t, `${fault.kind}: heal → "server connection restored"`, Date.parse(restored.time!) - healedAt, 'ms');
  figure(t, `${fault.kind}: heal → entry made during the partition on the workload stream`, Date.now() - healedAt, 'ms');
  t.is(w.child.exitCode, null, 'the workload stream stayed open');
}

test('a partition between agent and server (blackhole, then reset) is logged clearly and heals by itself', async (t) => {
  t.timeout(420_000);
  const srv = await startServer(t);
  const [host, port] = srv.agentAddress.split(':') as [string, string];
  const proxy = await startTcpProxy(t, { host, port: Number(port) });
  // The agent knows the server only through the proxy.
  const agent = await startAgent(t, { server: { ...srv, agentAddress: `127.0.0.1:${proxy.port}` } });
  dumpOnFailure(t, { agent: () => agent.proc });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/faults/partition', [`unix:uid:${UID}`]);
  const w = watchX509(t, agent.socketPath);
  await until('the first SVID on the stream', () => w.updates().length >= 1, 60_000);

  await partition(t, proxy, agent, { kind: 'stall' }, w, srv);
  await partition(t, proxy, agent, { kind: 'drop' }, w, srv);
  t.is(agent.proc.child.exitCode, null);
});
