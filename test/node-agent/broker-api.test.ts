import test from 'ava';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, sharedScope, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { spawnTs, type Proc } from '../helpers/proc.ts';
import { loadBrokerApiProto } from '../../node-agent/broker/proto.ts';

/**
 * The SPIFFE Broker API end to end: a real server and agent with a broker section,
 * and brokers as separate processes that hold their own SVIDs (from the Workload
 * API) and spawn the workloads they fetch for, under other uids, so what decides is
 * the agent's own attestation of each referenced pid.
 */
const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;
let brokerSocket: string;
let broker: Broker;

const TD = 'spiffe://example.org';
const BROKER = { uid: 0, gid: 4321 };
const ROGUE = { uid: 0, gid: 4322 };
const CHILD_A = { uid: 5101, gid: 5101 };
const CHILD_B = { uid: 5102, gid: 5102 };
const NOBODY = { uid: 5103, gid: 5103 };
const ROTATING = { uid: 5104, gid: 5104 };

interface Broker { proc: Proc; id: string; send(req: Record<string, unknown>): Promise<Record<string, any>>; lines(id: number): Record<string, any>[] }

async function startBroker(who: { uid: number; gid: number }): Promise<Broker> {
  const proc = spawnTs(undefined, 'test/node-agent/broker-fixture.ts', [agent.socketPath, brokerSocket, agent.spiffeId], {
    uid: who.uid, gid: who.gid, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: tmpdir() },
  });
  scope.teardown(() => proc.stop());
  const ready = JSON.parse(await proc.waitFor(/\{"event":"ready"[^\n]*\}/, 90_000)) as { spiffe_id: string };
  let seq = 0;
  const lines = (id: number) => proc.stdout().split('\n').filter((l) => l.startsWith(`{"id":${id},`)).map((l) => JSON.parse(l));
  return {
    proc, id: ready.spiffe_id, lines,
    async send(req) {
      const id = ++seq;
      proc.child.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
      return JSON.parse(await proc.waitFor(new RegExp(`\\{"id":${id},[^\\n]*\\}`)));
    },
  };
}

test.before(async () => {
  srv = await startServer(scope);
  const dir = mkdtempSync(join(tmpdir(), 'tbk-'));
  chmodSync(dir, 0o755);
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  brokerSocket = join(dir, 'broker.sock');
  agent = await startAgent(scope, { server: srv, config: { broker: { socket_path: brokerSocket, allow: [{ spiffe_id: `${TD}/broker` }] } } });
  await agent.proc.waitFor(/"msg":"broker API listening"/);
  await createEntry(srv, agent.spiffeId, `${TD}/broker`, [`unix:uid:${BROKER.uid}`, `unix:gid:${BROKER.gid}`]);
  await createEntry(srv, agent.spiffeId, `${TD}/rogue-broker`, [`unix:uid:${ROGUE.uid}`, `unix:gid:${ROGUE.gid}`]);
  await createEntry(srv, agent.spiffeId, `${TD}/child-a`, [`unix:uid:${CHILD_A.uid}`]);
  await createEntry(srv, agent.spiffeId, `${TD}/child-b`, [`unix:uid:${CHILD_B.uid}`]);
  broker = await startBroker(BROKER);
});
test.after.always(() => scope.cleanup());

test.serial('a broker gets each spawned workload its own SVIDs and bundles, never the other\'s', async (t) => {
  t.is(broker.id, `${TD}/broker`);
  const a = await broker.send({ op: 'spawn', ...CHILD_A });
  const b = await broker.send({ op: 'spawn', ...CHILD_B, exe: '/usr/bin/tail', args: ['-f', '/dev/null'] });
  const xa = await broker.send({ op: 'x509', pid: a.pid });
  const xb = await broker.send({ op: 'x509', pid: b.pid });
  t.deepEqual(xa.message.svids.map((s: { spiffe_id: string }) => s.spiffe_id), [`${TD}/child-a`], JSON.stringify(xa));
  t.deepEqual(xb.message.svids.map((s: { spiffe_id: string }) => s.spiffe_id), [`${TD}/child-b`], JSON.stringify(xb));
  const ja = await broker.send({ op: 'jwt', pid: a.pid, audience: ['billing'] });
  t.deepEqual(ja.message.svids, [{ spiffe_id: `${TD}/child-a`, sub: `${TD}/child-a` }]);
  t.deepEqual((await broker.send({ op: 'x509-bundles', pid: b.pid })).message.bundles, [TD]);
  t.deepEqual((await broker.send({ op: 'jwt-bundles', pid: b.pid })).message.bundles, [TD]);
});

test.serial('a pid that matches no entry is PermissionDenied (WORKLOAD_NOT_ENTITLED)', async (t) => {
  const n = await broker.send({ op: 'spawn', ...NOBODY });
  for (const op of ['x509', 'jwt', 'x509-bundles']) {
    const r = await broker.send({ op, pid: n.pid });
    t.is(r.error?.code, 'PERMISSION_DENIED', JSON.stringify(r));
    t.is(r.error.reason, 'WORKLOAD_NOT_ENTITLED');
    t.is(r.error.domain, 'spiffe.io');
  }
});

