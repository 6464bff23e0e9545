import test from 'ava';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { ROOT, spawnTs } from '../helpers/proc.ts';
import { until } from '../helpers/wait.ts';
import { pidfdExited } from '../../common/peercred/pidfd.ts';
import { PeerProcess, kernelPeerCredentials } from '../../node-agent/peercred/peer-process.ts';
import { PeerCredentialsError } from '../../node-agent/peercred/errors.ts';

/** A socket whose accepted connections are pinned as the Workload API pins them (kernel pidfd). */
async function pinningListener(t: import('ava').ExecutionContext): Promise<{ path: string; next: () => Promise<PeerProcess> }> {
  const dir = tempDir(t, 'pidfd-');
  chmodSync(dir, 0o755);
  const path = join(dir, 's.sock');
  const queue: PeerProcess[] = [];
  const waiters: ((p: PeerProcess) => void)[] = [];
  const server = net.createServer((s) => {
    const p = PeerProcess.capture(s, kernelPeerCredentials);
    t.teardown(() => p.close());
    const w = waiters.shift();
    if (w) w(p); else queue.push(p);
  });
  await new Promise<void>((r) => server.listen(path, r));
  chmodSync(path, 0o777);
  t.teardown(() => new Promise<void>((r) => { server.close(() => r()); }));
  return { path, next: () => queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)) };
}

const stateOf = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch { return undefined; }
};

test('a live peer\'s pidfd passes the check; once the peer is killed and reaped it fails as exited', async (t) => {
  const l = await pinningListener(t);
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [l.path], { uid: 65534, gid: 65534 });
  const pinned = await l.next();
  if (pinned.pidfd === undefined) { t.pass('kernel without SO_PEERPIDFD'); return; }
  t.false(pidfdExited(pinned.pidfd));
  t.notThrows(() => pinned.verify());
  await peer.stop('SIGKILL'); // resolves once the child has been reaped
  t.true(pidfdExited(pinned.pidfd));
  const e = t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError });
  t.is(e!.code, 'ERR_PEERCRED_PID_REUSED');
  t.regex(e!.message, /has exited \(pidfd\)/);
});

test('a peer that exited but was not reaped (a zombie) fails the pidfd check, though signal 0 still reaches it', async (t) => {
  const l = await pinningListener(t);
  // The peer's parent execs a program that never waits for children, so the peer stays a zombie.
  const holder = spawn('sh', ['-c', `"${process.execPath}" --import tsx test/fixtures/peer-connect.ts "${l.path}" & exec sleep infinity`],
    { cwd: ROOT, stdio: 'ignore' });
  t.teardown(() => { try { process.kill(holder.pid!, 'SIGKILL'); } catch { /* gone */ } });
  const pinned = await l.next();
  if (pinned.pidfd === undefined) { t.pass('kernel without SO_PEERPIDFD'); return; }
  t.notThrows(() => pinned.verify());
  process.kill(pinned.pid, 'SIGKILL');
  // The leader of a multi-threaded process (node) shows state Z while its other threads
  // are still exiting; the pidfd reports the exit once the whole thread group is gone
  // (found under load by a fresh-clone run): wait for both.
  await until(() => stateOf(pinned.pid) === 'Z' && pidfdExited(pinned.pidfd!), `pid ${pinned.pid} to become a zombie with its threads gone`);
  // Why the check is poll(2) and not pidfd_send_signal(pidfd, 0): a zombie still takes signal 0.
  t.is(stateOf(pinned.pid), 'Z', 'still a zombie: not reaped');
  t.notThrows(() => process.kill(pinned.pid, 0));
  const e = t.throws(() => pinned.verify(), { instanceOf: PeerCredentialsError });
  t.is(e!.code, 'ERR_PEERCRED_PID_REUSED');
});

test('checking a descriptor that is not open fails closed with a typed error', (t) => {
  const fd = openSync('/dev/null', 'r');
  closeSync(fd);
  const e = t.throws(() => pidfdExited(fd), { instanceOf: PeerCredentialsError });
  t.is(e!.code, 'ERR_PEERCRED_PROC');
});
