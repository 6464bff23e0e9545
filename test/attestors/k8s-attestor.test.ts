import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { k8sWorkloadAttestorFactory, type K8sAttestorConfig } from '../../attestors/workload/k8s.ts';
import { INSTANCE_STRENGTH, type WorkloadProcess } from '../../attestors/workload/types.ts';
import { parseConfig } from '../../common/config.ts';
import { systemClock } from '../../common/clock.ts';
import { ConfigError, TesseraError } from '../../common/errors.ts';
import { memoryLogger } from '../../common/logger.ts';
import { until } from '../helpers/wait.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { FakeKubelet, makeTestPki, type FakePod } from '../fakes/kubelet.ts';
import { freePort } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

const cid = (name: string) => createHash('sha256').update(name).digest('hex');
const POD_UID = '3f6b2a10-9c4d-4e8f-a1b2-c3d4e5f60718';
const OTHER_UID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const PID = 31337;
const proc: WorkloadProcess = { pid: PID, uid: 1000, gid: 1000, startTime: 99n };

const researcherPod = (containerId = cid('researcher')): FakePod => ({
  uid: POD_UID,
  name: 'researcher-7d9f8c6b5-x2x7q',
  namespace: 'agents',
  serviceAccount: 'researcher',
  nodeName: 'node-1',
  labels: { app: 'researcher', 'pod-template-hash': '7d9f8c6b5' },
  containers: [
    { name: 'agent', id: containerId, image: 'ghcr.io/acme/researcher:2.1', imageId: 'ghcr.io/acme/researcher@sha256:' + cid('digest') },
    { name: 'sidecar', id: cid('sidecar'), image: 'envoyproxy/envoy:v1.31' },
  ],
});
const otherPod: FakePod = {
  uid: OTHER_UID, name: 'writer-0', namespace: 'agents', serviceAccount: 'writer',
  containers: [{ name: 'agent', id: cid('writer'), image: 'ghcr.io/acme/writer:1.0' }],
};

/** systemd driver, cgroup v2, containerd: the pod UID appears with underscores. */
const podCgroup = (uid: string, id: string) =>
  `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${id}.scope\n`;

function procRoot(t: ExecutionContext, cgroup: string): string {
  const root = tempDir(t, 'pr-');
  mkdirSync(join(root, String(PID)));
  writeFileSync(join(root, String(PID), 'cgroup'), cgroup);
  return root;
}

function make(config: Record<string, unknown>) {
  const logger = memoryLogger();
  const c = parseConfig(k8sWorkloadAttestorFactory.config, config) as K8sAttestorConfig;
  return { a: k8sWorkloadAttestorFactory.create(c, { logger, clock: systemClock }), logger };
}

const kubeletConfig = (k: FakeKubelet) => ({ kubelet_port: k.port, kubelet_ca_path: k.caPath, token_path: k.tokenPath });

async function setup(t: ExecutionContext, extra: Record<string, unknown> = {}, cgroup = podCgroup(POD_UID, cid('researcher'))) {
  const kubelet = await FakeKubelet.start(t);
  const { a, logger } = make({ ...kubeletConfig(kubelet), proc_root: procRoot(t, cgroup), pod_wait: '1s', poll_interval: '50ms', ...extra });
  return { kubelet, a, logger };
}

test('k8s: the caller\'s pod and container give ns, sa, pod, label, container, image and node selectors', async (t) => {
  const { kubelet, a } = await setup(t);
  kubelet.pods = [otherPod, researcherPod()];
  const r = await a.attest(proc);
  t.deepEqual(r.selectors.map(formatSelector).sort(), [
    'k8s:container-image:ghcr.io/acme/researcher:2.1',
    'k8s:container-image:ghcr.io/acme/researcher@sha256:' + cid('digest'),
    'k8s:container-name:agent',
    'k8s:node-name:node-1',
    'k8s:ns:agents',
    `k8s:pod-label:app:researcher`,
    'k8s:pod-label:pod-template-hash:7d9f8c6b5',
    'k8s:pod-name:researcher-7d9f8c6b5-x2x7q',
    `k8s:pod-uid:${POD_UID}`,
    'k8s:sa:researcher',
  ]);
  t.deepEqual(r.instance, { strength: INSTANCE_STRENGTH.pod, key: `k8s:${POD_UID}/agent/${cid('researcher')}` });
});

