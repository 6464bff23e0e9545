import test from 'ava';
import net from 'node:net';
import { chmodSync, openSync, closeSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { spawnTs } from '../helpers/proc.ts';
import { readPeerCredentials, readPeerPidfd, socketFd } from '../../node-agent/peercred/peer-credentials.ts';
import { parseStartTime, pidOfPidfd, readStartTime } from '../../node-agent/peercred/proc.ts';
import { PeerProcess, kernelPeerCredentials } from '../../node-agent/peercred/peer-process.ts';
import { PeerCredentialsError } from '../../node-agent/peercred/errors.ts';

/** Listens on a fresh socket; resolves each accepted socket through `onConn` synchronously. */
async function listen<T>(t: import('ava').ExecutionContext, onConn: (s: net.Socket) => T): Promise<{ path: string; next: () => Promise<T> }> {
  const dir = tempDir(t, 'pc-');
  chmodSync(dir, 0o755);
  const path = join(dir, 's.sock');
  const queue: T[] = [];
  const waiters: ((v: T) => void)[] = [];
  const server = net.createServer((s) => {
    const v = onConn(s); // synchronously, as the endpoint does
    const w = waiters.shift();
    if (w) w(v); else queue.push(v);
  });
  await new Promise<void>((r) => server.listen(path, r));
  chmodSync(path, 0o777);
  t.teardown(() => new Promise<void>((r) => { server.close(() => r()); }));
  return { path, next: () => queue.length ? Promise.resolve(queue.shift()!) : new Promise<T>((r) => waiters.push(r)) };
}

test('SO_PEERCRED reports the pid, uid and gid of a separate process running as nobody', async (t) => {
  const l = await listen(t, (s) => { const c = readPeerCredentials(socketFd(s)); s.destroy(); return c; });
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path], { uid: 65534, gid: 65534 });
  const cred = await l.next();
  const said = JSON.parse(await peer.waitFor(/\{.*\}/)) as { pid: number };
  t.deepEqual(cred, { pid: said.pid, uid: 65534, gid: 65534 });
});

test('SO_PEERPIDFD gives a pidfd naming the connecting process (kernel >= 6.5)', async (t) => {
  const l = await listen(t, (s) => ({ fd: readPeerPidfd(socketFd(s)), sock: s }));
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path], { uid: 1000, gid: 1000 });
  const { fd, sock } = await l.next();
  const said = JSON.parse(await peer.waitFor(/\{.*\}/)) as { pid: number };
  if (fd === undefined) { t.pass('kernel without SO_PEERPIDFD'); return; }
  t.teardown(() => closeSync(fd));
  t.is(pidOfPidfd(fd), said.pid);
  sock.destroy();
  await peer.exited;
  // Once the process is gone the pidfd says so, whatever reuses the number.
  t.not(pidOfPidfd(fd), said.pid);
});

test('reading credentials of something that is not a socket fails with a typed error', (t) => {
  const fd = openSync('/dev/null', 'r');
  t.teardown(() => closeSync(fd));
  const e = t.throws(() => readPeerCredentials(fd), { instanceOf: PeerCredentialsError });
  t.is(e!.code, 'ERR_PEERCRED_READ');
  t.is(e!.errno, 88); // ENOTSOCK
});

test('the start time is field 22 of /proc/<pid>/stat even when comm holds spaces and parentheses', (t) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[19] = '987654321';
  t.is(parseStartTime(`42 (a) (b c)) ${fields.join(' ')}`, 42), 987654321n);
  t.throws(() => parseStartTime('42 (x) R', 42), { instanceOf: PeerCredentialsError });
  t.is(readStartTime(process.pid), BigInt(readFileSync('/proc/self/stat', 'latin1').slice(readFileSync('/proc/self/stat', 'latin1').lastIndexOf(')') + 2).split(' ')[19]!));
});

test('a pinned peer fails verification once its process has exited', async (t) => {
  const l = await listen(t, (s) => PeerProcess.capture(s, kernelPeerCredentials));
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path], { uid: 65534, gid: 65534 });
  const pinned = await l.next();
  t.teardown(() => pinned.close());
  t.notThrows(() => pinned.verify());
  await peer.stop('SIGKILL');
  const e = t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError });
  t.is(e!.code, 'ERR_PEERCRED_PID_REUSED');
});

test('a pid whose start time changed since connect is treated as reused', async (t) => {
  // A fake /proc where the connecting pid's stat can be rewritten, as if the pid were recycled.
  const proc = tempDir(t, 'proc-');
  const statOf = (pid: number, start: string) => {
    mkdirSync(join(proc, String(pid)), { recursive: true });
    const fields = Array.from({ length: 50 }, () => '0');
    fields[19] = start;
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (node) ${fields.join(' ')}`);
  };
  let pid = 0;
  const l = await listen(t, (s) => {
    pid = readPeerCredentials(socketFd(s)).pid;
    statOf(pid, '1000');
    return PeerProcess.capture(s, { credentials: readPeerCredentials, pidfd: () => undefined }, proc);
  });
  spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path]);
  const pinned = await l.next();
  t.is(pinned.startTime, 1000n);
  t.notThrows(() => pinned.verify());
  statOf(pid, '2000');
  const e = t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError });
  t.regex(e!.message, /reused/);
});

test('a pinned peer fails verification after it exec\'d another program, or once it is a zombie', async (t) => {
  const proc = tempDir(t, 'proc-');
  let pid = 0;
  const stat = (state: string) => {
    const fields = Array.from({ length: 50 }, () => '0');
    fields[0] = state; fields[19] = '1000';
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (node) ${fields.join(' ')}`);
  };
  const exeA = join(proc, 'prog-a'), exeB = join(proc, 'prog-b');
  writeFileSync(exeA, 'a'); writeFileSync(exeB, 'b');
  const l = await listen(t, (s) => {
    pid = readPeerCredentials(socketFd(s)).pid;
    mkdirSync(join(proc, String(pid)), { recursive: true });
    stat('S');
    symlinkSync(exeA, join(proc, String(pid), 'exe'));
    return PeerProcess.capture(s, { credentials: readPeerCredentials, pidfd: () => undefined }, proc);
  });
  spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path]);
  const pinned = await l.next();
  t.truthy(pinned.process.exeId);
  t.notThrows(() => pinned.verify());
  // execve keeps pid and start time; only the program changes.
  rmSync(join(proc, String(pid), 'exe'));
  symlinkSync(exeB, join(proc, String(pid), 'exe'));
  t.is(t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError })!.code, 'ERR_PEERCRED_EXEC');
  rmSync(join(proc, String(pid), 'exe'));
  symlinkSync(exeA, join(proc, String(pid), 'exe'));
  t.notThrows(() => pinned.verify());
  stat('Z');
  t.regex(t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError })!.message, /zombie/);
});
