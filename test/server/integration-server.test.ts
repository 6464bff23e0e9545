import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { TrustDomain } from '../../spiffe/id.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import { derToPem } from '../../spiffe/pem.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import { adminCall, agentClient, attestJoinToken, newCsr, startServer, unary, uriSan, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until } from '../helpers/wait.ts';

/** The server's TLS certificate as a fresh connection sees it. */
function serverCert(srv: TestServer): Promise<X509Certificate> {
  const [host, port] = [srv.agentAddress.slice(0, srv.agentAddress.lastIndexOf(':')), Number(srv.agentAddress.split(':').pop())];
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: srv.readBundle().pem, servername: 'localhost', ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }, () => {
      const c = s.getPeerX509Certificate();
      s.destroy();
      if (c) resolve(c); else reject(new Error('no server certificate'));
    });
    s.once('error', reject);
  });
}

test('the server presents spiffe://<td>/tessera/server with DNS localhost and IP 127.0.0.1, signed by the bundle', async (t) => {
  const srv = await startServer(t);
  const c = await serverCert(srv);
  t.regex(c.subjectAltName!, /URI:spiffe:\/\/example\.org\/tessera\/server/);
  t.regex(c.subjectAltName!, /DNS:localhost/);
  t.regex(c.subjectAltName!, /IP Address:127\.0\.0\.1/);
  t.true(c.verify(new X509Certificate(srv.bundleDer[0]!).publicKey));
  t.is(statSync(join(srv.dataDir, 'admin')).mode & 0o777, 0o700);
  t.is(readFileSync(join(srv.dataDir, 'ca.fingerprint'), 'utf8').trim(), srv.caFingerprint);
  t.regex(srv.agentAddress, /^127\.0\.0\.1:\d+$/);
  t.not(srv.agentAddress, '127.0.0.1:0');
});

test('after a restart the CA, entries and agents persist and the agent SVID still authenticates', async (t) => {
  const srv = await startServer(t);
  const a = await attestJoinToken(srv, await srv.joinToken());
  t.teardown(() => a.client.close());
  const fp = srv.caFingerprint;
  const created = await adminCall<{ results: { entry: { id: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
    entries: [{ spiffe_id: 'spiffe://example.org/persist', parent_id: a.id, selectors: [{ type: 'unix', value: 'uid:1' }] }],
  });
  await srv.restart();
  t.is(srv.caFingerprint, fp);
  const client = agentClient(srv, a);
  t.teardown(() => client.close());
  const res = await unary<BatchSignX509SVIDResponse__Output>(client, 'BatchSignX509SVID', {
    params: [{ entry_id: created.results[0]!.entry.id, csr: (await newCsr()).csr }],
  });
  t.is(res.results[0]!.status!.code, 0);
  t.is(uriSan(res.results[0]!.cert_chain[0]!), 'spiffe://example.org/persist');
});

test('with an upstream CA the server runs as an intermediate; bundle.pem is the upstream root', async (t) => {
  const dir = tempDir(t);
  const td = TrustDomain.parse('example.org');
  const up = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const root = await createCaCertificate({
    trustDomain: td, publicKey: up.publicKey, privateKey: up.privateKey,
    notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 30 * 86_400_000),
    subject: { organization: 'Upstream', commonName: 'Upstream Root' },
  });
  writeFileSync(join(dir, 'root.crt'), derToPem(root));
  writeFileSync(join(dir, 'root.key'), up.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const srv = await startServer(t, { config: { ca: { upstream: { cert_file: join(dir, 'root.crt'), key_file: join(dir, 'root.key') } } } });
  t.deepEqual(srv.bundleDer.map((d) => Buffer.from(d)), [Buffer.from(root)]);
  const a = await attestJoinToken(srv, await srv.joinToken());
  t.teardown(() => a.client.close());
  t.is(a.chain.length, 2, 'leaf + intermediate');
  const inter = new X509Certificate(a.chain[1]!);
  t.true(inter.ca);
  t.true(inter.verify(new X509Certificate(root).publicKey));
  // mTLS with the intermediate-signed agent SVID works.
  await t.notThrowsAsync(unary(a.client, 'GetBundle', {}));
});

test('CA rotation in a running server: the next CA is pushed to sync streams, then signs; the server SVID follows', async (t) => {
  // The CA lives a day: the test prepares and activates the next one through the admin
  // API (what the server's own schedule does at ttl/2 and ttl/6 remaining).
  const srv = await startServer(t);
  const a = await attestJoinToken(srv, await srv.joinToken());
  t.teardown(() => a.client.close());
  const firstRoot = Buffer.from(srv.bundleDer[0]!).toString('hex');
  const stream = a.client.SyncEntries({});
  t.teardown(() => stream.cancel());
  const messages: SyncEntriesResponse__Output[] = [];
  const failed = new Promise<never>((_, reject) => stream.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) reject(e); }));
  stream.on('data', (m: SyncEntriesResponse__Output) => messages.push(m));
  await Promise.race([until(() => messages.length > 0, 'the first sync message'), failed]);
  t.is(messages[0]!.bundle!.x509_authorities.length, 1);

  const authority = (method: string, req: Record<string, unknown> = {}) =>
    adminCall<{ authority_id: string; state: string }>(srv.admin().localAuthority, method, { kind: 'x509', ...req });
  const prepared = await authority('PrepareAuthority');
  const m = await Promise.race([until(() => messages.find((x) => x.bundle && x.bundle.x509_authorities.length === 2), 'the bundle with the prepared CA on the sync stream'), failed]);
  t.true(m.bundle!.x509_authorities.some((d) => Buffer.from(d).toString('hex') === firstRoot), 'old CA still trusted');
  t.is(m.bundle!.jwt_authorities.length, 2);
  const nextRoot = new X509Certificate(m.bundle!.x509_authorities.map((d) => Buffer.from(d)).find((d) => d.toString('hex') !== firstRoot)!);
  // Published only: the server SVID is still from the first CA.
  t.true((await serverCert(srv)).verify(new X509Certificate(Buffer.from(firstRoot, 'hex')).publicKey));

  await authority('ActivateAuthority', { authority_id: prepared.authority_id });
  // New TLS connections see a server SVID from the new CA, without a restart.
  await until(async () => (await serverCert(srv)).verify(nextRoot.publicKey), 'a server SVID re-issued by the new CA');
  // And new SVIDs chain to it.
  const { csr } = await newCsr(a.id);
  const renewed = await unary<{ svid_chain: Buffer[] }>(a.client, 'RenewAgent', { csr: Buffer.from(csr) });
  t.true(new X509Certificate(renewed.svid_chain[0]!).verify(nextRoot.publicKey), 'a renewed agent SVID is signed by the new CA');
});
