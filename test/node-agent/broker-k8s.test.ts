import test from 'ava';
import type { ExecutionContext } from 'ava';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, sharedScope, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, until } from '../helpers/agent-e2e.ts';
import { spawnTs } from '../helpers/proc.ts';
import { FakeKubelet, type FakePod } from '../fakes/kubelet.ts';
import { loadBrokerApiProto, K8S_OBJECT_REFERENCE_TYPE } from '../../node-agent/broker/proto.ts';
import { kubernetesResolverFromConfig } from '../../node-agent/broker/k8s-resolver.ts';
import { WorkloadReferenceError } from '../../node-agent/broker/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';

/**
 * KubernetesObjectReferences end to end: a real server, an agent with the k8s workload
 * attestor (pointed at a fake kubelet) and a broker section, and a broker process that
 * references pods by uid and by namespace/name. The agent looks each pod up in the
 * kubelet's /pods and gives it the pod's `k8s:` selectors, then matches entries as usual.
 */
const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;
let kubelet: FakeKubelet;
let broker: { send(req: Record<string, unknown>): Promise<Record<string, any>>; lines(id: number): Record<string, any>[] };

const TD = 'spiffe://example.org';
const BROKER = { uid: 0, gid: 4331 };
const uuid = (n: number) => `${String(n).repeat(8)}-${String(n).repeat(4)}-4${String(n).repeat(3)}-8${String(n).repeat(3)}-${String(n).repeat(12)}`;
const pod = (n: number, name: string, sa: string, o: Partial<FakePod> = {}): FakePod => ({
  uid: uuid(n), name, namespace: 'agents', serviceAccount: sa,
  containers: [{ name: 'main', id: String(n).repeat(64), image: `ghcr.io/acme/${sa}:1` }], ...o,
});
const RESEARCHER = pod(1, 'researcher-0', 'researcher');
const WRITER = pod(2, 'writer-0', 'writer');
const PENDING = pod(3, 'pending-0', 'researcher', { containers: [{ name: 'main', image: 'ghcr.io/acme/researcher:1' }] });
const STRANGER = pod(4, 'stranger-0', 'stranger', { namespace: 'elsewhere' });
const SHORT_LIVED = pod(5, 'researcher-1', 'researcher');

function podRef(r: { uid?: string; key?: { namespace: string; name: string }; plural?: string; group?: string }): Record<string, string> {
  const { k8sObject } = loadBrokerApiProto().types;
  const msg = k8sObject.create({ type: { plural: r.plural ?? 'pods', group: r.group ?? 'core' }, ...(r.key ? { key: r.key } : {}), ...(r.uid ? { uid: r.uid } : {}) });
  return { type_url: K8S_OBJECT_REFERENCE_TYPE, value_hex: Buffer.from(k8sObject.encode(msg).finish()).toString('hex') };
}
const ids = (r: Record<string, any>) => r.message?.svids.map((s: { spiffe_id: string }) => s.spiffe_id);

test.before(async () => {
  kubelet = await FakeKubelet.start(scope as unknown as ExecutionContext);
  kubelet.pods = [RESEARCHER, WRITER, PENDING, STRANGER, SHORT_LIVED];
  srv = await startServer(scope);
  const dir = mkdtempSync(join(tmpdir(), 'tbk8-'));
  chmodSync(dir, 0o755);
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const brokerSocket = join(dir, 'broker.sock');
  agent = await startAgent(scope, {
    server: srv,
    config: {
      // An empty proc_root: no caller process is in a pod, so only broker references reach the kubelet.
      workload_attestors: { k8s: { kubelet_port: kubelet.port, kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: dir, pod_wait: '0s' } },
      broker: { socket_path: brokerSocket, allow: [{ spiffe_id: `${TD}/broker` }] },
    },
  });
  await agent.proc.waitFor(/"msg":"broker API listening"/);
  await createEntry(srv, agent.spiffeId, `${TD}/agents/researcher`, ['k8s:ns:agents', 'k8s:sa:researcher']);
  await createEntry(srv, agent.spiffeId, `${TD}/agents/writer`, ['k8s:ns:agents', 'k8s:sa:writer']);
  // Created last: once the broker holds its own SVID, the agent has synced the entries above.
  await createEntry(srv, agent.spiffeId, `${TD}/broker`, [`unix:uid:${BROKER.uid}`, `unix:gid:${BROKER.gid}`]);

  const proc = spawnTs(undefined, 'test/node-agent/broker-fixture.ts', [agent.socketPath, brokerSocket, agent.spiffeId], {
    uid: BROKER.uid, gid: BROKER.gid, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: tmpdir() },
  });
  scope.teardown(() => proc.stop());
  await proc.waitFor(/\{"event":"ready"[^\n]*\}/, 90_000);
  let seq = 0;
  broker = {
    lines: (id) => proc.stdout().split('\n').filter((l) => l.startsWith(`{"id":${id},`)).map((l) => JSON.parse(l)),
    async send(req) {
      const id = ++seq;
      proc.child.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
      return JSON.parse(await proc.waitFor(new RegExp(`\\{"id":${id},[^\\n]*\\}`)));
    },
  };
});
test.after.always(() => scope.cleanup());

