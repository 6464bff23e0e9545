import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { dockerWorkloadAttestorFactory, type DockerAttestorConfig } from '../../attestors/workload/docker.ts';
import { INSTANCE_STRENGTH, type WorkloadAttestor } from '../../attestors/workload/types.ts';
import { parseConfig } from '../../common/config.ts';
import { systemClock } from '../../common/clock.ts';
import { TesseraError } from '../../common/errors.ts';
import { memoryLogger } from '../../common/logger.ts';
import { readStartTime } from '../../node-agent/peercred/proc.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { dockerdTests, type Dockerd } from '../helpers/dockerd.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/wait.ts';

/**
 * The docker workload attestor against a real Docker daemon (test/helpers/dockerd.ts):
 * each test starts real containers, takes the host pid of a real process in one, and
 * checks the selectors the attestor derives from /proc/<pid>/cgroup and the Engine API.
 * Error shapes a real daemon cannot easily produce are in docker-attestor.test.ts.
 */
const dtest = await dockerdTests();

/** An image with its own label and env, so image and container metadata both show. */
const LABELLED = 'tessera-test/labelled:1';
const labelled = (d: Dockerd) => d.importBusybox(LABELLED, ['LABEL com.acme.base=busybox', 'ENV APP_TIER=base']);

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

function attestor(d: Dockerd, extra: Record<string, unknown> = {}) {
  const logger = memoryLogger();
  const config = parseConfig(dockerWorkloadAttestorFactory.config, { socket_path: d.socketPath, ...extra }) as DockerAttestorConfig;
  return { a: dockerWorkloadAttestorFactory.create(config, { logger, clock: systemClock }), logger };
}

/** The caller as the agent sees it: a pid (and its start time) from the kernel. */
const caller = (pid: number) => ({ pid, uid: 0, gid: 0, startTime: readStartTime(pid) });

async function selectors(a: WorkloadAttestor, pid: number): Promise<string[]> {
  return (await a.attest(caller(pid))).selectors.map(formatSelector).sort();
}

