import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { parseAgentConfig, attestorTimeoutMs, COMPOSER_DEFAULT_TIMEOUT_MS } from '../../node-agent/config.ts';
import { workloadComposer } from '../../node-agent/main.ts';
import { readStartTime } from '../../node-agent/peercred/proc.ts';
import type { WorkloadProcess } from '../../attestors/workload/types.ts';
import { FakeKubelet } from '../fakes/kubelet.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The agent's config → composer wiring: the composer's per-attestor timeout must be
 * longer than what any enabled attestor may take by its own config, so the attestor's
 * own error (not a generic "timed out") is what operators see.
 */
const base = { server_address: '127.0.0.1:8081', trust_domain: 'example.org', trust_bundle_path: '/b.pem', node_attestor: { method: 'join_token', join_token: { token: 'abcdefgh' } } };

test('config: the composer timeout covers k8s pod_wait + request timeout and docker\'s two requests, with margin', (t) => {
  t.is(parseAgentConfig(base).workloadAttestorTimeoutMs, COMPOSER_DEFAULT_TIMEOUT_MS, 'unix only: the composer default');
  const k8sDefaults = parseAgentConfig({ ...base, workload_attestors: { k8s: {} } }).workloadAttestorTimeoutMs;
  t.true(k8sDefaults > 4_000 + 3_000, `k8s defaults (pod_wait 4s + timeout 3s): ${k8sDefaults} ms`);
  const k8sLong = parseAgentConfig({ ...base, workload_attestors: { k8s: { pod_wait: '30s', timeout: '10s' } } }).workloadAttestorTimeoutMs;
  t.true(k8sLong > 40_000, `${k8sLong} ms`);
  const docker = parseAgentConfig({ ...base, workload_attestors: { docker: { timeout: '4s' } } }).workloadAttestorTimeoutMs;
  t.true(docker > 8_000, `docker: ${docker} ms`);
  // The slowest enabled attestor decides.
  t.is(attestorTimeoutMs({ k8s: { pod_wait: 1, timeout: 1 }, docker: { timeout: 9 } }), attestorTimeoutMs({ docker: { timeout: 9 } }));
  // The raw sections still reach the composer untouched (it parses them itself).
  t.deepEqual(parseAgentConfig({ ...base, workload_attestors: { k8s: { pod_wait: '30s' } } }).workloadAttestors, { k8s: { pod_wait: '30s' } });
});

function spawnWorkload(t: ExecutionContext): WorkloadProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  return { pid: child.pid!, uid: process.getuid!(), gid: process.getgid!(), startTime: readStartTime(child.pid!) };
}

test('a pod the kubelet never lists fails with the k8s attestor\'s own "not known" error, not the composer timeout', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  kubelet.pods = [];
  const procRoot = tempDir(t, 'pr-');
  const w = spawnWorkload(t);
  const podUid = '11111111-2222-4333-8444-555555555555';
  const containerId = 'c'.repeat(64);
  mkdirSync(join(procRoot, String(w.pid)), { recursive: true });
  writeFileSync(join(procRoot, String(w.pid), 'cgroup'),
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice/cri-containerd-${containerId}.scope\n`);
  // pod_wait 6 s is past the composer's bare 5 s default, which would answer "timed out"
  // (with the defaults, 4 s + a 3 s request, only a slow kubelet shows that); the wired
  // timeout lets the attestor give its own answer.
  const config = parseAgentConfig({
    ...base,
    workload_attestors: { k8s: { kubelet_port: kubelet.port, kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: procRoot, pod_wait: '6s' } },
  });
  const logger = memoryLogger();
  const composer = workloadComposer(config, { logger, clock: systemClock });
  const r = await composer.attest(w);
  t.true(r.selectors.every((s) => s.type === 'unix'));
  const warned = logger.records.filter((x) => x.level === 'warn' && x.attestor === 'k8s').map((x) => String(x.reason));
  t.true(warned.some((m) => /is not known/.test(m) && /after waiting 6s/.test(m)), warned.join('\n'));
  t.false(warned.some((m) => /timed out/.test(m)), warned.join('\n'));
});
