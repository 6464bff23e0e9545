import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { authorizeAgent, authorizeAny, authorizeID } from '../../spiffe/tls/authorizers.ts';
import { grpcChannelCredentials, grpcPeer, serveGrpcMtls } from '../../spiffe/tls/grpc.ts';
import { bundleSetOf, makeRootCa, type TestCa } from '../helpers/pki.ts';
import { serialOf, source, svid } from './fixtures.ts';
import type { StaticX509Source } from '../../spiffe/source/static.ts';

const id = (b: Buffer) => b;
const WHO = { whoami: { path: '/test.Who/WhoAmI', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id, originalName: 'whoAmI' } };
const Client = grpc.makeGenericClientConstructor(WHO, 'Who');

let ca: TestCa;
test.before(async () => { ca = await makeRootCa('example.org'); });

async function whoServer(t: import('ava').ExecutionContext, src: StaticX509Source, authorize = authorizeAny()) {
  const server = new grpc.Server();
  const handled = { calls: 0 };
  server.addService(WHO, {
    whoami: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      handled.calls++;
      const peer = grpcPeer(call);
      cb(null, Buffer.from(JSON.stringify({ id: peer?.id.toString(), claims: peer?.claims })));
    },
  });
  const l = await serveGrpcMtls(server, { source: src, authorize });
  t.teardown(async () => { await l.close({ force: true }); server.forceShutdown(); });
  return Object.assign(l, { handled });
}

const call = (c: grpc.Client): Promise<{ id: string; claims: Record<string, string> }> => new Promise((resolve, reject) => {
  (c as unknown as { whoami: (req: Buffer, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void })
    .whoami(Buffer.from('?'), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(JSON.parse(String(r)))));
});

test('a gRPC handler sees the caller\'s SPIFFE ID and agent claims over SDK channel credentials', async (t) => {
  const bundles = bundleSetOf([ca]);
  const l = await whoServer(t, source(ca, 'tools', bundles), authorizeAgent({ agent_provider: 'anthropic' }));
  const creds = grpcChannelCredentials({ source: source(ca, 'planner', bundles, { agent_model: 'm', agent_provider: 'anthropic', agent_instance_id: 'inst_x' }), authorize: authorizeID('spiffe://example.org/tools') });
  const c = new Client(`127.0.0.1:${l.port}`, creds);
  t.teardown(() => c.close());
  const r = await call(c);
  t.is(r.id, 'spiffe://example.org/planner');
  t.deepEqual(r.claims, { agent_model: 'm', agent_provider: 'anthropic', agent_instance_id: 'inst_x' });
});

test('a gRPC caller refused by the server authorizer gets UNAVAILABLE and the handler never runs', async (t) => {
  const bundles = bundleSetOf([ca]);
  const l = await whoServer(t, source(ca, 'tools', bundles), authorizeID('spiffe://example.org/planner'));
  const c = new Client(`127.0.0.1:${l.port}`, grpcChannelCredentials({ source: source(ca, 'mallory', bundles), authorize: authorizeAny() }));
  t.teardown(() => c.close());
  const err = await t.throwsAsync<grpc.ServiceError>(call(c));
  t.is(err!.code, grpc.status.UNAVAILABLE);
  t.is(l.handled.calls, 0);
});

test('a gRPC client refuses a server with the wrong SPIFFE ID', async (t) => {
  const bundles = bundleSetOf([ca]);
  const l = await whoServer(t, source(ca, 'impostor', bundles));
  const c = new Client(`127.0.0.1:${l.port}`, grpcChannelCredentials({ source: source(ca, 'planner', bundles), authorize: authorizeID('spiffe://example.org/tools') }));
  t.teardown(() => c.close());
  const err = await t.throwsAsync<grpc.ServiceError>(call(c));
  t.is(err!.code, grpc.status.UNAVAILABLE);
  t.regex(err!.details, /unexpected peer ID spiffe:\/\/example.org\/impostor/);
});

test('gRPC: a rotated server SVID is used by the next connection while the open channel keeps working', async (t) => {
  const bundles = bundleSetOf([ca]);
  const serverSrc = source(ca, 'tools', bundles);
  const l = await whoServer(t, serverSrc);
  const clientSrc = source(ca, 'planner', bundles);
  const first = new Client(`127.0.0.1:${l.port}`, grpcChannelCredentials({ source: clientSrc, authorize: authorizeAny() }));
  t.teardown(() => first.close());
  await call(first);
  const before = serialOf(serverSrc.getX509Svid().certificates[0]!);
  serverSrc.set({ svid: svid(ca, 'tools') });
  clientSrc.set({ svid: svid(ca, 'planner') });
  await call(first); // the established HTTP/2 connection is untouched
  let seen: string | undefined;
  const second = new Client(`127.0.0.1:${l.port}`, grpcChannelCredentials({
    source: clientSrc,
    authorize: (p) => { seen = serialOf(p.verifiedChain![0]!); },
  }), { 'grpc.use_local_subchannel_pool': 1 });
  t.teardown(() => second.close());
  await call(second);
  t.not(seen, before);
  t.is(seen, serialOf(serverSrc.getX509Svid().certificates[0]!));
});
