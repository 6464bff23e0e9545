import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { issueRefreshToken, refreshTokenHash } from '../../server/oauth/refresh-tokens.ts';
import { startOpenIdProvider } from '../helpers/oidc-provider.ts';
import { postgresTestDatabase, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { httpsCall, payloadOf, until, type HttpResult, type Workload } from './harness.ts';
import { authorizeFlow, MCP, pkce, startMcpEnv, type McpEnv } from './mcp-harness.ts';

/**
 * Refresh tokens of the authorization code flow: issued for offline_access, rotated on
 * every use, bound to their client, a reused rotated token revokes the whole grant
 * (refresh and access tokens), every refresh token dies with its grant, and two servers
 * on one PostgreSQL let exactly one presentation of a token win.
 */
const scope = sharedScope();
let env: McpEnv;
const AGENT = 'spiffe://example.org/agents/mcp-refresher';

test.before(async () => {
  env = await startMcpEnv(scope);
  await env.policy({
    id: 'pol_refresh', subjectIssuer: env.op.issuer, actors: [env.publicClientId, AGENT], groups: ['eng', 'sales'],
    audiences: [MCP], scopes: ['files:read', 'files:write', 'offline_access'], maxTtl: 300,
  });
  await env.server.store.createOAuthClient({
    clientId: AGENT, name: 'Refreshing agent', redirectUris: [env.redirectUri], authMethod: 'tls_client_auth', registeredBy: 'admin', createdAt: 0,
  });
});
test.after.always(() => scope.cleanup());

/** The whole flow for the public client (or `as` an attested agent), up to the first token response. */
async function grant(scopes: string, as?: Workload, user = 'alice'): Promise<HttpResult> {
  const p = pkce();
  const back = await authorizeFlow(env, p, { scope: scopes, ...(as ? { client_id: as.id } : {}) }, user);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.href}`);
  const r = await env.request('POST', '/oauth2/token', { as, params: {
    grant_type: 'authorization_code', code, redirect_uri: env.redirectUri, code_verifier: p.verifier,
    client_id: as ? as.id : env.publicClientId, resource: MCP,
  } });
  if (r.status !== 200) throw new Error(`code redemption failed: ${r.text}`);
  return r;
}

const refresh = (token: string, over: Record<string, string | undefined> = {}, as?: Workload) =>
  env.request('POST', '/oauth2/token', { as, params: { grant_type: 'refresh_token', refresh_token: token, client_id: as ? undefined : env.publicClientId, ...over } });
const introspect = (token: string) => env.request('POST', '/oauth2/introspect', { params: { token }, as: env.svid('/rs/mcp') });

function oauthError(t: ExecutionContext, r: HttpResult, error: string, description: RegExp) {
  t.is(r.status, 400, r.text);
  t.is(r.json.error, error);
  t.regex(r.json.error_description as string, description);
}

test('offline_access yields a refresh token; each refresh rotates it and keeps the grant', async (t) => {
  const first = await grant('files:read offline_access');
  const rt1 = first.json.refresh_token as string;
  t.regex(rt1, /^rt_[A-Za-z0-9_-]{43}$/);
  t.is(first.json.scope, 'files:read', 'offline_access is for the authorization server, not in the access token');
  const at1 = payloadOf(first.json.access_token as string);
  t.is(at1.scope, 'files:read');

  const r2 = await refresh(rt1);
  t.is(r2.status, 200, r2.text);
  const rt2 = r2.json.refresh_token as string;
  t.not(rt2, rt1);
  const at2 = payloadOf(r2.json.access_token as string);
  t.is(at2.grant_id, at1.grant_id, 'same delegation grant');
  t.not(at2.jti, at1.jti);
  t.is(at2.sub, `${env.op.issuer}#alice`);
  t.deepEqual(at2.aud, [MCP]);
  t.is(at2.scope, 'files:read');
  t.is(at2.client_id, env.publicClientId);
  t.is((await introspect(r2.json.access_token as string)).json.active, true);

  const r3 = await refresh(rt2);
  t.is(r3.status, 200, r3.text);
  t.not(r3.json.refresh_token, rt2);
});

test('no offline_access: no refresh token', async (t) => {
  const r = await grant('files:read');
  t.is(r.json.refresh_token, undefined);
});

