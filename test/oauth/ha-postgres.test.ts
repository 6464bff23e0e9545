import test from 'ava';
import type { TestServer } from '../helpers/server.ts';
import { ACCESS_TOKEN, ID_TOKEN, payloadOf, TOKEN_EXCHANGE, until, type Workload } from './harness.ts';
import { startTwoServersOnPostgres } from './two-servers.ts';

/**
 * Two real server processes on one PostgreSQL database, both serving the authorization
 * server under one issuer: they agree on policies and signing keys, and a revocation
 * written through one is honoured by the other's exchange and introspection.
 */
const TOOLS = 'https://tools.example.org';

test('two servers on one PostgreSQL agree on policies, keys and revocations', async (t) => {
  const ha = await startTwoServersOnPostgres(t, 'tessera_oauth_ha');
  if (!ha) { t.pass('skipped: no PostgreSQL'); return; }
  const { A, B, idp, store, call } = ha;
  const holder = await ha.svid();
  const sub = await ha.svid();
  const resourceServer = await ha.svid();

  // A policy written by a third party (an admin tool on the same database) reaches both.
  await store.createDelegationPolicy({
    id: 'pol_ha', description: 'ha', actors: ['spiffe://example.org/agents/*'], subjectIssuer: idp.issuer, subjects: [], groups: [],
    audiences: [TOOLS], scopes: ['files:read'], maxTtl: 300, maxDepth: 2, mayDelegateTo: ['spiffe://example.org/agents/*'],
  });
  const exchange = (s: TestServer, subjectToken: string, type: string, as: Workload) =>
    call(s, 'POST', '/oauth2/token', { as, params: { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: type, audience: TOOLS } });
  const rootOn = async (s: TestServer) => until(`an exchange on ${s === A ? 'A' : 'B'}`, async () => {
    const r = await exchange(s, await idp.token({ sub: 'alice' }), ID_TOKEN, holder);
    return r.status === 200 ? r.json.access_token as string : undefined;
  });
  const fromA = await rootOn(A);
  const fromB = await rootOn(B);
  t.not(payloadOf(fromA).jti, payloadOf(fromB).jti);

  // Both publish every server's signing keys, and each accepts the other's tokens.
  const jwksA = await until('A to serve both keys', async () => {
    const j = await call(A, 'GET', '/oauth2/jwks');
    return (j.json.keys as unknown[]).length >= 2 ? j.json : undefined;
  });
  const kidsB = ((await call(B, 'GET', '/oauth2/jwks')).json.keys as { kid: string }[]).map((k) => k.kid).sort();
  t.deepEqual((jwksA.keys as { kid: string }[]).map((k) => k.kid).sort(), kidsB);
  const introspectOn = (s: TestServer, token: string) => call(s, 'POST', '/oauth2/introspect', { as: resourceServer, params: { token } });
  t.true((await introspectOn(B, fromA)).json.active as boolean, 'B introspects a token minted by A');
  const child = await exchange(B, fromA, ACCESS_TOKEN, sub);
  t.is(child.status, 200, `B extends a chain rooted at A: ${child.text}`);

  // Revoked through A (RFC 7009 by its holder): B refuses at once via the change feed.
  t.is((await call(A, 'POST', '/oauth2/revoke', { as: holder, params: { token: fromA } })).status, 200);
  await until('B to see the revocation (introspection)', async () => ((await introspectOn(B, fromA)).json.active === false ? true : undefined));
  t.deepEqual((await introspectOn(B, child.json.access_token as string)).json, { active: false }, 'derived token too');
  const refused = await exchange(B, fromA, ACCESS_TOKEN, sub);
  t.is(refused.json.error, 'invalid_request');
  t.regex(String(refused.json.error_description), /is revoked \(jti tok_/);
  t.true((await introspectOn(A, fromB)).json.active as boolean, 'other tokens stay live');

  // Policy removed through the shared store: both refuse new exchanges.
  await store.deleteDelegationPolicy('pol_ha');
  for (const s of [A, B]) {
    const r = await until('the policy deletion to arrive', async () => {
      const x = await exchange(s, await idp.token({ sub: 'alice' }), ID_TOKEN, holder);
      return x.status === 400 ? x : undefined;
    });
    t.is(r.json.error, 'unauthorized_client');
  }
});
