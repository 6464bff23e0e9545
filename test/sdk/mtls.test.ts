import test from 'ava';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import { authorizeAgent, authorizeAny, authorizeID, authorizeMemberOf } from '../../spiffe/tls/authorizers.ts';
import { connectMtls, createMtlsAgent } from '../../spiffe/tls/client.ts';
import { createMtlsHttpsServer, createMtlsServer } from '../../spiffe/tls/server.ts';
import { getPeer } from '../../spiffe/tls/peer.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { bundleSetOf, makeCustomCertificate, makeRootCa, x509, type TestCa } from '../helpers/pki.ts';
import { close, get, listen, serialOf, source, svid } from './fixtures.ts';

const KU = x509.KeyUsageFlags;
let ca: TestCa;
let other: TestCa;
let bundles: BundleSet;

test.before(async () => {
  ca = await makeRootCa('example.org');
  other = await makeRootCa('other.org');
  bundles = bundleSetOf([ca]);
});

/** An mTLS echo server that records every peer it let through and every byte it read. */
async function echoServer(t: import('ava').ExecutionContext, o: { authorize?: import('../../spiffe/tls/authorizers.ts').Authorizer; src?: StaticX509Source } = {}) {
  const src = o.src ?? source(ca, 'service', bundles);
  const seen: string[] = [];
  const rejected: SpiffeError[] = [];
  let bytes = 0;
  const server = createMtlsServer({ source: src, authorize: o.authorize ?? authorizeAny(), onReject: (e) => rejected.push(e as SpiffeError) }, (socket, peer) => {
    seen.push(peer.id.toString());
    socket.on('data', (d) => { bytes += d.length; socket.write(d); });
    socket.on('error', () => {});
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  return { port, seen, rejected, bytes: () => bytes, src };
}

/** A raw node:tls client presenting `cert`/`key` that writes at once, like a careless peer would. */
async function rawClient(port: number, certs: Uint8Array[], key: import('node:crypto').KeyObject): Promise<{ closed: boolean; got: string }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, cert: certificatesToPem(certs), key: key.export({ type: 'pkcs8', format: 'pem' }) });
  socket.on('error', () => {});
  socket.write('secret application data');
  let got = '';
  socket.on('data', (d) => { got += d; });
  await once(socket, 'close');
  return { closed: true, got };
}

test('client and server see each other\'s SPIFFE ID and agent claims', async (t) => {
  const srv = await echoServer(t);
  const client = source(ca, 'planner', bundles, { agent_model: 'claude-x', agent_provider: 'anthropic', agent_instance_id: 'inst_1' });
  const socket = await connectMtls({ source: client, authorize: authorizeID('spiffe://example.org/service'), port: srv.port });
  t.is(getPeer(socket)!.id.toString(), 'spiffe://example.org/service');
  socket.write('ping');
  const [d] = await once(socket, 'data');
  t.is(String(d), 'ping');
  t.deepEqual(srv.seen, ['spiffe://example.org/planner']);
  socket.destroy();
});