test('a refresh may narrow the scope, never widen it, and names the same resource', async (t) => {
  const first = await grant('files:read files:write offline_access');
  const narrow = await refresh(first.json.refresh_token as string, { scope: 'files:write' });
  t.is(narrow.status, 200, narrow.text);
  t.is(narrow.json.scope, 'files:write');
  const rt = narrow.json.refresh_token as string;
  oauthError(t, await refresh(rt, { scope: 'files:read files:delete' }), 'invalid_scope',
    /scope files:delete was not granted: this refresh token covers files:read files:write offline_access/);
  oauthError(t, await refresh(rt, { resource: 'https://other.example.org/mcp' }), 'invalid_target',
    /resource https:\/\/other\.example\.org\/mcp is not the resource https:\/\/mcp\.example\.org\/mcp this refresh token was issued for/);
  const wide = await refresh(rt);
  t.is(wide.status, 200, `refused requests do not consume the token: ${wide.text}`);
  t.is(wide.json.scope, 'files:read files:write', 'the original grant stays available');
});

test('reuse after rotation: invalid_grant, and every token of the grant is dead', async (t) => {
  const first = await grant('files:read offline_access');
  const rt1 = first.json.refresh_token as string;
  const second = await refresh(rt1);
  t.is(second.status, 200, second.text);
  const reuse = await refresh(rt1);
  oauthError(t, reuse, 'invalid_grant', /refresh_token was already used \(rotated at .*\); reusing a rotated refresh token revokes its whole grant grt_/);
  t.deepEqual((await introspect(first.json.access_token as string)).json, { active: false }, 'the first access token');
  t.deepEqual((await introspect(second.json.access_token as string)).json, { active: false }, 'the access token of the rotation');
  oauthError(t, await refresh(second.json.refresh_token as string), 'invalid_grant', /refresh_token is revoked: its grant grt_\S+ was revoked at/);
});

test('a refresh by another client: invalid_grant, and the token stays usable by its own client', async (t) => {
  const first = await grant('files:read offline_access');
  const rt = first.json.refresh_token as string;
  oauthError(t, await refresh(rt, { client_id: 'https://other.example.com/client.json' }), 'invalid_grant',
    /refresh_token was issued to another client, not https:\/\/other\.example\.com\/client\.json/);
  oauthError(t, await refresh(rt, { client_id: undefined }, env.svid('/agents/thief')), 'invalid_grant', /was issued to another client, not spiffe:\/\/example\.org\/agents\/thief/);
  t.is((await refresh(rt)).status, 200);
});

test('a refresh after the grant is revoked: invalid_grant, and the family is marked revoked in the store', async (t) => {
  const first = await grant('files:read offline_access');
  const rt = first.json.refresh_token as string;
  const grantId = payloadOf(first.json.access_token as string).grant_id as string;
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'grant', value: grantId, at: now, expiresAt: now + 300, by: 'test' });
  oauthError(t, await refresh(rt), 'invalid_grant', new RegExp(`refresh_token is revoked: (its grant ${grantId}|grant ${grantId})`));
  // Durable: the revocation record leaves the feed after token_ttl; the row does not forget.
  t.true((await env.server.store.getRefreshToken(refreshTokenHash(rt)))!.revokedAt > 0);
});

// bob: a subject revocation covers every token of that person, and the other tests sign in as alice.
test('a refresh after the person (subject) is revoked: invalid_grant', async (t) => {
  const first = await grant('files:read offline_access', undefined, 'bob');
  const rt = first.json.refresh_token as string;
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'subject', value: `${env.op.issuer}#bob`, at: now, expiresAt: now + 300, by: 'test' });
  oauthError(t, await refresh(rt), 'invalid_grant', /refresh_token is revoked/);
});