test.serial('a dead pid is NotFound (WORKLOAD_NOT_FOUND)', async (t) => {
  const c = await broker.send({ op: 'spawn', ...CHILD_A });
  await broker.send({ op: 'kill', pid: c.pid });
  const r = await broker.send({ op: 'x509', pid: c.pid });
  t.is(r.error?.code, 'NOT_FOUND', JSON.stringify(r));
  t.is(r.error.reason, 'WORKLOAD_NOT_FOUND');
});

test.serial('bad references are InvalidArgument (WORKLOAD_REFERENCE_INVALID)', async (t) => {
  const bogus = await broker.send({ op: 'x509', type_url: 'type.googleapis.com/example.Bogus', value_hex: '0801' });
  t.is(bogus.error?.code, 'INVALID_ARGUMENT', JSON.stringify(bogus));
  t.is(bogus.error.reason, 'WORKLOAD_REFERENCE_INVALID');
  t.regex(bogus.error.details, /unknown workload reference type "type.googleapis.com\/example.Bogus"/);
  const negative = await broker.send({ op: 'x509', type_url: 'type.googleapis.com/spiffe.broker.WorkloadPIDReference', value_hex: '08ffffffffffffffffff01' });
  t.is(negative.error?.code, 'INVALID_ARGUMENT');
  t.regex(negative.error.details, /positive process id, got -1/);
  // KubernetesObjectReference { type { plural: "pods", group: "core" }, uid: <uuid> }, with no k8s attestor configured.
  const { k8sObject } = loadBrokerApiProto().types;
  const k8s = Buffer.from(k8sObject.encode(k8sObject.create({ type: { plural: 'pods', group: 'core' }, uid: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890' })).finish()).toString('hex');
  const kr = await broker.send({ op: 'x509', type_url: 'type.googleapis.com/spiffe.broker.KubernetesObjectReference', value_hex: k8s });
  t.is(kr.error?.code, 'INVALID_ARGUMENT', JSON.stringify(kr));
  t.regex(kr.error.details, /no k8s workload attestor/);
});

test.serial('a request without the broker.spiffe.io header is InvalidArgument', async (t) => {
  const a = await broker.send({ op: 'spawn', ...CHILD_A });
  const r = await broker.send({ op: 'x509', pid: a.pid, no_header: true });
  t.is(r.error?.code, 'INVALID_ARGUMENT');
  t.regex(r.error.details, /broker\.spiffe\.io/);
});

test.serial('a caller without a client certificate is refused at the handshake', async (t) => {
  const a = await broker.send({ op: 'spawn', ...CHILD_A });
  const r = await broker.send({ op: 'x509', pid: a.pid, no_cert: true });
  t.is(r.error?.code, 'UNAVAILABLE', JSON.stringify(r));
  await agent.proc.waitFor(/refused broker connection[^\n]*(no certificate|presented no certificate)/);
  t.pass();
});

test.serial('a valid SVID that is not an allowed broker is PermissionDenied', async (t) => {
  const rogue = await startBroker(ROGUE);
  t.is(rogue.id, `${TD}/rogue-broker`);
  const a = await rogue.send({ op: 'spawn', ...CHILD_A });
  const r = await rogue.send({ op: 'x509', pid: a.pid });
  t.is(r.error?.code, 'PERMISSION_DENIED', JSON.stringify(r));
  t.regex(r.error.details, /rogue-broker is not an allowed broker/);
  await rogue.proc.stop();
});

test.serial('a stream sends the full state, pushes on change and rotation, and ends when the workload exits', async (t) => {
  await createEntry(srv, agent.spiffeId, `${TD}/rotating`, [`unix:uid:${ROTATING.uid}`], ['--x509-svid-ttl', '60']);
  const w = await broker.send({ op: 'spawn', ...ROTATING });
  const first = await broker.send({ op: 'watch', pid: w.pid });
  const id = first.id as number;
  t.deepEqual(first.message.svids.map((s: { spiffe_id: string }) => s.spiffe_id), [`${TD}/rotating`]);
  const serial = first.message.svids[0].serial as string;
  // A second entry for the same workload: the next message holds both (full state, not a delta).
  await createEntry(srv, agent.spiffeId, `${TD}/rotating-extra`, [`unix:uid:${ROTATING.uid}`]);
  const both = await until('full state with the new entry', () => broker.lines(id).find((l) => l.message?.svids.length === 2));
  t.deepEqual(both.message.svids.map((s: { spiffe_id: string }) => s.spiffe_id).sort(), [`${TD}/rotating`, `${TD}/rotating-extra`]);
  // 60 s TTL (the server's minimum): rotation at 27-33 s; the bound is for a stuck agent only.
  // Every message is the whole state: the rotated SVID arrives next to the other one (on a
  // loaded machine the rotation may even come before the second entry: then that message has both).
  const rotated = await until('rotation pushed', () => broker.lines(id).find((l) => l.message?.svids.length === 2
    && l.message.svids.some((s: { spiffe_id: string; serial: string }) => s.spiffe_id === `${TD}/rotating` && s.serial !== serial)), 180_000, 200);
  t.truthy(rotated);
  await broker.send({ op: 'kill', pid: w.pid });
  const end = await until('stream end', () => broker.lines(id).find((l) => l.event === 'end'));
  t.is(end.error.code, 'NOT_FOUND');
  t.is(end.error.reason, 'WORKLOAD_NOT_FOUND');
});
