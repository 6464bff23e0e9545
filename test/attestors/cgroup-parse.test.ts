import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerFromCgroupFile, containerFromCgroupPath, readContainerRef, type ContainerRef } from '../../attestors/workload/cgroup.ts';
import { TesseraError } from '../../common/errors.ts';
import { tempDir } from '../helpers/tmp.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/cgroup/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
/** Fixture container IDs are sha256(<name>) so each layout has its own, recognisable ID. */
const cid = (name: string) => createHash('sha256').update(name).digest('hex');
const POD = '7d1e2c3a-4b5f-4e6d-8a9b-0c1d2e3f4a5b';

const cases: [file: string, expected: ContainerRef | undefined][] = [
  ['v1-docker-cgroupfs.txt', { containerId: cid('docker-cgroupfs'), runtime: 'docker' }],
  ['v1-docker-systemd.txt', { containerId: cid('docker-systemd'), runtime: 'docker' }],
  ['v2-docker-systemd.txt', { containerId: cid('docker-systemd-v2'), runtime: 'docker' }],
  ['v2-docker-cgroupfs.txt', { containerId: cid('docker-cgroupfs-v2'), runtime: 'docker' }],
  ['v1-kubepods-cgroupfs-docker.txt', { containerId: cid('k-cgfs-docker'), podUid: POD, runtime: 'unknown' }],
  ['v1-kubepods-systemd-docker.txt', { containerId: cid('k-sd-docker'), podUid: POD, runtime: 'docker' }],
  ['v1-kubepods-systemd-crio.txt', { containerId: cid('k-sd-crio'), podUid: POD, runtime: 'crio' }],
  ['v1-kubepods-systemd-containerd.txt', { containerId: cid('k-sd-containerd-v1'), podUid: POD, runtime: 'containerd' }],
  ['v1-kind-nested.txt', { containerId: cid('kind-inner'), podUid: POD, runtime: 'unknown' }],
  ['v2-kubepods-systemd-containerd.txt', { containerId: cid('k-sd-containerd-v2'), podUid: POD, runtime: 'containerd' }],
  ['v2-kubepods-systemd-crio.txt', { containerId: cid('k-sd-crio-v2'), podUid: POD, runtime: 'crio' }],
  ['v2-kubepods-cgroupfs-containerd.txt', { containerId: cid('k-cgfs-containerd-v2'), podUid: POD, runtime: 'unknown' }],
  ['v2-podman.txt', { containerId: cid('podman'), runtime: 'podman' }],
  ['v2-kubepods-crio-conmon.txt', undefined],
  ['v1-host-process.txt', undefined],
  ['v2-host-process.txt', undefined],
  ['v2-host-service.txt', undefined],
];

for (const [file, expected] of cases) {
  test(`cgroup: ${file} → ${expected ? `container${expected.podUid ? ' in pod' : ''} (${expected.runtime})` : 'host process, no container'}`, (t) => {
    t.deepEqual(containerFromCgroupFile(fixture(file), file), expected);
  });
}

test('cgroup: systemd pod UIDs with underscores become the canonical dashed UID', (t) => {
  const ref = containerFromCgroupPath(`/kubepods.slice/kubepods-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-${cid('x')}.scope`);
  t.is(ref?.podUid, POD);
});

test('cgroup: the innermost container wins, and a pod UID only applies to containers below it', (t) => {
  const outer = cid('outer'); const inner = cid('inner');
  t.deepEqual(containerFromCgroupPath(`/docker/${outer}/docker/${inner}`), { containerId: inner, runtime: 'docker' });
  t.deepEqual(containerFromCgroupPath(`/docker/${outer}/kubepods/pod${POD}`), { containerId: outer, runtime: 'docker' });
});

test('cgroup: paths relative to a cgroup namespace root ("/../..") still yield the pod and container', (t) => {
  t.deepEqual(containerFromCgroupPath(`/../../pod${POD}/${cid('ns')}`), { containerId: cid('ns'), podUid: POD, runtime: 'unknown' });
});

test('cgroup: look-alikes are not containers (short IDs, uppercase, session scopes)', (t) => {
  t.is(containerFromCgroupPath('/docker/abc123'), undefined);
  t.is(containerFromCgroupPath(`/docker/${cid('u').toUpperCase()}`), undefined);
  t.is(containerFromCgroupPath('/user.slice/user-1000.slice/session-12.scope'), undefined);
  t.is(containerFromCgroupPath('/'), undefined);
});

test('cgroup: a line without three fields is rejected, naming the line', (t) => {
  const e = t.throws(() => containerFromCgroupFile(fixture('malformed-no-path.txt'), 'fixture'), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_CGROUP_MALFORMED');
  t.regex(e.message, /fixture: line 2 is malformed/);
});

test('cgroup: a relative path is rejected', (t) => {
  const e = t.throws(() => containerFromCgroupFile(fixture('malformed-relative-path.txt')), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_CGROUP_MALFORMED');
});

test('cgroup: a non-numeric hierarchy id is rejected', (t) => {
  const e = t.throws(() => containerFromCgroupFile('x:memory:/docker\n'), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_CGROUP_MALFORMED');
});

test('cgroup: lines naming different containers are ambiguous, not a guess', (t) => {
  const e = t.throws(() => containerFromCgroupFile(fixture('ambiguous-two-containers.txt')), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_CGROUP_AMBIGUOUS');
  t.regex(e.message, new RegExp(cid('amb-a')));
});

test('cgroup: readContainerRef reads <procRoot>/<pid>/cgroup', async (t) => {
  const root = tempDir(t, 'cg-');
  mkdirSync(join(root, '4242'));
  writeFileSync(join(root, '4242', 'cgroup'), fixture('v2-kubepods-systemd-containerd.txt'));
  t.deepEqual(await readContainerRef(root, 4242), { containerId: cid('k-sd-containerd-v2'), podUid: POD, runtime: 'containerd' });
});

test('cgroup: a vanished process is a not_found error naming the file', async (t) => {
  const root = tempDir(t, 'cg-');
  const e = await t.throwsAsync(readContainerRef(root, 999999), { instanceOf: TesseraError });
  t.is(e.kind, 'not_found');
  t.is(e.code, 'ERR_CGROUP_UNREADABLE');
  t.true(e.message.includes(join(root, '999999', 'cgroup')));
});

test('cgroup: an oversized cgroup file is rejected', async (t) => {
  const root = tempDir(t, 'cg-');
  mkdirSync(join(root, '7'));
  writeFileSync(join(root, '7', 'cgroup'), '0::/x\n'.repeat(20_000));
  const e = await t.throwsAsync(readContainerRef(root, 7), { instanceOf: TesseraError });
  t.is(e.code, 'ERR_CGROUP_MALFORMED');
});

test('cgroup: this test process, read from the real /proc, parses without error', async (t) => {
  await t.notThrowsAsync(readContainerRef('/proc', process.pid));
});
