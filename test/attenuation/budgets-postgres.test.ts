import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { attestNewAgent, createTestEntry, postgresTestDatabase, startServer, unary, type TestServer } from '../helpers/server.ts';
import { startTestIdp } from '../helpers/test-idp.ts';
import { httpsCall, ID_TOKEN, TOKEN_EXCHANGE, until, type Params, type Workload } from '../oauth/harness.ts';

/**
 * Budgets across two server processes on one PostgreSQL database: 50 consumers of a
 * 15-use budget, half through each server, all at once: exactly 15 succeed.
 */
const ISSUER = 'https://tessera.example.org';
const TOOLS = 'https://tools.example.org';

test('two servers on one PostgreSQL: 50 concurrent consumers of a 15-use budget, exactly 15 succeed', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_budgets_ha');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'tbh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const idp = await startTestIdp(t, { dir });
  const config = {
    datastore: { kind: 'postgres', connection: url },
    oauth: { listen: '127.0.0.1:0', issuer: ISSUER, trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', ca_file: idp.caFile }] },
  };
  const A = await startServer(t, { config });
  const B = await startServer(t, { config });
  const addr = (s: TestServer) => readFileSync(join(s.dataDir, 'oauth.addr'), 'utf8').trim();
  await until('both CAs in both bundles', () => (A.readBundle().der.length === 2 && B.readBundle().der.length === 2 ? true : undefined));
  const caPem = A.readBundle().pem;
  const call = (s: TestServer, path: string, o: { params?: Params; as?: Workload } = {}) => httpsCall(addr(s), caPem, 'POST', path, o);
  const agent = await attestNewAgent(t, A);
  const svid = async (): Promise<Workload> => {
    const e = await createTestEntry(A, agent.id, {}, 'agents');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await unary<BatchSignX509SVIDResponse__Output>(agent.client, 'BatchSignX509SVID', { params: [{ entry_id: e.id, csr: await createCsr(privateKey, publicKey) }] });
    const chain = r.results[0]!.cert_chain.map((c) => new Uint8Array(c));
    return { id: e.spiffeId, key: privateKey, chain, x5t: createHash('sha256').update(chain[0]!).digest('base64url') };
  };
  const holder = await svid();
  const resourceServer = await svid();
  const store = await PostgresDatastore.open({ connectionString: url });
  t.teardown(() => store.close());
  await store.createDelegationPolicy({
    id: 'pol_budget', description: 'budgets', actors: ['spiffe://example.org/agents/*'], subjectIssuer: idp.issuer, subjects: [], groups: [],
    audiences: [TOOLS], scopes: ['files:read'], maxTtl: 300, maxDepth: 1, mayDelegateTo: [], budgets: { 'read:files': 15 },
  });
  const subjectToken = await idp.token({ sub: 'alice' });
  // B learns the policy through LISTEN/NOTIFY; issue through A, consume through both.
  const issued = await until('a token under pol_budget', async () => {
    const r = await call(A, '/oauth2/token', { as: holder, params: { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: TOOLS } });
    return r.status === 200 ? r.json.access_token as string : undefined;
  });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    call(i % 2 ? A : B, '/oauth2/consume', { as: resourceServer, params: { token: issued, operation: 'read:files' } })));
  t.true(results.every((r) => r.status === 200), results.find((r) => r.status !== 200)?.text);
  t.is(results.filter((r) => r.json.allowed === true).length, 15);
  t.deepEqual((await store.listBudgets(JSON.parse(Buffer.from(issued.split('.')[1]!, 'base64url').toString()).grant_id)).map((b) => b.used), [15]);
});
