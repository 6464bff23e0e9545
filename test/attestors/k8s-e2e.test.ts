import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../helpers/server.ts';
import { startAgent } from '../helpers/agent.ts';
import { ROOT } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { FakeKubelet, type FakePod } from '../fakes/kubelet.ts';

/**
 * End to end: a real server and agent; the agent's k8s attestor reads caller cgroups
 * from a temp proc_root (this test writes <pid>/cgroup for each workload process it
 * spawns) and asks the fake kubelet for pods. An entry with k8s:ns:agents +
 * k8s:sa:researcher is served to the researcher pod's process and not to the writer's.
 */
const cid = (name: string) => createHash('sha256').update(name).digest('hex');
const RESEARCHER_UID = '11111111-2222-4333-8444-555555555555';
const WRITER_UID = '66666666-7777-4888-8999-aaaaaaaaaaaa';
const pod = (uid: string, sa: string, id: string): FakePod =>
  ({ uid, name: `${sa}-0`, namespace: 'agents', serviceAccount: sa, containers: [{ name: 'agent', id, image: `ghcr.io/acme/${sa}:1` }] });

/** Runs `tessera-agent api fetch x509` as a workload "inside" the given pod container. */
function fetchAsPod(procRoot: string, socket: string, podUid: string, containerId: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node-agent/cli/main.ts', 'api', 'fetch', 'x509', '--socket', socket, '--output', 'json'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: tmpdir() } });
    // Written before the process can have connected (tsx start-up alone takes far longer).
    mkdirSync(join(procRoot, String(child.pid)), { recursive: true });
    writeFileSync(join(procRoot, String(child.pid), 'cgroup'),
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice/cri-containerd-${containerId}.scope\n`);
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 30_000);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

test('e2e k8s: an entry for ns agents + sa researcher is served only to the researcher pod', async (t) => {
  t.timeout(120_000);
  const kubelet = await FakeKubelet.start(t);
  kubelet.pods = [pod(RESEARCHER_UID, 'researcher', cid('r')), pod(WRITER_UID, 'writer', cid('w'))];
  const procRoot = tempDir(t, 'pr-');
  const srv = await startServer(t);
  const agent = await startAgent(t, {
    server: srv,
    config: { workload_attestors: { k8s: { kubelet_port: kubelet.port, kubelet_ca_path: kubelet.caPath, token_path: kubelet.tokenPath, proc_root: procRoot, pod_wait: '2s' } } },
  });
  const created = await srv.cli(['entry', 'create', '--spiffe-id', `spiffe://${srv.trustDomain}/agents/researcher`, '--parent-id', agent.spiffeId,
    '--selector', 'k8s:ns:agents', '--selector', 'k8s:sa:researcher']);
  t.is(created.code, 0, created.stderr);

  // The entry reaches the agent over its sync stream; retry until it is there (the
  // deadline only bounds a sync that never comes).
  let researcher = await fetchAsPod(procRoot, agent.socketPath, RESEARCHER_UID, cid('r'));
  for (const deadline = Date.now() + 120_000; Date.now() < deadline && !researcher.stdout.includes('/agents/researcher');) {
    await new Promise((r) => setTimeout(r, 250));
    researcher = await fetchAsPod(procRoot, agent.socketPath, RESEARCHER_UID, cid('r'));
  }
  t.true(researcher.stdout.includes(`spiffe://${srv.trustDomain}/agents/researcher`), `${researcher.stdout}\n${researcher.stderr}`);

  const writer = await fetchAsPod(procRoot, agent.socketPath, WRITER_UID, cid('w'));
  t.false(writer.stdout.includes('/agents/researcher'));
  t.not(writer.code, 0, 'a caller without a matching entry gets no SVID');
});
