import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadProcess } from '../../attestors/workload/types.ts';
import { systemClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { parseSelector, selectorSet, selectorsSubsetOf } from '../../spiffe/selector.ts';
import { composerFromConfig } from '../../node-agent/attestation/from-config.ts';
import { readStartTime } from '../../node-agent/peercred/proc.ts';
import { FakeKubelet, type FakePod } from '../fakes/kubelet.ts';
import { freePort } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The agent's attestation path with the real registry and composer: real workload
 * processes (spawned here, read by the unix attestor from the real /proc), their
 * container identity from cgroup files this test writes under a temp proc_root, and
 * pods served by the fake kubelet. An entry's selectors must be a subset of the
 * caller's for the caller to get it.
 */
const cid = (name: string) => createHash('sha256').update(name).digest('hex');
const ENTRY = ['k8s:ns:agents', 'k8s:sa:researcher'].map(parseSelector);

function pod(uid: string, sa: string, containerId: string): FakePod {
  return { uid, name: `${sa}-0`, namespace: 'agents', serviceAccount: sa, containers: [{ name: 'agent', id: containerId, image: `ghcr.io/acme/${sa}:1` }] };
}

/** A real process to attest; ended by its own pid. */
function spawnWorkload(t: ExecutionContext): WorkloadProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  return { pid: child.pid!, uid: process.getuid!(), gid: process.getgid!(), startTime: readStartTime(child.pid!) };
}

function placeInPod(procRoot: string, pid: number, podUid: string, containerId: string): void {
  mkdirSync(join(procRoot, String(pid)), { recursive: true });
  writeFileSync(join(procRoot, String(pid), 'cgroup'),
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice/cri-containerd-${containerId}.scope\n`);
}

test('k8s via the agent composer: an entry for ns agents + sa researcher matches only the researcher pod\'s process', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const procRoot = tempDir(t, 'pr-');
  const researcher = spawnWorkload(t);
  const writer = spawnWorkload(t);
  const host = spawnWorkload(t);
  const rUid = '11111111-2222-4333-8444-555555555555';
  const wUid = '66666666-7777-4888-8999-aaaaaaaaaaaa';
  placeInPod(procRoot, researcher.pid, rUid, cid('r'));
  placeInPod(procRoot, writer.pid, wUid, cid('w'));
  mkdirSync(join(procRoot, String(host.pid)));
  writeFileSync(join(procRoot, String(host.pid), 'cgroup'), '0::/user.slice/user-1000.slice/session-1.scope\n');
  kubelet.pods = [pod(rUid, 'researcher', cid('r')), pod(wUid, 'writer', cid('w'))];

  const composer = composerFromConfig({
    k8s: { kubelet_port: kubelet.port, kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: procRoot, pod_wait: '1s' },
  }, { logger: memoryLogger(), clock: systemClock });

  const r = await composer.attest(researcher);
  t.true(selectorsSubsetOf(ENTRY, selectorSet(r.selectors)));
  t.true(r.selectors.some((s) => s.type === 'unix'), 'unix selectors are still there');
  t.deepEqual(r.instance, { strength: 30, key: `k8s:${rUid}/agent/${cid('r')}` });

  const w = await composer.attest(writer);
  t.true(w.selectors.some((s) => s.type === 'k8s' && s.value === 'sa:writer'));
  t.false(selectorsSubsetOf(ENTRY, selectorSet(w.selectors)));

  const h = await composer.attest(host);
  t.false(h.selectors.some((s) => s.type === 'k8s'));
  t.false(selectorsSubsetOf(ENTRY, selectorSet(h.selectors)));
  t.is(h.instance?.strength, 10);
});

test('k8s via the agent composer: a kubelet outage is logged and unix attestation goes on', async (t) => {
  const kubelet = await FakeKubelet.start(t);
  const procRoot = tempDir(t, 'pr-');
  const researcher = spawnWorkload(t);
  placeInPod(procRoot, researcher.pid, '11111111-2222-4333-8444-555555555555', cid('r'));
  const logger = memoryLogger();
  const composer = composerFromConfig({
    k8s: { kubelet_port: await freePort(), kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: procRoot },
    docker: { socket_path: join(procRoot, 'no-docker.sock'), proc_root: procRoot },
  }, { logger, clock: systemClock });
  const r = await composer.attest(researcher);
  t.true(r.selectors.length > 0);
  t.true(r.selectors.every((s) => s.type === 'unix'));
  t.false(selectorsSubsetOf(ENTRY, selectorSet(r.selectors)));
  const warned = logger.records.filter((x) => x.level === 'warn').map((x) => `${x.attestor}: ${x.reason}`);
  t.true(warned.some((w) => w.startsWith('k8s:') && w.includes('ECONNREFUSED')), warned.join('\n'));
});
