import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { webcrypto, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { x509 } from '../../spiffe/x509svid/peculiar.ts';
import { parseX509Svid } from '../../spiffe/x509svid/parse.ts';
import { loadAdminProto } from '../../common/proto.ts';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import {
  adminCall, agentClient, attestJoinToken, attestNewAgent, createTestEntry, newCsr, sharedScope, startServer, unary, type AttestOutcome, type TestServer,
} from '../helpers/server.ts';

/**
 * Adversarial end-to-end tests against a real tessera-server process: what an attested
 * (possibly compromised) agent, a workload holding an SVID, or a local user can try.
 */
const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

const newAgent = (t: { teardown(fn: () => void): void }) => attestNewAgent(t, srv);
const createEntry = (parent: string, extra: Record<string, unknown> = {}) => createTestEntry(srv, parent, extra, 'sec');

/** A CSR asking for more than an SVID may have: extra URI and DNS SANs, CA basicConstraints, keyCertSign. */
async function greedyCsr(uris: string[], dns: string[]): Promise<{ key: webcrypto.CryptoKey; csr: Uint8Array }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=root-ca-please', keys, signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([...uris.map((u) => ({ type: 'url' as const, value: u })), ...dns.map((d) => ({ type: 'dns' as const, value: d }))]),
      new x509.BasicConstraintsExtension(true, 5, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { key: keys.privateKey, csr: new Uint8Array(req.rawData) };
}

test('BatchSignX509SVID takes only the key from a CSR: no extra SANs, never a CA, never another ID', async (t) => {
  const a = await newAgent(t);
  const e = await createEntry(a.id, { dns_names: ['svc.local'] });
  const greedy = await greedyCsr([e.spiffeId], ['evil.example.com']);
  const twoIds = await greedyCsr([e.spiffeId, 'spiffe://example.org/admin'], []);
  const foreign = await greedyCsr([e.spiffeId.replace('example.org', 'other.org')], []);
  const res = await unary<BatchSignX509SVIDResponse__Output>(a.client, 'BatchSignX509SVID', {
    params: [{ entry_id: e.id, csr: greedy.csr }, { entry_id: e.id, csr: twoIds.csr }, { entry_id: e.id, csr: foreign.csr }],
  });
  const [ok, two, other] = res.results;
  t.is(ok!.status!.code, grpc.status.OK, ok!.status!.message);
  const leaf = new X509Certificate(ok!.cert_chain[0]!);
  t.is(leaf.subjectAltName, `URI:${e.spiffeId}, DNS:svc.local`);
  t.false(leaf.ca);
  // The SPIFFE leaf profile (cA=false; keyUsage digitalSignature, never keyCertSign/cRLSign).
  t.notThrows(() => parseX509Svid([new Uint8Array(ok!.cert_chain[0]!)]));
  t.false(/CN=root-ca-please/.test(leaf.subject));
  t.is(two!.status!.code, grpc.status.PERMISSION_DENIED);
  t.is(other!.status!.code, grpc.status.PERMISSION_DENIED);
});

test('instance_id must have the form agents derive (inst_ + 22 base64url characters)', async (t) => {
  const a = await newAgent(t);
  const e = await createEntry(a.id, { agent: { agent_model: 'm' } });
  const bad = ['x', 'inst_short', `inst_${'A'.repeat(23)}`, `inst_${'A'.repeat(21)}/`, `inst_${'A'.repeat(21)}\n`, 'A'.repeat(27), `inst_${'é'.repeat(22)}`];
  const res = await unary<BatchSignX509SVIDResponse__Output>(a.client, 'BatchSignX509SVID', {
    params: await Promise.all(bad.map(async (instance_id) => ({ entry_id: e.id, csr: (await newCsr()).csr, instance_id }))),
  });
  for (const [i, r] of res.results.entries()) t.is(r.status!.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(bad[i]));
  for (const instance_id of bad) {
    const err = await t.throwsAsync(unary(a.client, 'MintJWTSVID', { entry_id: e.id, audience: ['x'], instance_id })) as grpc.ServiceError;
    t.is(err.code, grpc.status.INVALID_ARGUMENT);
  }
  await t.notThrowsAsync(unary(a.client, 'MintJWTSVID', { entry_id: e.id, audience: ['x'], instance_id: `inst_${'Ab-_'.repeat(5)}xy` }));
});

test('BatchSignX509SVID refuses an oversized batch; MintJWTSVID refuses absurd audiences', async (t) => {
  const a = await newAgent(t);
  const e = await createEntry(a.id);
  const { csr } = await newCsr();
  const big = await t.throwsAsync(unary(a.client, 'BatchSignX509SVID', { params: Array.from({ length: 1001 }, () => ({ entry_id: e.id, csr })) })) as grpc.ServiceError;
  t.is(big.code, grpc.status.RESOURCE_EXHAUSTED);
  const many = await t.throwsAsync(unary(a.client, 'MintJWTSVID', { entry_id: e.id, audience: Array.from({ length: 33 }, (_, i) => `a${i}`) })) as grpc.ServiceError;
  t.is(many.code, grpc.status.INVALID_ARGUMENT);
  const long = await t.throwsAsync(unary(a.client, 'MintJWTSVID', { entry_id: e.id, audience: ['a'.repeat(1025)] })) as grpc.ServiceError;
  t.is(long.code, grpc.status.INVALID_ARGUMENT);
});

test('a workload X.509-SVID (same CA) cannot call agent RPCs, streams included; nor can a caller without a certificate', async (t) => {
  const a = await newAgent(t);
  const e = await createEntry(a.id);
  const { key, csr } = await newCsr(e.spiffeId);
  const res = await unary<BatchSignX509SVIDResponse__Output>(a.client, 'BatchSignX509SVID', { params: [{ entry_id: e.id, csr }] });
  const workload = agentClient(srv, { key, chain: res.results[0]!.cert_chain.map((c) => new Uint8Array(c)) });
  const anon = agentClient(srv);
  t.teardown(() => { workload.close(); anon.close(); });
  for (const [client, re] of [[workload, /not an agent ID/], [anon, /no agent X\.509-SVID/]] as const) {
    for (const [rpc, req] of [['RenewAgent', { csr: (await newCsr()).csr }], ['BatchSignX509SVID', { params: [{ entry_id: e.id, csr }] }],
      ['MintJWTSVID', { entry_id: e.id, audience: ['x'] }], ['GetBundle', {}]] as const) {
      const err = await t.throwsAsync(unary(client, rpc, req)) as grpc.ServiceError;
      t.is(err.code, grpc.status.PERMISSION_DENIED, rpc);
      t.regex(err.details, re, rpc);
    }
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const s = client.SyncEntries({});
      s.on('data', () => resolve({ code: -1, details: 'served' } as unknown as grpc.ServiceError));
      s.on('error', (x) => resolve(x as grpc.ServiceError));
    });
    t.is(err.code, grpc.status.PERMISSION_DENIED, 'SyncEntries');
    t.regex(err.details, re);
  }
});

