import test from 'ava';
import net from 'node:net';
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { prepareSocketPath } from '../../node-agent/workload-api/socket-path.ts';
import { TesseraError } from '../../common/errors.ts';
import { startEndpoint } from '../fixtures/workload-api-harness.ts';

/** The socket file and its directory, against another local user (tests run as root). */

function base(t: import('ava').ExecutionContext): string {
  const d = tempDir(t, 'ss-');
  chmodSync(d, 0o755);
  return d;
}

test('a socket directory pre-created by another user (e.g. /tmp/tessera) is refused', async (t) => {
  const d = base(t);
  const dir = join(d, 'tessera');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, 65534, 65534);
  const e = await t.throwsAsync(prepareSocketPath(join(dir, 'agent.sock')), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_DIR_INSECURE');
  t.regex(e!.message, /owned by uid 65534/);
});

test('a socket directory others can write to (without the sticky bit) is refused', async (t) => {
  const dir = join(base(t), 'open');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  const e = await t.throwsAsync(prepareSocketPath(join(dir, 'agent.sock')), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_DIR_INSECURE');
  t.regex(e!.message, /writable/);
});

test('an ancestor directory another user controls is refused', async (t) => {
  const mid = join(base(t), 'theirs');
  mkdirSync(mid, { mode: 0o755 });
  chownSync(mid, 65534, 65534);
  const e = await t.throwsAsync(prepareSocketPath(join(mid, 'sub', 'agent.sock')), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_DIR_INSECURE');
  t.false(existsSync(join(mid, 'sub')), 'nothing was created under a directory another user controls');
});

test('a symlink planted by another user in the socket path is refused', async (t) => {
  const d = base(t);
  const real = join(d, 'real');
  mkdirSync(real, { mode: 0o755 });
  const link = join(d, 'tessera');
  symlinkSync(real, link);
  lchownSync(link, 65534, 65534); // the link itself, not its target
  const e = await t.throwsAsync(prepareSocketPath(join(link, 'agent.sock')), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_DIR_INSECURE');
  t.regex(e!.message, /symlink/);
});

test('our own fresh directory is created 0755 and a stale socket in it is replaced', async (t) => {
  const dir = join(base(t), 'a', 'b');
  const path = join(dir, 'agent.sock');
  await prepareSocketPath(path);
  t.is(lstatSync(dir).mode & 0o777, 0o755);
  // A stale socket (no one listening) is removed.
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(path, r));
  await new Promise<void>((r) => s.close(() => r()));
  writeFileSync(join(dir, 'keep'), 'x');
  if (!existsSync(path)) {
    // Node removed it on close; recreate a stale one by binding in a child-less way.
    const s2 = net.createServer();
    await new Promise<void>((r) => s2.listen(path, r));
    (s2 as unknown as { _handle: { close(): void } })._handle.close();
  }
  await t.notThrowsAsync(prepareSocketPath(path));
  t.false(existsSync(path));
});

test('a regular file at the socket path is never removed', async (t) => {
  const dir = base(t);
  const path = join(dir, 'agent.sock');
  writeFileSync(path, 'precious');
  const e = await t.throwsAsync(prepareSocketPath(path), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_PATH');
  t.true(existsSync(path));
});

test('start() refuses to take over a socket another live server is listening on', async (t) => {
  const ep = await startEndpoint(t);
  const { WorkloadApiServer } = await import('../../node-agent/workload-api/server.ts');
  const { FakeIdentityProvider } = await import('../helpers/fake-provider.ts');
  const { WorkloadAttestationComposer } = await import('../../node-agent/attestation/composer.ts');
  const { UnixWorkloadAttestor } = await import('../../attestors/workload/unix.ts');
  const second = new WorkloadApiServer({
    socketPath: ep.socket, provider: await FakeIdentityProvider.create(),
    attestation: new WorkloadAttestationComposer({ unix: new UnixWorkloadAttestor() }), agentId: () => 'spiffe://example.org/x',
  });
  const e = await t.throwsAsync(second.start(), { instanceOf: TesseraError });
  t.is(e!.code, 'ERR_SOCKET_IN_USE');
  // The first endpoint still owns its socket.
  t.true(lstatSync(ep.socket).isSocket());
});

test('stop() removes only the socket it created, not one that replaced it', async (t) => {
  const ep = await startEndpoint(t);
  unlinkSync(ep.socket);
  const other = net.createServer();
  await new Promise<void>((r) => other.listen(ep.socket, r));
  t.teardown(() => new Promise<void>((r) => other.close(() => r())));
  await ep.server.stop();
  t.true(existsSync(ep.socket));
});
