import { generateKeyPairSync } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { systemClock } from '../../common/clock.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf, until, type HttpResult, type Workload } from './harness.ts';
import { MCP, startMcpEnv, type McpEnv } from './mcp-harness.ts';

/**
 * grant_type=client_credentials: an agent acting for itself, authenticated with its
 * SVID (mTLS or a JWT-SVID assertion), authorized by a delegation policy whose
 * subject_issuer is this authorization server — and RFC 7591 registration when
 * enabled (this env turns it on; mcp-refresh.test.ts checks it is off by default).
 */
const scope = sharedScope();
let env: McpEnv;
const AGENT = 'spiffe://example.org/agents/indexer';
const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

test.before(async () => {
  env = await startMcpEnv(scope, { oauth: { dynamic_registration: true } });
  await env.policy({
    id: 'pol_self', subjectIssuer: env.issuer, actors: ['spiffe://example.org/agents/*'],
    audiences: [MCP], scopes: ['files:read', 'files:write'], maxTtl: 120,
  });
});
test.after.always(() => scope.cleanup());

const credentials = (params: Record<string, string | undefined>, as?: Workload) =>
  env.request('POST', '/oauth2/token', { as, params: { grant_type: 'client_credentials', resource: MCP, ...params } });
const assertion = (token: string, clientId?: string) => ({ client_assertion_type: JWT_SPIFFE, client_assertion: token, client_id: clientId });
const introspect = (token: string) => env.request('POST', '/oauth2/introspect', { params: { token }, as: env.svid('/rs/mcp') });

function oauthError(t: ExecutionContext, r: HttpResult, status: number, error: string, description: RegExp) {
  t.is(r.status, status, r.text);
  t.is(r.json.error, error);
  t.regex(r.json.error_description as string, description);
  t.is(r.headers['cache-control'], 'no-store');
}