dtest('a process in a real container gets its labels (image and container), image reference, config digest and name, and a container instance', async (t, d) => {
  const imageId = await labelled(d);
  const name = unique('researcher');
  const c = await d.run(t, { image: LABELLED, name, labels: { 'com.acme.role': 'researcher', team: 'agents' } });
  // The layout under test: the cgroupfs driver's /docker/<id>, as the kernel reports it.
  t.true(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8').includes(`/docker/${c.id}`));

  const r = await attestor(d).a.attest(caller(c.pid));
  t.deepEqual(r.selectors.map(formatSelector).sort(), [
    `docker:container_name:${name}`,
    `docker:image_config_digest:${imageId}`,
    `docker:image_id:${LABELLED}`,
    'docker:label:com.acme.base:busybox',
    'docker:label:com.acme.role:researcher',
    'docker:label:team:agents',
  ]);
  t.deepEqual(r.instance, { strength: INSTANCE_STRENGTH.container, key: `docker:${c.id}` });
});

dtest('image_config_digest is the sha256 of the image config blob that docker save exports', async (t, d) => {
  await labelled(d);
  const c = await d.run(t, { image: LABELLED });
  const digest = (await selectors(attestor(d).a, c.pid)).find((s) => s.startsWith('docker:image_config_digest:'));

  // Independently of image inspect: hash the config file named by the saved manifest.
  const dir = tempDir(t, 'dks-');
  await d.docker(['save', '-o', join(dir, 'image.tar'), LABELLED]);
  await promisify(execFile)('tar', ['-xf', join(dir, 'image.tar'), '-C', dir]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string }[];
  const config = readFileSync(join(dir, manifest[0]!.Config));
  t.is(digest, `docker:image_config_digest:sha256:${createHash('sha256').update(config).digest('hex')}`);
});

dtest('a container started by image ID has that ID as image_id (the reference it was started from)', async (t, d) => {
  const imageId = await labelled(d);
  const c = await d.run(t, { image: imageId });
  const s = await selectors(attestor(d).a, c.pid);
  t.true(s.includes(`docker:image_id:${imageId}`));
  t.true(s.includes(`docker:image_config_digest:${imageId}`));
});

dtest('a process started by docker exec attests as its container: same selectors, same instance', async (t, d) => {
  const c = await d.run(t, { image: await d.baseImage(), name: unique('exec'), labels: { role: 'tool-runner' } });
  const execPid = await d.exec(c.id, ['/bin/sleep', '999999']);
  t.not(execPid, c.pid);
  const { a } = attestor(d);
  const [init, exec] = [await a.attest(caller(c.pid)), await a.attest(caller(execPid))];
  t.deepEqual(exec, init);
  t.true(exec.selectors.map(formatSelector).includes('docker:label:role:tool-runner'));
  t.is(exec.instance?.key, `docker:${c.id}`);
});

dtest('containers under custom cgroup parents are found: nested paths and .slice names', async (t, d) => {
  const image = await d.baseImage();
  const { a } = attestor(d);
  for (const parent of [`/${unique('tessera')}/agents`, `${unique('tessera')}.slice`]) {
    const name = unique('parented');
    const c = await d.run(t, { image, name, cgroupParent: parent });
    const path = `/${parent.replace(/^\//, '')}/${c.id}`;
    t.true(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8').includes(path), `cgroup of ${parent}`);
    const r = await a.attest(caller(c.pid));
    t.true(r.selectors.map(formatSelector).includes(`docker:container_name:${name}`), parent);
    t.is(r.instance?.key, `docker:${c.id}`);
  }
});

dtest('only env_keys become env selectors: image ENV, run -e and empty values; other variables stay out', async (t, d) => {
  await labelled(d);
  const c = await d.run(t, { image: LABELLED, env: ['APP_ROLE=researcher', 'OPENAI_API_KEY=sk-secret', 'EMPTY='] });
  const { a } = attestor(d, { env_keys: ['APP_ROLE', 'APP_TIER', 'EMPTY', 'NOT_SET'] });
  const s = await selectors(a, c.pid);
  t.deepEqual(s.filter((x) => x.startsWith('docker:env:')), ['docker:env:APP_ROLE:researcher', 'docker:env:APP_TIER:base', 'docker:env:EMPTY:']);
  t.false(s.some((x) => x.includes('sk-secret') || x.includes('PATH')));
});

dtest('a label with a newline (docker run --label) is left out with a warning; the other labels attest', async (t, d) => {
  const c = await d.run(t, { image: await d.baseImage(), labels: { note: 'line1\nline2', ok: 'yes' } });
  t.is((await d.api('GET', `/containers/${c.id}/json`)).json.Config.Labels.note, 'line1\nline2', 'the daemon stores the newline');
  const { a, logger } = attestor(d);
  const labels = (await selectors(a, c.pid)).filter((s) => s.startsWith('docker:label:'));
  t.deepEqual(labels, ['docker:label:ok:yes']);
  const warn = logger.records.find((r) => r.level === 'warn');
  t.regex(String(warn?.reason), /control character U\+000A at offset 16/);
  t.false(String(warn?.value).includes('\n'), 'the log shows the value escaped');
});

dtest('every kind of control character in a label key or value is refused, and an over-long label too', async (t, d) => {
  const bad: Record<string, string> = {
    tab: 'a\tb', cr: 'a\rb', nul: 'a\u0000b', esc: 'a\u001b[31mb', del: 'a\u007fb', nel: 'a\u0085b',
    'line-sep': 'a\u2028b', 'para-sep': 'a\u2029b', rlo: 'admin\u202eb', isolate: 'a\u2066b',
    'key\nwith-newline': 'v', big: 'x'.repeat(2000),
  };
  const created = await d.api('POST', `/containers/create?name=${unique('ctl')}`, {
    Image: await d.baseImage(), Cmd: ['/bin/sleep', '1000000'], Labels: { ...bad, ok: 'yes', 'unicode-ok': 'Zürich 東京 🚀' }, HostConfig: { NetworkMode: 'none' },
  });
  t.is(created.status, 201, JSON.stringify(created.json));
  const id = created.json.Id as string;
  t.teardown(() => d.remove(id));
  t.is((await d.api('POST', `/containers/${id}/start`)).status, 204);
  t.deepEqual((await d.api('GET', `/containers/${id}/json`)).json.Config.Labels, { ...bad, ok: 'yes', 'unicode-ok': 'Zürich 東京 🚀' }, 'the daemon keeps every label as given');

  const { a, logger } = attestor(d);
  const labels = (await selectors(a, await d.pidOf(id))).filter((s) => s.startsWith('docker:label:'));
  t.deepEqual(labels, ['docker:label:ok:yes', 'docker:label:unicode-ok:Zürich 東京 🚀']);
  const warnings = logger.records.filter((r) => r.level === 'warn');
  t.is(warnings.length, Object.keys(bad).length);
  t.is(warnings.filter((w) => /control character U\+[0-9A-F]{4}/.test(String(w.reason))).length, Object.keys(bad).length - 1);
});

dtest('a cgroup naming a container this daemon does not know is not_found, with the daemon\'s message', async (t, d) => {
  const unknown = createHash('sha256').update(unique('gone')).digest('hex');
  const procRoot = tempDir(t, 'pr-');
  mkdirSync(join(procRoot, '4242'));
  writeFileSync(join(procRoot, '4242', 'cgroup'), `0::/docker/${unknown}\n`);
  const { a } = attestor(d, { proc_root: procRoot });
  const e = await t.throwsAsync(a.attest({ pid: 4242, uid: 0, gid: 0, startTime: 1n }), { instanceOf: TesseraError });
  t.is(e.kind, 'not_found');
  t.is(e.code, 'ERR_DOCKER_CONTAINER_NOT_FOUND');
  t.regex(e.message, new RegExp(`No such container: ${unknown}`));
});

dtest('a host process (this test) gets no docker selectors', async (t, d) => {
  t.deepEqual(await attestor(d).a.attest(caller(process.pid)), { selectors: [] });
});

dtest('api_version: the daemon\'s own version works; a newer one is ERR_DOCKER_HTTP with the daemon\'s reason', async (t, d) => {
  const c = await d.run(t, { image: await d.baseImage(), labels: { pinned: 'yes' } });
  const version = (await d.api('GET', '/version')).json.ApiVersion as string;
  t.true((await selectors(attestor(d, { api_version: version }).a, c.pid)).includes('docker:label:pinned:yes'));
  const e = await t.throwsAsync(attestor(d, { api_version: '1.99' }).a.attest(caller(c.pid)), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_DOCKER_HTTP');
  t.regex(e.message, /HTTP 400: .*1\.99 is too new/);
});

dtest('docker restart keeps the container ID, so its new process is the same instance; a second container is another', async (t, d) => {
  const image = await d.baseImage();
  const c = await d.run(t, { image, name: unique('restarted'), labels: { role: 'r' } });
  const { a } = attestor(d);
  const before = await a.attest(caller(c.pid));
  await d.docker(['restart', '-t', '0', c.id]);
  const pid = await until(async () => { const p = await d.pidOf(c.id).catch(() => 0); return p > 0 && p !== c.pid ? p : undefined; }, 'the restarted process');
  t.deepEqual(await a.attest(caller(pid)), before);

  const other = await d.run(t, { image, labels: { role: 'r' } });
  const second = await a.attest(caller(other.pid));
  t.not(second.instance?.key, before.instance?.key);
  t.is(second.instance?.key, `docker:${other.id}`);
});

dtest('untagging the image under a running container changes nothing: the daemon keeps the image by ID', async (t, d) => {
  const tag = `tessera-test/${unique('untag')}:1`;
  const imageId = await d.importBusybox(tag);
  const c = await d.run(t, { image: tag });
  const { a } = attestor(d);
  const before = await selectors(a, c.pid);
  t.true(before.includes(`docker:image_config_digest:${imageId}`));
  await d.docker(['rmi', '-f', tag]);
  t.is((await d.api('GET', `/images/${encodeURIComponent(tag)}/json`)).status, 404, 'the tag is gone');
  t.deepEqual(await selectors(a, c.pid), before);
});