test('k8s: a restarted container (new container ID) is a new instance; the same container keeps its key', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const first = make({ ...kubeletConfig(kubelet), proc_root: procRoot(t, podCgroup(POD_UID, cid('run-1'))), pod_wait: 0 }).a;
  kubelet.pods = [researcherPod(cid('run-1'))];
  const k1 = (await first.attest(proc)).instance!.key;
  t.is((await first.attest({ ...proc, pid: PID, startTime: 100n })).instance!.key, k1);
  const restarted = make({ ...kubeletConfig(kubelet), proc_root: procRoot(t, podCgroup(POD_UID, cid('run-2'))), pod_wait: 0 }).a;
  kubelet.pods = [researcherPod(cid('run-2'))];
  const k2 = (await restarted.attest(proc)).instance!.key;
  t.not(k1, k2);
  t.true(k2.startsWith(`k8s:${POD_UID}/agent/`));
});

test('k8s: an init container is matched too', async (t) => {
  const { kubelet, a } = await setup(t, {}, podCgroup(POD_UID, cid('init')));
  kubelet.pods = [{ ...researcherPod(), containers: [...researcherPod().containers, { name: 'fetch-model', id: cid('init'), image: 'busybox:1.36', init: true }] }];
  t.true((await a.attest(proc)).selectors.map(formatSelector).includes('k8s:container-name:fetch-model'));
});

test('k8s: a host process gets no k8s selectors and the kubelet is not asked', async (t) => {
  const { kubelet, a } = await setup(t, {}, '0::/system.slice/sshd.service\n');
  t.deepEqual(await a.attest(proc), { selectors: [] });
  t.is(kubelet.requests, 0);
});

test('k8s: a plain docker container (no pod) gets no k8s selectors', async (t) => {
  const { kubelet, a } = await setup(t, {}, `0::/system.slice/docker-${cid('plain')}.scope\n`);
  t.deepEqual(await a.attest(proc), { selectors: [] });
  t.is(kubelet.requests, 0);
});

test('k8s: a pod the kubelet learns of during the wait is attested', async (t) => {
  // The pod shows up on the third list; pod_wait only bounds a pod that never does
  // (3 s did not always cover three kubelet round trips on a busy machine).
  const { kubelet, a } = await setup(t, { pod_wait: '60s' });
  kubelet.addPodAfterLists(2, researcherPod());
  const r = await a.attest(proc);
  t.true(r.selectors.map(formatSelector).includes('k8s:sa:researcher'));
  t.is(kubelet.requests, 3);
});

test('k8s: a pod that never appears is permission_denied within the bound, not a hang', async (t) => {
  const { kubelet, a } = await setup(t, { pod_wait: '600ms', poll_interval: '100ms' });
  kubelet.pods = [otherPod];
  const started = Date.now();
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  const elapsed = Date.now() - started;
  t.is(e.kind, 'permission_denied');
  t.is(e.code, 'ERR_K8S_POD_NOT_FOUND');
  t.regex(e.message, new RegExp(`pod ${POD_UID}.*is not known.*after waiting 0.6s`));
  // It waited out pod_wait (a lower bound: a busy machine only makes it later). That it
  // ended at all, with this error, is the "not a hang" part: no upper bound on a shared machine.
  t.true(elapsed >= 550, `gave up after ${elapsed} ms, before pod_wait`);
});

test('k8s: a known pod without the caller\'s container is permission_denied and says so', async (t) => {
  const { kubelet, a } = await setup(t, { pod_wait: 0 }, podCgroup(POD_UID, cid('stale')));
  kubelet.pods = [researcherPod()];
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_K8S_POD_NOT_FOUND');
  t.regex(e.message, new RegExp(`pod ${POD_UID} has no container ${cid('stale')}`));
});

