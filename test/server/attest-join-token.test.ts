import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { attest, attestJoinToken, sharedScope, startServer, uriSan, unary, type TestServer } from '../helpers/server.ts';

const scope = sharedScope();
let srv: TestServer;
test.before(async () => { srv = await startServer(scope); });
test.after.always(() => scope.cleanup());

test('a join token attests an agent as spiffe://<td>/tessera/agent/join_token/<token> with an agent SVID', async (t) => {
  const token = await srv.joinToken();
  const a = await attestJoinToken(srv, token);
  t.is(a.id, `spiffe://example.org/tessera/agent/join_token/${token}`);
  t.is(uriSan(a.chain[0]!), a.id);
  const leaf = new X509Certificate(a.chain[0]!);
  t.true(leaf.verify(new X509Certificate(srv.bundleDer[0]!).publicKey));
  t.is(a.bundle.trust_domain, 'example.org');
  t.deepEqual(a.selectors, [{ type: 'join_token', value: token }]);
  const shown = JSON.parse((await srv.cli(['agent', 'show', a.id, '--output', 'json'])).stdout);
  t.is(shown.attestation_type, 'join_token');
  t.is(shown.x509_svid_serial, leaf.serialNumber.toLowerCase().replace(/^0+/, ''));
  a.client.close();
});

test('a join token is single use: the second attestation is PermissionDenied', async (t) => {
  const token = await srv.joinToken();
  (await attestJoinToken(srv, token)).client.close();
  const e = await t.throwsAsync(attestJoinToken(srv, token)) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /unknown or was already used/);
});

test('an unknown join token is PermissionDenied', async (t) => {
  const e = await t.throwsAsync(attestJoinToken(srv, 'feedfacefeedfacefeedfacefeedface')) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
});

test('an expired join token is PermissionDenied saying it expired', async (t) => {
  const token = await srv.joinToken(1);
  await new Promise((r) => setTimeout(r, 2100));
  const e = await t.throwsAsync(attestJoinToken(srv, token)) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /expired/);
});

test('two agents racing for one join token: exactly one wins', async (t) => {
  const token = await srv.joinToken();
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => attestJoinToken(srv, token)));
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.is(won.length, 1);
  t.is(lost.length, 5);
  for (const l of lost) t.is((l.reason as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  for (const w of won) (w as PromiseFulfilledResult<Awaited<ReturnType<typeof attestJoinToken>>>).value.client.close();
});

test('a malformed CSR is InvalidArgument and does not burn the token', async (t) => {
  const token = await srv.joinToken();
  const e = await t.throwsAsync(attest(srv, 'join_token', new TextEncoder().encode(token), { csr: new Uint8Array([0x30, 0x03, 1, 2, 3]) })) as grpc.ServiceError;
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.regex(e.details, /csr/);
  const a = await attestJoinToken(srv, token);
  t.truthy(a.id);
  a.client.close();
});

test('an attestation method the server has not enabled is InvalidArgument naming it', async (t) => {
  const e = await t.throwsAsync(attest(srv, 'aws_iid', new Uint8Array([1]))) as grpc.ServiceError;
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.regex(e.details, /aws_iid.*not enabled/);
});

test('a banned agent may not attest again; after eviction it can (with a new token)', async (t) => {
  const token = await srv.joinToken();
  const a = await attestJoinToken(srv, token);
  t.is((await srv.cli(['agent', 'ban', a.id])).code, 0);
  // The agent's own ID is fixed by the token, so a ban is enforced at renewal; a
  // banned agent cannot renew:
  const e = await t.throwsAsync(unary(a.client, 'RenewAgent', { csr: Buffer.alloc(0) })) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /banned/);
  t.is((await srv.cli(['agent', 'evict', a.id])).code, 0);
  const gone = await srv.cli(['agent', 'show', a.id]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /not found/);
  a.client.close();
});