test('over mTLS: sub and client_id are the agent, ai_agent profile, aud = resource, bound to the certificate', async (t) => {
  const agent = env.svid('/agents/indexer', { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  const r = await credentials({ scope: 'files:read' }, agent);
  t.is(r.status, 200, r.text);
  t.is(r.json.token_type, 'Bearer');
  t.is(r.json.scope, 'files:read');
  t.is(r.json.expires_in, 120, 'policy max_ttl');
  t.is(r.json.refresh_token, undefined, 'no refresh token for client credentials');
  const c = payloadOf(r.json.access_token as string);
  t.is(c.iss, env.issuer);
  t.is(c.sub, AGENT);
  t.is(c.client_id, AGENT);
  t.is(c.sub_profile, 'ai_agent');
  t.deepEqual(c.aud, [MCP]);
  t.deepEqual(c.subject, { iss: env.issuer, sub: AGENT, groups: [] });
  t.deepEqual(c.act, { sub: AGENT, iss: 'spiffe://example.org', sub_profile: 'ai_agent', agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  t.deepEqual(c.cnf, { 'x5t#S256': agent.x5t });
  t.deepEqual(c.chain, []);
  t.regex(c.grant_id, /^grt_/);
  const i = await introspect(r.json.access_token as string);
  t.is(i.json.active, true, i.text);
  t.is(i.json.sub, AGENT);
});

test('no scope requested: everything the policy allows', async (t) => {
  const r = await credentials({}, env.svid('/agents/indexer'));
  t.is(r.status, 200, r.text);
  t.is(r.json.scope, 'files:read files:write');
});

test('with a JWT-SVID assertion: a bearer token with the service profile', async (t) => {
  const token = await env.jwtSvid('/agents/assert', [env.issuer]);
  const r = await credentials({ ...assertion(token, 'spiffe://example.org/agents/assert'), scope: 'files:write' });
  t.is(r.status, 200, r.text);
  const c = payloadOf(r.json.access_token as string);
  t.is(c.sub, 'spiffe://example.org/agents/assert');
  t.is(c.client_id, 'spiffe://example.org/agents/assert');
  t.is(c.sub_profile, 'service');
  t.is(c.cnf, undefined, 'no certificate: no cnf');
  t.is(c.scope, 'files:write');
});

test('the assertion alone names the client (client_id optional), aud may be the token endpoint', async (t) => {
  const token = await env.jwtSvid('/agents/assert2', [env.tokenEndpoint]);
  const r = await credentials(assertion(token));
  t.is(r.status, 200, r.text);
  t.is(payloadOf(r.json.access_token as string).sub, 'spiffe://example.org/agents/assert2');
});

test('an actor revocation kills the agent\'s tokens', async (t) => {
  const agent = env.svid('/agents/revoked');
  const r = await credentials({}, agent);
  t.is(r.status, 200, r.text);
  const token = r.json.access_token as string;
  t.is((await introspect(token)).json.active, true);
  const now = Math.floor(Date.now() / 1000);
  await env.server.store.addRevocation({ kind: 'actor', value: agent.id, at: now, expiresAt: now + 300, by: 'test' });
  await until('the revocation to reach introspection', async () => ((await introspect(token)).json.active === false ? true : undefined));
  t.deepEqual((await introspect(token)).json, { active: false });
});

// ---- refusals ----

test('no policy for the agent (another trust-domain path): unauthorized_client naming what a policy needs', async (t) => {
  oauthError(t, await credentials({}, env.svid('/tools/stranger')), 400, 'unauthorized_client',
    new RegExp(`no delegation policy lets spiffe://example\\.org/tools/stranger act for itself: client credentials need a policy with subject_issuer ${env.issuer.replace(/\./g, '\\.')} whose actors match`));
});

test('scope beyond the policy: invalid_scope', async (t) => {
  oauthError(t, await credentials({ scope: 'files:read files:delete' }, env.svid('/agents/indexer')), 400, 'invalid_scope',
    /scope files:delete is not allowed: policy pol_self allows files:read files:write/);
});

test('resource missing: invalid_target', async (t) => {
  oauthError(t, await credentials({ resource: undefined }, env.svid('/agents/indexer')), 400, 'invalid_target', /^resource is required/);
});

test('resource outside the policy: invalid_target', async (t) => {
  oauthError(t, await credentials({ resource: 'https://other.example.org/mcp' }, env.svid('/agents/indexer')), 400, 'invalid_target',
    /audience https:\/\/other\.example\.org\/mcp not allowed: policy pol_self allows https:\/\/mcp\.example\.org\/mcp/);
});

test('no credentials (auth method none) for a URL client: invalid_client', async (t) => {
  oauthError(t, await credentials({ client_id: env.publicClientId }), 401, 'invalid_client',
    /presented no credentials, and this request needs an authenticated client/);
});

test('no credentials for a SPIFFE ID client: invalid_client', async (t) => {
  oauthError(t, await credentials({ client_id: AGENT }), 401, 'invalid_client', /is a SPIFFE ID: that client must authenticate/);
});

test('a client secret: invalid_client, there are none', async (t) => {
  oauthError(t, await credentials({ client_id: AGENT, client_secret: 's3cret' }), 401, 'invalid_client', /client_secret is not accepted/);
});

test('assertion expired: invalid_client', async (t) => {
  const past = new SvidSigner(env.server.ca, { now: () => systemClock.now() - 3_600_000, sleep: systemClock.sleep });
  const { token } = await past.mintJwt({ spiffeId: SpiffeId.parse(AGENT), audience: [env.issuer], ttlSeconds: 300 });
  oauthError(t, await credentials(assertion(token)), 401, 'invalid_client', /is not a valid JWT-SVID of trust domain example\.org: it expired at/);
});

test('assertion for another audience: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/indexer', ['https://elsewhere.example.org']);
  oauthError(t, await credentials(assertion(token)), 401, 'invalid_client', /its aud \["https:\/\/elsewhere\.example\.org"\] is neither/);
});

test('assertion replayed: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/indexer', [env.issuer]);
  t.is((await credentials(assertion(token))).status, 200);
  oauthError(t, await credentials(assertion(token)), 401, 'invalid_client', /was already used: client assertions are single use/);
});

