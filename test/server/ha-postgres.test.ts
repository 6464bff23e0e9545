import test from 'ava';
import type * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { RenewAgentResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/RenewAgentResponse.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import {
  adminCall, agentClient, attestJoinToken, newCsr, postgresTestDatabase, startServer, toPem, unary, uriSan, type TestServer,
} from '../helpers/server.ts';

/**
 * HA: two real server processes (own data dirs, own CAs) on one PostgreSQL database.
 * The shared bundle carries both CAs, the change feed carries entries and bundle
 * changes across servers, and an agent can use either server.
 */
const td = TrustDomain.parse('example.org');

/** Polls `fn`; the bound only turns a hang into a failure (generous: two servers and PostgreSQL on a busy machine). */
async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');
const rootOf = (srv: TestServer) => srv.readBundle().der.find((d) => {
  const x = new X509Certificate(d);
  return x.fingerprint256.replace(/:/g, '').toLowerCase() === srv.caFingerprint;
})!;

function collect(stream: grpc.ClientReadableStream<SyncEntriesResponse__Output>) {
  const messages: SyncEntriesResponse__Output[] = [];
  stream.on('data', (m: SyncEntriesResponse__Output) => messages.push(m));
  stream.on('error', () => undefined); // cancelled at the end
  return messages;
}

test('two servers on one PostgreSQL: agent attested via A syncs entries made via B, trusts B\'s SVIDs and renews against B', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_ha');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  const config = { datastore: { kind: 'postgres', connection: url } };
  const A = await startServer(t, { config });
  const B = await startServer(t, { config });
  t.not(A.caFingerprint, B.caFingerprint, 'each server has its own CA');

  // A hears about B's CA through the change feed and rewrites its bundle.pem.
  const merged = await until('A to publish both CAs', () => (A.readBundle().der.length === 2 ? A.readBundle() : undefined));
  t.deepEqual(B.readBundle().der.map(hex).sort(), merged.der.map(hex).sort(), 'both servers publish the same merged bundle');

  // A join token minted on B is consumed through A: one store.
  const agent = await attestJoinToken(A, await B.joinToken());
  t.teardown(() => agent.client.close());
  let held: Bundle__Output = agent.bundle;
  t.deepEqual(held.x509_authorities.map(hex).sort(), merged.der.map(hex).sort(), 'attestation hands out the merged bundle');
  t.is(held.jwt_authorities.length, 2);

  // Sync stream on A; an entry created through B's admin socket reaches it.
  const streamA = agent.client.SyncEntries({});
  t.teardown(() => streamA.cancel());
  const fromA = collect(streamA);
  await until('first sync message', () => fromA[0]);
  const created = await adminCall<{ results: { entry: { id: string } }[] }>(B.admin().entry, 'BatchCreateEntry', {
    entries: [{ spiffe_id: 'spiffe://example.org/ha/workload', parent_id: agent.id, selectors: [{ type: 'unix', value: 'uid:1000' }] }],
  });
  const entryId = created.results[0]!.entry.id;
  await until('the entry on A\'s stream', () => fromA.find((m) => m.upserted.some((e) => e.id === entryId)));
  for (const m of fromA) if (m.bundle) held = m.bundle;

  // The same agent identity against B: the TLS handshake (B's server SVID, the agent's
  // A-signed SVID) works both ways with the merged bundle.
  const heldPem = held.x509_authorities.map(toPem).join('');
  const toB = agentClient(B, { key: agent.key, chain: agent.chain }, heldPem);
  t.teardown(() => toB.close());
  const streamB = toB.SyncEntries({});
  t.teardown(() => streamB.cancel());
  const fromB = collect(streamB);
  const firstB = await until('first sync message from B', () => fromB[0]);
  t.true(firstB.full);
  t.deepEqual(firstB.upserted.map((e) => e.id), [entryId]);

  // A workload SVID signed by B verifies against the bundle the agent holds (and was signed by B's CA).
  const signed = await unary<BatchSignX509SVIDResponse__Output>(toB, 'BatchSignX509SVID', {
    params: [{ entry_id: entryId, csr: (await newCsr()).csr }],
  });
  t.is(signed.results[0]!.status!.code, 0, signed.results[0]!.status?.message);
  const chain = signed.results[0]!.cert_chain.map((c) => new Uint8Array(c));
  const bundle = new X509Bundle(td, held.x509_authorities.map((d) => new Uint8Array(d)));
  t.is(verifyX509Svid(chain, { getX509BundleForTrustDomain: () => bundle }).id.toString(), 'spiffe://example.org/ha/workload');
  t.true(new X509Certificate(chain[0]!).verify(new X509Certificate(rootOf(B)).publicKey), 'signed by B');

  // Renewal against B. A never saw it, yet accepts the new SVID and (via the previous
  // serial in the store) the old one that an open channel still presents.
  const { key: newKey, csr } = await newCsr();
  const renewed = await unary<RenewAgentResponse__Output>(toB, 'RenewAgent', { csr });
  t.is(uriSan(renewed.svid_chain[0]!), agent.id);
  const renewedId = { key: newKey, chain: renewed.svid_chain.map((c) => new Uint8Array(c)) };
  const newToA = agentClient(A, renewedId, heldPem);
  t.teardown(() => newToA.close());
  await t.notThrowsAsync(unary(newToA, 'GetBundle', {}), 'A accepts the SVID B issued');
  await t.notThrowsAsync(unary(agent.client, 'GetBundle', {}), 'A still accepts the previous SVID');

  // The previous serial is in the store, not in memory: it survives a restart.
  await A.restart();
  const oldToA = agentClient(A, { key: agent.key, chain: agent.chain }, heldPem);
  t.teardown(() => oldToA.close());
  const b = await unary<Bundle__Output>(oldToA, 'GetBundle', {});
  t.is(b.x509_authorities.length, 2, 'after a restart A serves the same merged bundle (its CA was kept on disk)');

  // A second renewal supersedes the first SVID everywhere.
  const toB2 = agentClient(B, renewedId, heldPem);
  t.teardown(() => toB2.close());
  await unary(toB2, 'RenewAgent', { csr: (await newCsr()).csr });
  const stale = agentClient(A, { key: agent.key, chain: agent.chain }, heldPem);
  t.teardown(() => stale.close());
  const e = await t.throwsAsync(unary(stale, 'GetBundle', {})) as grpc.ServiceError;
  t.regex(e.details, /superseded/);
});
