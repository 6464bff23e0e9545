import test from 'ava';
import type { TestServer } from '../helpers/server.ts';
import { ID_TOKEN, TOKEN_EXCHANGE, until, type Params, type Workload } from '../oauth/harness.ts';
import { startTwoServersOnPostgres } from '../oauth/two-servers.ts';

/**
 * Budgets across two server processes on one PostgreSQL database: 50 consumers of a
 * 15-use budget, half through each server, all at once: exactly 15 succeed.
 */
const TOOLS = 'https://tools.example.org';

test('two servers on one PostgreSQL: 50 concurrent consumers of a 15-use budget, exactly 15 succeed', async (t) => {
  const ha = await startTwoServersOnPostgres(t, 'tessera_budgets_ha');
  if (!ha) { t.pass('skipped: no PostgreSQL'); return; }
  const { A, B, idp, store } = ha;
  const call = (s: TestServer, path: string, o: { params?: Params; as?: Workload } = {}) => ha.call(s, 'POST', path, o);
  const holder = await ha.svid();
  const resourceServer = await ha.svid();
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