test('assertion signed by a key outside the bundle: invalid_client', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const token = await signJwtSvid({ id: SpiffeId.parse(AGENT), audience: [env.issuer], expiresAt: new Date(Date.now() + 120_000),
    key: { kid: 'rogue-key', privateKey, alg: 'ES256' } });
  oauthError(t, await credentials(assertion(token)), 401, 'invalid_client', /no key "rogue-key" in the JWT bundle of example\.org/);
});

test('assertion for another SPIFFE ID than client_id: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/other', [env.issuer]);
  oauthError(t, await credentials(assertion(token, AGENT)), 401, 'invalid_client',
    /client_assertion is a JWT-SVID of spiffe:\/\/example\.org\/agents\/other, not of client_id spiffe:\/\/example\.org\/agents\/indexer/);
});

test('mTLS certificate not matching client_id: invalid_client', async (t) => {
  oauthError(t, await credentials({ client_id: AGENT }, env.svid('/agents/other')), 401, 'invalid_client',
    /client_id spiffe:\/\/example\.org\/agents\/indexer does not match the TLS client certificate, an X\.509-SVID of spiffe:\/\/example\.org\/agents\/other/);
});

test('a registered client must use its registered method', async (t) => {
  await env.server.store.createOAuthClient({
    clientId: 'spiffe://example.org/agents/pinned', name: 'Pinned', redirectUris: [], authMethod: 'tls_client_auth', registeredBy: 'admin', createdAt: 0,
  });
  const token = await env.jwtSvid('/agents/pinned', [env.issuer]);
  oauthError(t, await credentials(assertion(token)), 401, 'invalid_client',
    /is registered with token_endpoint_auth_method tls_client_auth but authenticated with private_key_jwt/);
  t.is((await credentials({}, env.svid('/agents/pinned'))).status, 200);
});

test('metadata lists client_credentials', async (t) => {
  const r = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.true((r.json.grant_types_supported as string[]).includes('client_credentials'), r.text);
});

// ---- RFC 7591 dynamic registration (enabled here) ----

test('dynamic registration, enabled: a public client is registered under the issuer and stored', async (t) => {
  const r = await env.request('POST', '/oauth2/register', {
    contentType: 'application/json', body: JSON.stringify({ client_name: 'Dyn client', redirect_uris: ['http://127.0.0.1:41000/cb'] }),
  });
  t.is(r.status, 201, r.text);
  t.regex(r.json.client_id as string, new RegExp(`^${env.issuer.replace(/\./g, '\\.')}/oauth2/clients/[A-Za-z0-9_-]{22}$`));
  t.is(r.json.token_endpoint_auth_method, 'none');
  const rec = await env.server.store.getOAuthClient(r.json.client_id as string);
  t.like(rec, { name: 'Dyn client', redirectUris: ['http://127.0.0.1:41000/cb'], authMethod: 'none', registeredBy: 'dynamic' });
  const meta = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.is(meta.json.registration_endpoint, `${env.issuer}/oauth2/register`);
});

test('dynamic registration refuses confidential clients and bad redirect URIs', async (t) => {
  const reg = (m: unknown) => env.request('POST', '/oauth2/register', { contentType: 'application/json', body: JSON.stringify(m) });
  const secret = await reg({ redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'client_secret_basic' });
  t.is(secret.status, 400);
  t.is(secret.json.error, 'invalid_client_metadata');
  const http = await reg({ redirect_uris: ['http://app.example.com/cb'] });
  t.is(http.json.error, 'invalid_redirect_uri');
  t.regex(http.json.error_description as string, /must use https/);
});