test('k8s: the caller going away ends the wait promptly', async (t) => {
  const { kubelet, a } = await setup(t, { pod_wait: '60s' });
  const ac = new AbortController();
  // Abandoned once the wait for the pod has begun (the kubelet was asked).
  void until(() => kubelet.requests > 0, 'the first pod list').then(() => ac.abort());
  const e = await t.throwsAsync(a.attest(proc, ac.signal), { instanceOf: TesseraError });
  // ABORTED, not POD_NOT_FOUND after the 60 s pod_wait: the abort ended the wait.
  t.is(e.code, 'ERR_K8S_ABORTED');
});

test('k8s: a rejected token is an unauthenticated error (HTTP 401)', async (t) => {
  const { kubelet, a } = await setup(t);
  writeFileSync(kubelet.tokenPath, 'wrong-token');
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'unauthenticated');
  t.is(e.code, 'ERR_KUBELET_UNAUTHORIZED');
});

test('k8s: a rotated token file is picked up without a restart', async (t) => {
  const { kubelet, a } = await setup(t, { pod_cache_ttl: 0 });
  kubelet.pods = [researcherPod()];
  const good = kubelet.token;
  writeFileSync(kubelet.tokenPath, 'expired');
  await t.throwsAsync(a.attest(proc), { code: 'ERR_KUBELET_UNAUTHORIZED' });
  writeFileSync(kubelet.tokenPath, good);
  await t.notThrowsAsync(a.attest(proc));
});

test('k8s: a client certificate authenticates instead of a token', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  kubelet.pods = [researcherPod()];
  const { a } = make({
    kubelet_port: kubelet.port, kubelet_ca_path: kubelet.caPath, token_path: join(kubelet.dir, 'no-such-token'),
    client_cert_path: kubelet.clientCertPath, client_key_path: kubelet.clientKeyPath,
    proc_root: procRoot(t, podCgroup(POD_UID, cid('researcher'))),
  });
  t.true((await a.attest(proc)).selectors.map(formatSelector).includes('k8s:ns:agents'));
});

test('k8s: a kubelet 500 is an unavailable error with the kubelet\'s reason', async (t) => {
  const { kubelet, a } = await setup(t);
  kubelet.mode = { kind: 'status', status: 500, body: 'Internal Error: runtime not ready' };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'unavailable');
  t.is(e.code, 'ERR_KUBELET_HTTP');
  t.regex(e.message, /HTTP 500: Internal Error: runtime not ready/);
});

test('k8s: malformed JSON is a typed error', async (t) => {
  const { kubelet, a } = await setup(t);
  kubelet.mode = { kind: 'malformed', body: '{"kind":"PodList","items":[{"metadata":' };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_KUBELET_MALFORMED_RESPONSE');
  t.regex(e.message, /not valid JSON/);
});

test('k8s: JSON that is not a PodList is a typed error', async (t) => {
  const { kubelet, a } = await setup(t);
  kubelet.mode = { kind: 'malformed', body: '{"kind":"Status","items":5}' };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_KUBELET_MALFORMED_RESPONSE');
  t.regex(e.message, /PodList/);
});

test('k8s: an oversized pod list is cut off at the limit', async (t) => {
  const { kubelet, a } = await setup(t, { max_response_bytes: 256 * 1024 });
  kubelet.mode = { kind: 'oversized', bytes: 32 * 1024 * 1024 };
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'resource_exhausted');
  t.is(e.code, 'ERR_KUBELET_RESPONSE_TOO_LARGE');
});

test('k8s: a kubelet that is down is an unavailable error naming it', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const port = await freePort();
  const { a } = make({ kubelet_port: port, kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: procRoot(t, podCgroup(POD_UID, cid('researcher'))) });
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_KUBELET_UNAVAILABLE');
  t.regex(e.message, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
});

