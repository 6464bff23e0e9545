import type { ExecutionContext } from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchSignX509SVIDResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { attestNewAgent, createTestEntry, postgresTestDatabase, startServer, unary, type TestServer } from '../helpers/server.ts';
import { startTestIdp, type TestIdp } from '../helpers/test-idp.ts';
import { httpsCall, until, type HttpResult, type Params, type Workload } from './harness.ts';

export const HA_ISSUER = 'https://tessera.example.org';

export interface TwoServers {
  A: TestServer;
  B: TestServer;
  idp: TestIdp;
  /** A third party on the same database (an admin tool). */
  store: PostgresDatastore;
  call(s: TestServer, method: string, path: string, o?: { params?: Params; as?: Workload }): Promise<HttpResult>;
  /** A new workload SVID under an agent attested at A. */
  svid(): Promise<Workload>;
}

/**
 * Two real server processes on one fresh PostgreSQL database, both serving the
 * authorization server under one issuer, each trusting the other's CA; undefined when
 * PostgreSQL is not there (the caller passes the test as skipped).
 */
export async function startTwoServersOnPostgres(t: ExecutionContext, database: string): Promise<TwoServers | undefined> {
  const url = await postgresTestDatabase(t, database);
  if (!url) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ha-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const idp = await startTestIdp(t, { dir });
  const config = {
    datastore: { kind: 'postgres', connection: url },
    oauth: { listen: '127.0.0.1:0', issuer: HA_ISSUER, trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', ca_file: idp.caFile }] },
  };
  const A = await startServer(t, { config });
  const B = await startServer(t, { config });
  const addr = (s: TestServer) => readFileSync(join(s.dataDir, 'oauth.addr'), 'utf8').trim();
  // Each trusts the other's CA once the shared bundle carries both.
  await until('both CAs in both bundles', () => (A.readBundle().der.length === 2 && B.readBundle().der.length === 2 ? true : undefined));
  const caPem = A.readBundle().pem;
  const agent = await attestNewAgent(t, A);
  const store = await PostgresDatastore.open({ connectionString: url });
  t.teardown(() => store.close());
  return {
    A, B, idp, store,
    call: (s, method, path, o = {}) => httpsCall(addr(s), caPem, method, path, o),
    async svid() {
      const e = await createTestEntry(A, agent.id, {}, 'agents');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const r = await unary<BatchSignX509SVIDResponse__Output>(agent.client, 'BatchSignX509SVID', { params: [{ entry_id: e.id, csr: await createCsr(privateKey, publicKey) }] });
      const chain = r.results[0]!.cert_chain.map((c) => new Uint8Array(c));
      return { id: e.spiffeId, key: privateKey, chain, x5t: createHash('sha256').update(chain[0]!).digest('base64url') };
    },
  };
}