test('the server exposes the peer agent claims, and "only agents of provider X" is enforceable', async (t) => {
  let claims: unknown;
  const server = createMtlsHttpsServer({ source: source(ca, 'service', bundles), authorize: authorizeAgent({ agent_provider: 'anthropic' }) }, (req, res) => {
    claims = getPeer(req)!.claims;
    res.end('ok');
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  const good = createMtlsAgent({ source: source(ca, 'a', bundles, { agent_model: 'm1', agent_provider: 'anthropic', agent_instance_id: 'inst_a' }), authorize: authorizeAny() });
  t.is((await get(port, good)).body, 'ok');
  t.deepEqual(claims, { agent_model: 'm1', agent_provider: 'anthropic', agent_instance_id: 'inst_a' });
  const wrongProvider = createMtlsAgent({ source: source(ca, 'b', bundles, { agent_model: 'm2', agent_provider: 'acme' }), authorize: authorizeAny() });
  await t.throwsAsync(get(port, wrongProvider));
  const plainWorkload = createMtlsAgent({ source: source(ca, 'c', bundles), authorize: authorizeAny() });
  await t.throwsAsync(get(port, plainWorkload));
  good.destroy(); wrongProvider.destroy(); plainWorkload.destroy();
});

test('rejects a peer from another trust domain whose bundle we do not hold', async (t) => {
  const srv = await echoServer(t);
  const stranger = svid(other, 'intruder');
  const r = await rawClient(srv.port, stranger.certificates, stranger.privateKey!);
  t.true(r.closed);
  t.is(r.got, '');
  t.is(srv.bytes(), 0, 'no application byte reached the server');
  t.deepEqual(srv.seen, []);
  t.is(srv.rejected[0]!.code, 'ERR_BUNDLE_NOT_FOUND');
});

test('a leaf of trust domain B signed by A\'s CA is refused even though A\'s bundle is held (never a merged pool)', async (t) => {
  const both = new BundleSet([...bundleSetOf([ca]).bundles(), new SpiffeBundle(TrustDomain.parse('other.org'), { x509Authorities: [other.root] })]);
  const srv = await echoServer(t, { src: source(ca, 'service', both) });
  // Issued by example.org's CA but naming spiffe://other.org/...
  const forged = svid(ca, 'spiffe://other.org/admin');
  const r = await rawClient(srv.port, forged.certificates, forged.privateKey!);
  t.is(r.got, '');
  t.deepEqual(srv.seen, []);
  t.is(srv.rejected[0]!.code, 'ERR_X509SVID_UNTRUSTED');
});

test('a client refuses a server from another trust domain', async (t) => {
  const srv = await echoServer(t, { src: source(other, 'service', bundleSetOf([other, ca])) });
  const client = source(ca, 'planner', bundles); // holds only example.org's bundle
  const err = await t.throwsAsync<SpiffeError>(connectMtls({ source: client, authorize: authorizeAny(), port: srv.port }));
  t.is(err!.code, 'ERR_BUNDLE_NOT_FOUND');
});

test('a peer with a valid chain but an unauthorized ID is refused on both sides', async (t) => {
  const srv = await echoServer(t, { authorize: authorizeID('spiffe://example.org/planner') });
  const mallory = source(ca, 'mallory', bundles);
  const r = await rawClient(srv.port, mallory.getX509Svid().certificates, mallory.getX509Svid().privateKey!);
  t.is(r.got, '');
  t.is(srv.rejected[0]!.code, 'ERR_AUTHORIZATION');
  t.deepEqual(srv.seen, []);
  // The client side: the server is genuine, but not who we want to talk to.
  const err = await t.throwsAsync<SpiffeError>(connectMtls({ source: source(ca, 'planner', bundles), authorize: authorizeID('spiffe://example.org/billing'), port: srv.port }));
  t.is(err!.code, 'ERR_AUTHORIZATION');
});

test('a leaf that is a CA is refused', async (t) => {
  const srv = await echoServer(t);
  const leaf = await makeCustomCertificate({ issuer: ca, uris: ['spiffe://example.org/sneaky'], ca: true, keyUsage: KU.digitalSignature | KU.keyCertSign });
  const r = await rawClient(srv.port, [leaf.certificate], leaf.privateKey);
  t.is(r.got, '');
  t.is(srv.rejected[0]!.code, 'ERR_X509SVID_INVALID');
  t.is(srv.rejected[0]!.reason, 'leaf_is_ca');
});

test('a leaf with two URI SANs is refused', async (t) => {
  const srv = await echoServer(t);
  const leaf = await makeCustomCertificate({ issuer: ca, uris: ['spiffe://example.org/a', 'spiffe://example.org/b'], ca: false, keyUsage: KU.digitalSignature });
  const r = await rawClient(srv.port, [leaf.certificate], leaf.privateKey);
  t.is(r.got, '');
  t.is(srv.rejected[0]!.reason, 'multiple_uri_sans');
});

test('an expired SVID is refused', async (t) => {
  const srv = await echoServer(t);
  const old = svid(ca, 'planner', { notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 60_000) });
  const r = await rawClient(srv.port, old.certificates, old.privateKey!);
  t.is(r.got, '');
  t.is(srv.rejected[0]!.code, 'ERR_X509SVID_EXPIRED');
  // And a client will not talk to a server presenting one.
  const srv2 = await echoServer(t, { src: new StaticX509Source({ svid: svid(ca, 'service', { notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 1000) }), bundles }) });
  const err = await t.throwsAsync<SpiffeError>(connectMtls({ source: source(ca, 'planner', bundles), authorize: authorizeAny(), port: srv2.port }));
  t.is(err!.code, 'ERR_X509SVID_EXPIRED');
});

test('a client without a certificate is refused', async (t) => {
  const srv = await echoServer(t);
  const socket = tls.connect({ host: '127.0.0.1', port: srv.port, rejectUnauthorized: false });
  socket.on('error', () => {});
  socket.write('hello?');
  await once(socket, 'close');
  t.is(srv.bytes(), 0);
  t.is(srv.rejected[0]!.code, 'ERR_PEER_NO_CERTIFICATE');
});

test('authorizeMemberOf refuses a verified peer of a federated trust domain', async (t) => {
  const both = bundleSetOf([ca, other]);
  const srv = await echoServer(t, { src: source(ca, 'service', both), authorize: authorizeMemberOf('example.org') });
  const fed = source(other, 'partner', both);
  const r = await rawClient(srv.port, fed.getX509Svid().certificates, fed.getX509Svid().privateKey!);
  t.is(r.got, '');
  t.is(srv.rejected[0]!.code, 'ERR_AUTHORIZATION');
});