test('k8s: a kubelet certificate from another CA is refused', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const otherCa = join(tempDir(t, 'ca-'), 'ca.crt');
  writeFileSync(otherCa, (await makeTestPki()).caPem);
  const { a } = make({ kubelet_port: kubelet.port, kubelet_ca_path: otherCa, token_path: kubelet.tokenPath, proc_root: procRoot(t, podCgroup(POD_UID, cid('researcher'))) });
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_KUBELET_UNAVAILABLE');
  t.is(kubelet.requests, 0);
});

test('k8s: kubelet_server_name checks the name in the kubelet certificate', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  kubelet.pods = [researcherPod()];
  const root = procRoot(t, podCgroup(POD_UID, cid('researcher')));
  const ok = make({ ...kubeletConfig(kubelet), kubelet_server_name: 'node-1', proc_root: root }).a;
  await t.notThrowsAsync(ok.attest(proc));
  const wrong = make({ ...kubeletConfig(kubelet), kubelet_server_name: 'node-2', proc_root: root }).a;
  const e = await t.throwsAsync(wrong.attest(proc), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_KUBELET_UNAVAILABLE');
  t.regex(e.message, /node-2/);
});

test('k8s: a missing CA file is a failed_precondition naming the file', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const missing = join(kubelet.dir, 'missing-ca.crt');
  const { a } = make({ kubelet_port: kubelet.port, kubelet_ca_path: missing, token_path: kubelet.tokenPath, proc_root: procRoot(t, podCgroup(POD_UID, cid('researcher'))) });
  const e = await t.throwsAsync(a.attest(proc), { instanceOf: TesseraError });
  t.is(e.kind, 'failed_precondition');
  t.true(e.message.includes(missing));
});

test('k8s: the read-only port is plain HTTP, only when configured, and logged as such', async (t) => {
  const kubelet = await FakeKubelet.start(t, { plainHttp: true });
  kubelet.pods = [researcherPod()];
  const { a, logger } = make({ kubelet_read_only_port: kubelet.port, proc_root: procRoot(t, podCgroup(POD_UID, cid('researcher'))) });
  t.true((await a.attest(proc)).selectors.map(formatSelector).includes('k8s:sa:researcher'));
  t.true(logger.records.some((r) => r.level === 'warn' && String(r.msg).includes('read-only port')));
});

test('k8s: /pods is cached briefly and shared between concurrent callers', async (t) => {
  const { kubelet, a } = await setup(t, { pod_cache_ttl: '5s' });
  kubelet.pods = [researcherPod()];
  await Promise.all([a.attest(proc), a.attest(proc), a.attest(proc)]);
  t.is(kubelet.requests, 1);
  await a.attest(proc);
  t.is(kubelet.requests, 1);
});

test('k8s: a cached list without the caller\'s pod is refreshed at once', async (t) => {
  const { kubelet, a } = await setup(t, { pod_cache_ttl: '5s', pod_wait: 0 });
  kubelet.pods = [otherPod];
  await t.throwsAsync(a.attest(proc), { code: 'ERR_K8S_POD_NOT_FOUND' });
  const before = kubelet.requests;
  kubelet.pods = [otherPod, researcherPod()];
  await t.notThrowsAsync(a.attest(proc));
  t.is(kubelet.requests, before + 1);
});

test('k8s: config defaults, and cert without key is refused', (t) => {
  const c = parseConfig(k8sWorkloadAttestorFactory.config, {}) as K8sAttestorConfig;
  t.is(c.kubelet_host, '127.0.0.1');
  t.is(c.kubelet_port, 10250);
  t.is(c.kubelet_read_only_port, undefined);
  t.is(c.pod_wait, 4);
  t.is(c.token_path, '/var/run/secrets/kubernetes.io/serviceaccount/token');
  t.throws(() => make({ client_cert_path: '/x.crt' }), { instanceOf: ConfigError, message: /client_cert_path and client_key_path/ });
  t.throws(() => parseConfig(k8sWorkloadAttestorFactory.config, { pod_wait: 'soon' }), { instanceOf: ConfigError, message: /pod_wait/ });
});
