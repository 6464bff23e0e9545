import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { DEFAULT_WORKLOAD_SIZE_LIMIT, UnixWorkloadAttestor, unixWorkloadAttestorFactory } from '../../attestors/workload/unix.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { AttestationError } from '../../common/errors.ts';
import { memoryLogger, silentLogger } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { readStartTime } from '../../node-agent/peercred/proc.ts';

/** A fake /proc with one process, plus passwd/group files. */
function fakeHost(t: import('ava').ExecutionContext, opts: { exeContent?: string | Buffer } = {}) {
  const root = tempDir(t, 'ux-');
  const proc = join(root, 'proc');
  const pid = 4321;
  mkdirSync(join(proc, String(pid)), { recursive: true });
  mkdirSync(join(proc, 'sys/kernel/random'), { recursive: true });
  writeFileSync(join(proc, 'sys/kernel/random/boot_id'), 'boot-1\n');
  writeFileSync(join(proc, String(pid), 'status'),
    'Name:\tagent\nUid:\t0\t1000\t1000\t1000\nGid:\t0\t2000\t2000\t2000\nGroups:\t10 20 10 \n');
  const exe = join(root, 'bin-agent');
  writeFileSync(exe, opts.exeContent ?? 'the agent binary');
  symlinkSync(exe, join(proc, String(pid), 'exe'));
  writeFileSync(join(root, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n');
  writeFileSync(join(root, 'group'), 'root:x:0:\nwheel:x:10:alice\nstaff:x:2000:\n');
  const attestor = new UnixWorkloadAttestor({ procRoot: proc, passwdPath: join(root, 'passwd'), groupPath: join(root, 'group') });
  return { root, proc, pid, exe, attestor, process: { pid, uid: 1000, gid: 2000, startTime: 777n } };
}

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

test('emits uid, user, gid, group, each supplementary gid and group, path and sha256', async (t) => {
  const h = fakeHost(t);
  const a = await h.attestor.attest(h.process);
  t.deepEqual(a.selectors.map(formatSelector), [
    'unix:uid:1000', 'unix:user:alice', 'unix:gid:2000', 'unix:group:staff',
    'unix:supplementary_gid:10', 'unix:supplementary_group:wheel', 'unix:supplementary_gid:20',
    `unix:path:${h.exe}`, `unix:sha256:${sha('the agent binary')}`,
  ]);
});

test('the instance claim is boot id + pid + start time at process strength', async (t) => {
  const h = fakeHost(t);
  const a = await h.attestor.attest(h.process);
  t.deepEqual(a.instance, { strength: 10, key: 'unix:boot-1:4321:777' });
  const b = await h.attestor.attest({ ...h.process, startTime: 778n });
  t.not(b.instance!.key, a.instance!.key);
});

test('the executable hash is cached by device+inode+mtime and recomputed when the file changes', async (t) => {
  const h = fakeHost(t);
  utimesSync(h.exe, 1_700_000_000, 1_700_000_000);
  const first = await h.attestor.attest(h.process);
  // Same size, same mtime, same inode: the cache answers (the content is not re-read).
  writeFileSync(h.exe, 'THE AGENT BINARY');
  utimesSync(h.exe, 1_700_000_000, 1_700_000_000);
  const cached = await h.attestor.attest(h.process);
  t.is(cached.selectors.at(-1)!.value, first.selectors.at(-1)!.value);
  // A new mtime means a new binary: hashed again.
  utimesSync(h.exe, 1_700_000_000, 1_700_000_005);
  const fresh = await h.attestor.attest(h.process);
  t.is(fresh.selectors.at(-1)!.value, `sha256:${sha('THE AGENT BINARY')}`);
});

test('workload_size_limit skips the hash of larger executables but keeps the path', async (t) => {
  const h = fakeHost(t);
  const a = new UnixWorkloadAttestor({ procRoot: h.proc, workloadSizeLimit: 4 });
  const r = await a.attest(h.process);
  t.true(r.selectors.some((s) => s.value === `path:${h.exe}`));
  t.false(r.selectors.some((s) => s.value.startsWith('sha256:')));
});

test('discover_workload_path=false emits neither path nor sha256', async (t) => {
  const h = fakeHost(t);
  const cfg = unixWorkloadAttestorFactory.config.parse({ discover_workload_path: false }, 'workload_attestors.unix');
  t.deepEqual(cfg, { discover_workload_path: false, workload_size_limit: DEFAULT_WORKLOAD_SIZE_LIMIT });
  const r = await new UnixWorkloadAttestor({ procRoot: h.proc, discoverWorkloadPath: false }).attest(h.process);
  t.false(r.selectors.some((s) => s.value.startsWith('path:') || s.value.startsWith('sha256:')));
  t.truthy(unixWorkloadAttestorFactory.create(cfg, { logger: silentLogger, clock: systemClock }));
});

test('a process that cannot be read is an attestation error, not an empty result', async (t) => {
  const h = fakeHost(t);
  const e = await t.throwsAsync(h.attestor.attest({ ...h.process, pid: 999999 }), { instanceOf: AttestationError });
  t.is(e!.code, 'ERR_UNIX_PROC');
  t.is(e!.kind, 'permission_denied');
});

test('attests a real process running as nobody from the real /proc', async (t) => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { uid: 65534, gid: 65534, stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  await once(child, 'spawn'); // exec done: /proc shows the node binary under the new ids
  const proc = { pid: child.pid!, uid: 65534, gid: 65534, startTime: readStartTime(child.pid!) };
  const r = await new UnixWorkloadAttestor().attest(proc);
  const sels = r.selectors.map(formatSelector);
  for (const want of ['unix:uid:65534', 'unix:user:nobody', 'unix:gid:65534', `unix:path:${process.execPath}`,
    `unix:sha256:${sha(readFileSync(process.execPath))}`]) t.true(sels.includes(want), want);
  t.true(r.instance!.key.endsWith(`:${proc.pid}:${proc.startTime}`));
});

test('hashing a large executable does not hold the event loop: another workload is attested while it is read', async (t) => {
  const large = Buffer.alloc(32 << 20, 7); // 32 chunks of 1 MiB
  const h = fakeHost(t, { exeContent: large });
  const small = { pid: 4322, uid: 1000, gid: 2000, startTime: 1n };
  mkdirSync(join(h.proc, String(small.pid)));
  writeFileSync(join(h.proc, String(small.pid), 'status'), 'Uid:\t1000\t1000\t1000\t1000\nGid:\t2000\t2000\t2000\t2000\nGroups:\n');
  writeFileSync(join(h.root, 'bin-small'), 'small');
  symlinkSync(join(h.root, 'bin-small'), join(h.proc, String(small.pid), 'exe'));

  let bigDone = false;
  const big = h.attestor.attest(h.process).finally(() => { bigDone = true; });
  // Turn by turn until the attestor holds the large executable open (it is being hashed).
  // A hash done in one synchronous call opens and finishes it within a single turn.
  const exe = realpathSync(h.exe);
  while (!bigDone && !openHere(exe)) await new Promise((r) => setImmediate(r));
  t.false(bigDone, 'never saw the large executable open while its attestation ran');
  const other = await h.attestor.attest(small);
  t.false(bigDone, 'the other workload\'s attestation waited for the whole hash');
  t.true(other.selectors.some((s) => s.value === `sha256:${sha('small')}`));
  t.true((await big).selectors.some((s) => s.value === `sha256:${sha(large)}`));
});

/** Whether this process has `path` open (its descriptors in /proc/self/fd). */
function openHere(path: string): boolean {
  for (const fd of readdirSync('/proc/self/fd')) {
    try { if (readlinkSync(`/proc/self/fd/${fd}`) === path) return true; } catch { /* closed meanwhile */ }
  }
  return false;
}

test('a process whose effective uid or gid differs from the kernel\'s connect-time credentials is refused', async (t) => {
  const h = fakeHost(t);
  // status says euid 1000 / egid 2000; the socket was opened as uid 0 (e.g. before a setuid drop,
  // or the reverse: exec of a setuid binary after connecting).
  for (const proc of [{ ...h.process, uid: 0 }, { ...h.process, gid: 0 }]) {
    const e = await t.throwsAsync(h.attestor.attest(proc), { instanceOf: AttestationError });
    t.is(e!.code, 'ERR_UNIX_CREDENTIALS_CHANGED');
    t.is(e!.kind, 'permission_denied');
  }
});

test('by default a huge (sparse) executable is not hashed: a local user cannot make the agent read terabytes', async (t) => {
  const h = fakeHost(t);
  truncateSync(h.exe, DEFAULT_WORKLOAD_SIZE_LIMIT + 1); // sparse: costs the attacker no disk
  const logs = memoryLogger();
  const r = await new UnixWorkloadAttestor({ procRoot: h.proc, logger: logs }).attest(h.process);
  t.true(r.selectors.some((s) => s.value === `path:${h.exe}`));
  t.false(r.selectors.some((s) => s.value.startsWith('sha256:')));
  // Refused by size before any read, and said so.
  t.true(logs.records.some((l) => /larger than workload_size_limit/.test(String(l.msg)) && l.size === DEFAULT_WORKLOAD_SIZE_LIMIT + 1));
});

test('at most two executables are hashed at once; the others wait and still get their hash', async (t) => {
  const h = fakeHost(t);
  const procs = [];
  for (let i = 0; i < 6; i++) {
    const pid = 5000 + i;
    mkdirSync(join(h.proc, String(pid)));
    writeFileSync(join(h.proc, String(pid), 'status'), 'Uid:\t1000\t1000\t1000\t1000\nGid:\t2000\t2000\t2000\t2000\nGroups:\n');
    const exe = join(h.root, `bin-${i}`);
    await writeFile(exe, Buffer.alloc(2 << 20, i));
    symlinkSync(exe, join(h.proc, String(pid), 'exe'));
    procs.push({ pid, uid: 1000, gid: 2000, startTime: 1n });
  }
  const rs = await Promise.all(procs.map((p) => h.attestor.attest(p)));
  for (const [i, r] of rs.entries()) t.true(r.selectors.some((s) => s.value === `sha256:${sha(Buffer.alloc(2 << 20, i))}`));
  t.true(h.attestor.peakConcurrentHashes <= 2, `peak ${h.attestor.peakConcurrentHashes}`);
  t.true(h.attestor.peakConcurrentHashes >= 1);
});
