import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.ts';
import { PeerCredentialListener } from '../../node-agent/peercred/peer-listener.ts';
import { PeerCredentialsError } from '../../node-agent/peercred/errors.ts';
import { startEndpoint, NOBODY, USER_1000 } from '../fixtures/workload-api-harness.ts';
import { spawnTs } from '../helpers/proc.ts';

/** A bare grpc-js server behind the peer listener, whose one method answers with what the call maps to. */
async function probeServer(t: import('ava').ExecutionContext) {
  const dir = tempDir(t, 'pg-');
  chmodSync(dir, 0o755);
  const path = join(dir, 'p.sock');
  // The Workload API maps calls in an interceptor via getConnectionInfo(); handlers see getPeer(). Check both.
  const seen = new WeakMap<grpc.Metadata, string | undefined>();
  const server = new grpc.Server({
    interceptors: [(_m, call) => new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onReceiveMetadata: (md, mdNext) => { seen.set(md, call.getConnectionInfo().remoteAddress); mdNext(md); } }),
    })],
  });
  let listener!: PeerCredentialListener;
  const id = (b: Buffer) => b;
  server.addService({
    who: { path: '/probe.Probe/Who', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  }, {
    who: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const peer = listener.lookup(call.getPeer());
      cb(null, Buffer.from(JSON.stringify({ peer: call.getPeer(), info: seen.get(call.metadata), pid: peer?.pid, uid: peer?.uid })));
    },
  });
  listener = new PeerCredentialListener({ socketPath: path, sink: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()) });
  await listener.listen();
  t.teardown(async () => { await listener.close(); server.forceShutdown(); listener.destroyAll(); });
  return path;
}

test('grpc-js getPeer() returns the connection token set on the socket (regression guard for the remoteAddress trick)', async (t) => {
  const path = await probeServer(t);
  const run = (who: { uid: number; gid: number }) => {
    const p = spawnTs(t, 'test/fixtures/workload-client.ts', [path, 'raw:/probe.Probe/Who'], who);
    return p.waitFor(/\{"event":"message".*\}/).then((line) => ({ said: JSON.parse(p.stdout().split('\n')[0]!) as { pid: number }, body: JSON.parse((JSON.parse(line) as { body: string }).body) }));
  };
  // Two processes at once: each call maps to its own connection's credentials.
  const [a, b] = await Promise.all([run(NOBODY), run(USER_1000)]);
  for (const [r, uid] of [[a, 65534], [b, 1000]] as const) {
    t.regex(r.body.peer, /^peercred:\d+$/);
    t.is(r.body.info, r.body.peer);
    t.is(r.body.pid, r.said.pid);
    t.is(r.body.uid, uid);
  }
  t.not(a.body.peer, b.body.peer);
});

test('a connection whose credentials cannot be read is dropped before any call runs', async (t) => {
  const ep = await startEndpoint(t, {
    entries: [{ id: 'n', spiffeId: 'spiffe://example.org/n', selectors: ['unix:uid:65534'] }],
    server: {
      peerCredentials: {
        credentials: (fd) => { throw new PeerCredentialsError('ERR_PEERCRED_READ', `simulated failure on fd ${fd}`, 22); },
        pidfd: () => undefined,
      },
    },
  });
  const s = await ep.client(['x509'], NOBODY).nth('status');
  t.is(s.code, grpc.status.UNAVAILABLE);
  t.true(ep.server.stats.droppedConnections >= 1);
  t.is(ep.server.stats.connections, 0);
  t.true(ep.logs.records.some((r) => r.msg === 'dropping workload connection: peer credentials unreadable'));
});