test.serial('a pod referenced by uid or by namespace/name gets the SVID of the entry matching its k8s:ns and k8s:sa', async (t) => {
  const byUid = await broker.send({ op: 'x509', ...podRef({ uid: RESEARCHER.uid }) });
  t.deepEqual(ids(byUid), [`${TD}/agents/researcher`], JSON.stringify(byUid));
  const byKey = await broker.send({ op: 'x509', ...podRef({ key: { namespace: 'agents', name: 'researcher-0' } }) });
  t.deepEqual(ids(byKey), [`${TD}/agents/researcher`], JSON.stringify(byKey));
  const both = await broker.send({ op: 'jwt', audience: ['billing'], ...podRef({ uid: RESEARCHER.uid, key: { namespace: 'agents', name: 'researcher-0' } }) });
  t.deepEqual(both.message?.svids, [{ spiffe_id: `${TD}/agents/researcher`, sub: `${TD}/agents/researcher` }], JSON.stringify(both));
  t.deepEqual((await broker.send({ op: 'x509-bundles', ...podRef({ uid: RESEARCHER.uid }) })).message?.bundles, [TD]);
});

test.serial('another pod gets its own entry\'s SVID, never the first pod\'s', async (t) => {
  const w = await broker.send({ op: 'x509', ...podRef({ uid: WRITER.uid }) });
  t.deepEqual(ids(w), [`${TD}/agents/writer`], JSON.stringify(w));
  const wk = await broker.send({ op: 'x509', ...podRef({ key: { namespace: 'agents', name: 'writer-0' } }) });
  t.deepEqual(ids(wk), [`${TD}/agents/writer`], JSON.stringify(wk));
});

test.serial('a pod on this node that no entry matches is PermissionDenied (WORKLOAD_NOT_ENTITLED)', async (t) => {
  const r = await broker.send({ op: 'x509', ...podRef({ uid: STRANGER.uid }) });
  t.is(r.error?.code, 'PERMISSION_DENIED', JSON.stringify(r));
  t.is(r.error.reason, 'WORKLOAD_NOT_ENTITLED');
});

test.serial('a pod the kubelet does not list, one not started, or a key whose pod has another uid is NotFound (WORKLOAD_NOT_FOUND)', async (t) => {
  const cases = [
    { ref: podRef({ uid: uuid(9) }), why: /no such pod on this node/ },
    { ref: podRef({ key: { namespace: 'agents', name: 'nobody-0' } }), why: /no such pod on this node/ },
    { ref: podRef({ uid: PENDING.uid }), why: /pending-0 has no started container/ },
    { ref: podRef({ uid: WRITER.uid, key: { namespace: 'agents', name: 'researcher-0' } }), why: new RegExp(`has uid ${RESEARCHER.uid}, not ${WRITER.uid}`) },
  ];
  for (const c of cases) {
    const r = await broker.send({ op: 'x509', ...c.ref });
    t.is(r.error?.code, 'NOT_FOUND', JSON.stringify(r));
    t.is(r.error.reason, 'WORKLOAD_NOT_FOUND');
    t.regex(r.error.details, c.why);
  }
});

test.serial('objects other than pods, and pod keys without a namespace, are InvalidArgument', async (t) => {
  const dep = await broker.send({ op: 'x509', ...podRef({ plural: 'deployments', group: 'apps', key: { namespace: 'agents', name: 'researcher' } }) });
  t.is(dep.error?.code, 'INVALID_ARGUMENT', JSON.stringify(dep));
  t.is(dep.error.reason, 'WORKLOAD_REFERENCE_INVALID');
  t.regex(dep.error.details, /resolves pods \(plural "pods", group "core"\) only/);
  const noNs = await broker.send({ op: 'x509', ...podRef({ key: { namespace: '', name: 'researcher-0' } }) });
  t.is(noNs.error?.code, 'INVALID_ARGUMENT', JSON.stringify(noNs));
  t.regex(noNs.error.details, /key\.namespace is required/);
});

test.serial('a stream for a pod ends with NotFound once the kubelet no longer lists the pod', async (t) => {
  const first = await broker.send({ op: 'watch', ...podRef({ uid: SHORT_LIVED.uid }) });
  t.deepEqual(ids(first), [`${TD}/agents/researcher`], JSON.stringify(first));
  kubelet.pods = kubelet.pods.filter((p) => p !== SHORT_LIVED);
  const end = await until('stream end', () => broker.lines(first.id as number).find((l) => l.event === 'end'));
  t.is(end.error.code, 'NOT_FOUND');
  t.is(end.error.reason, 'WORKLOAD_NOT_FOUND');
  t.regex(end.error.details, /researcher-1|no such pod/);
});

test('without the k8s workload attestor, a Kubernetes reference is refused with InvalidArgument saying what is missing', async (t) => {
  const resolve = kubernetesResolverFromConfig({}, { logger: silentLogger, clock: systemClock, agentId: () => `${TD}/tessera/agent/x` });
  const e = await t.throwsAsync(resolve({ kind: 'kubernetes_object', type: { plural: 'pods', group: 'core' }, uid: RESEARCHER.uid }));
  t.true(e instanceof WorkloadReferenceError);
  t.is((e as WorkloadReferenceError).reason, 'WORKLOAD_REFERENCE_INVALID');
  t.is((e as WorkloadReferenceError).kind, 'invalid_argument');
  t.regex(e!.message, /kubernetes references need the k8s workload attestor/);
});
