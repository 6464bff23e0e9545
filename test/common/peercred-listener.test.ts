import test from 'ava';
import { chmodSync, statSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { spawnTs } from '../helpers/proc.ts';
import { PeerListener } from '../../common/peercred/peer-listener.ts';
import { capturePeerCredentials, type PeerCredentials } from '../../common/peercred/peer-credentials.ts';
import { PeerCredentialsError } from '../../common/peercred/errors.ts';

/** A listener whose sink records each injected connection's token, resolving them in order. */
async function listen(t: import('ava').ExecutionContext, capture: (s: import('node:net').Socket) => PeerCredentials, mode?: number) {
  const dir = tempDir(t, 'pl-');
  chmodSync(dir, 0o755);
  const socketPath = join(dir, 'a.sock');
  const injected: string[] = [];
  const waiters: ((token: string) => void)[] = [];
  const sink = { injectConnection: (c: Duplex) => { const token = (c as unknown as { remoteAddress: string }).remoteAddress; const w = waiters.shift(); if (w) w(token); else injected.push(token); } };
  const listener = new PeerListener({ socketPath, sink, capture, mode, name: 'test' });
  await listener.listen();
  t.teardown(async () => { listener.destroyAll(); await listener.close(); });
  const next = () => (injected.length ? Promise.resolve(injected.shift()!) : new Promise<string>((r) => waiters.push(r)));
  return { socketPath, listener, next };
}

test('binds the socket 0600 unless told otherwise, and pins each connection to its peer\'s kernel credentials', async (t) => {
  const { socketPath, listener, next } = await listen(t, (s) => capturePeerCredentials(s));
  t.is(statSync(socketPath).mode & 0o777, 0o600);
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [socketPath]);
  const said = JSON.parse(await peer.waitFor(/\{.*\}/)) as PeerCredentials;
  const token = await next();
  t.regex(token, /^peercred:\d+$/);
  t.deepEqual(listener.lookup(token), { pid: said.pid, uid: said.uid, gid: said.gid });
  t.is(listener.lookup('peercred:999999'), undefined);
});

test('a 0600 socket keeps other users out; a wider mode lets them in, each seen as itself', async (t) => {
  if (process.getuid?.() !== 0) { t.pass('needs root to connect as another user'); return; }
  const closed = await listen(t, (s) => capturePeerCredentials(s));
  const refused = spawnTs(t, 'test/fixtures/peer-connect.ts', [closed.socketPath], { uid: 65534, gid: 65534 });
  await refused.waitFor(/connect error: .*EACCES/);
  const open = await listen(t, (s) => capturePeerCredentials(s), 0o666);
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [open.socketPath], { uid: 65534, gid: 65534 });
  const said = JSON.parse(await peer.waitFor(/\{.*\}/)) as PeerCredentials;
  t.like(open.listener.lookup(await open.next()), { pid: said.pid, uid: 65534, gid: 65534 });
});

test('a connection whose capture throws is dropped and never reaches the sink', async (t) => {
  let calls = 0;
  const { socketPath, listener } = await listen(t, () => { calls++; throw new PeerCredentialsError('ERR_PEERCRED_READ', 'simulated'); });
  const peer = spawnTs(t, 'test/fixtures/peer-connect.ts', [socketPath]);
  await peer.exited;
  t.is(calls, 1);
  t.is(listener.droppedConnections, 1);
  t.is(listener.connections, 0);
});