test('the admin API is a 0600 socket in a 0700 directory and is not served on the agent TCP port', async (t) => {
  t.is(statSync(dirname(srv.adminSocket)).mode & 0o777, 0o700);
  t.is(statSync(srv.adminSocket).mode & 0o777, 0o600);
  const a = await newAgent(t);
  const p = loadAdminProto().tessera.v1;
  const creds = grpc.credentials.createSsl(Buffer.from(srv.bundlePem),
    Buffer.from(a.key.export({ type: 'pkcs8', format: 'pem' }) as string),
    Buffer.from(a.chain.map((c) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(c).toString('base64')}\n-----END CERTIFICATE-----\n`).join('')),
    { checkServerIdentity: () => undefined });
  const opts = { 'grpc.ssl_target_name_override': 'localhost' };
  const clients = [new p.AgentAdmin(srv.agentAddress, creds, opts), new p.EntryAdmin(srv.agentAddress, creds, opts), new p.BundleAdmin(srv.agentAddress, creds, opts)];
  t.teardown(() => clients.forEach((c) => c.close()));
  for (const [c, rpc, req] of [[clients[0]!, 'CreateJoinToken', { ttl: 60 }], [clients[1]!, 'ListEntries', {}], [clients[2]!, 'GetBundle', {}]] as const) {
    const err = await t.throwsAsync(unary(c, rpc, req)) as grpc.ServiceError;
    t.is(err.code, grpc.status.UNIMPLEMENTED, rpc);
  }
});