test('an agent client over mTLS: refresh needs its SVID again (a rotated one is fine); an actor revocation ends the family', async (t) => {
  const agent = env.svid('/agents/mcp-refresher', { agent_model: 'm1' });
  const first = await grant('files:read offline_access', agent);
  const rt1 = first.json.refresh_token as string;
  t.deepEqual(payloadOf(first.json.access_token as string).cnf, { 'x5t#S256': agent.x5t });

  const assertion = await env.jwtSvid('/agents/mcp-refresher', [env.issuer]);
  const byAssertion = await refresh(rt1, {
    client_id: AGENT, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe', client_assertion: assertion,
  });
  t.is(byAssertion.status, 401, byAssertion.text);
  t.is(byAssertion.json.error, 'invalid_client');
  t.regex(byAssertion.json.error_description as string, /is registered with token_endpoint_auth_method tls_client_auth but authenticated with private_key_jwt/);

  const rotated = env.svid('/agents/mcp-refresher', { agent_model: 'm1' });
  const r2 = await refresh(rt1, {}, rotated);
  t.is(r2.status, 200, r2.text);
  const c2 = payloadOf(r2.json.access_token as string);
  t.deepEqual(c2.cnf, { 'x5t#S256': rotated.x5t }, 'bound to the certificate presented now');
  t.is(c2.act.sub, AGENT);

  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'actor', value: AGENT, at: now, expiresAt: now + 300, by: 'test' });
  oauthError(t, await refresh(r2.json.refresh_token as string, {}, rotated), 'invalid_grant', /refresh_token is revoked/);
});

test('unknown refresh token: invalid_grant', async (t) => {
  oauthError(t, await refresh('rt_not-a-token'), 'invalid_grant', /^refresh_token is unknown/);
});

test('metadata lists refresh_token; dynamic registration is off by default (404, not in metadata)', async (t) => {
  const meta = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.true((meta.json.grant_types_supported as string[]).includes('refresh_token'), meta.text);
  t.is(meta.json.registration_endpoint, undefined);
  const r = await env.request('POST', '/oauth2/register', { contentType: 'application/json', body: JSON.stringify({ redirect_uris: ['https://app.example.com/cb'] }) });
  t.is(r.status, 404, r.text);
});

test('two servers on one PostgreSQL racing one refresh token: exactly one wins', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_refresh_race');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  const op = await startOpenIdProvider(t);
  const ISSUER = 'https://tessera.example.org';
  const CLIENT = 'https://app.example.com/client.json';
  const config = {
    datastore: { kind: 'postgres', connection: url },
    oauth: {
      listen: '127.0.0.1:0', issuer: ISSUER,
      trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
      login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.client.clientSecret, ca_file: op.caFile },
    },
  };
  const A = await startServer(t, { config });
  const B = await startServer(t, { config });
  await until('both CAs in both bundles', () => (A.readBundle().der.length === 2 && B.readBundle().der.length === 2 ? true : undefined));
  const caPem = A.readBundle().pem;
  const addr = (s: TestServer) => readFileSync(join(s.dataDir, 'oauth.addr'), 'utf8').trim();

  // The grant as a code redemption would have left it (a fixture written through the real module).
  const store = await PostgresDatastore.open({ connectionString: url });
  t.teardown(() => store.close());
  await store.createDelegationPolicy({
    id: 'pol_race', description: 'race', actors: [CLIENT], subjectIssuer: op.issuer, subjects: [], groups: [],
    audiences: [MCP], scopes: ['files:read', 'offline_access'], maxTtl: 300, maxDepth: 1, mayDelegateTo: [],
  });
  const now = Math.floor(Date.now() / 1000);
  const fixture = (i: number) => issueRefreshToken(store, {
    grantId: `grt_race${i}`, client: { clientId: CLIENT }, now, expiresAt: now + 3600,
    data: { subject: { issuer: op.issuer, name: 'alice', groups: ['eng'] }, scopes: ['files:read', 'offline_access'], resource: MCP, approvedAt: now },
  });
  const present = (s: TestServer, token: string) => httpsCall(addr(s), caPem, 'POST', '/oauth2/token', {
    params: { grant_type: 'refresh_token', refresh_token: token, client_id: CLIENT },
  });
  // Both servers serve the policy before the race starts (change feed).
  const warm = await fixture(0);
  await until('A to refresh', async () => ((await present(A, warm)).status === 200 ? true : undefined));
  const warmB = await fixture(100);
  await until('B to refresh', async () => ((await present(B, warmB)).status === 200 ? true : undefined));

  for (let i = 1; i <= 5; i++) {
    const token = await fixture(i);
    const results = await Promise.all([present(A, token), present(B, token)]);
    const statuses = results.map((r) => r.status).sort();
    t.deepEqual(statuses, [200, 400], `round ${i}: ${results.map((r) => r.text).join(' | ')}`);
    const loser = results.find((r) => r.status === 400)!;
    t.is(loser.json.error, 'invalid_grant');
    const rows = await store.getRefreshToken(refreshTokenHash(token));
    t.true(rows!.usedAt > 0, 'the token was rotated once');
  }
});
