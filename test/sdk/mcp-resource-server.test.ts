import test, { type ExecutionContext } from 'ava';
import { discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InsufficientScopeError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import * as http from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import { RevocationIndex } from '../../spiffe/delegation/revocation-index.ts';
import { callerOf, requireScopes } from '../../spiffe/mcp/auth-info.ts';
import { createMcpResourceServer } from '../../spiffe/mcp/resource-server.ts';
import { IDP, ISSUER, RESEARCHER, SUB_AGENT, mint, payloadOf, signingKey, type MintOptions } from './delegation-fixtures.ts';
import { agentFetch, mcpClient, startMcpServer, textOf } from './mcp-fixtures.ts';
import { close, listen, source } from './fixtures.ts';

const key = signingKey('ES256', 'oauth-mcp');
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const post = (body: unknown, token?: string) => ({
  method: 'POST', body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
});

async function setup(t: ExecutionContext, o: Parameters<typeof startMcpServer>[1] = {}) {
  const s = await startMcpServer(t, { key, scopesSupported: ['files:read', 'files:write'], ...o });
  const agent = source(s.pki.ca, 'agents/researcher', s.pki.bundles);
  const fetch = agentFetch(t, agent, s.pki);
  const cert = agent.getX509Svid().certificates[0]!;
  const token = (o2: Partial<MintOptions> = {}) =>
    mint({ key, certificate: cert, ...o2, claims: { aud: [s.resource], ...o2.claims } });
  return { ...s, agent, fetch, cert, token, metadataUrl: `https://127.0.0.1:${s.port}/.well-known/oauth-protected-resource/mcp` };
}

test('serves RFC 9728 metadata at /.well-known/oauth-protected-resource/<path>, found by the MCP SDK\'s own discovery', async (t) => {
  const s = await setup(t);
  const expected = {
    resource: s.resource, authorization_servers: [ISSUER], scopes_supported: ['files:read', 'files:write'],
    bearer_methods_supported: ['header'], tls_client_certificate_bound_access_tokens: true,
  };
  const r = await s.fetch(s.metadataUrl);
  t.is(r.status, 200);
  t.is(r.headers.get('content-type'), 'application/json');
  t.deepEqual(await r.json(), expected);
  t.deepEqual(await discoverOAuthProtectedResourceMetadata(s.resource, {}, s.fetch), expected);
});

test('no token: 401 with WWW-Authenticate Bearer resource_metadata and scope, no error code; the MCP client cannot connect', async (t) => {
  const s = await setup(t);
  const r = await s.fetch(s.resource, post(INIT));
  t.is(r.status, 401);
  t.is(r.headers.get('www-authenticate'), `Bearer resource_metadata="${s.metadataUrl}", scope="files:read"`);
  const params = extractWWWAuthenticateParams(r);
  t.is(params.resourceMetadataUrl?.href, s.metadataUrl);
  t.is(params.scope, 'files:read');
  const err = await t.throwsAsync(mcpClient(t, s.resource, s.fetch));
  t.true(err instanceof StreamableHTTPError && err.code === 401, String(err));
});

test('a malformed or forged token: 401 error="invalid_token" with resource_metadata', async (t) => {
  const s = await setup(t);
  const good = await s.token();
  const forged = `${good.slice(0, good.lastIndexOf('.'))}.${'A'.repeat(86)}`;
  for (const bad of [forged, 'not-a-jwt']) {
    const r = await s.fetch(s.resource, post(INIT, bad));
    t.is(r.status, 401);
    t.regex(r.headers.get('www-authenticate')!, new RegExp(`^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="${s.metadataUrl}", scope="files:read"$`));
    t.is(((await r.json()) as { error: string }).error, 'invalid_token');
  }
});

test('a token for another resource is refused (aud must be this server\'s canonical URI)', async (t) => {
  const s = await setup(t);
  const other = await s.token({ claims: { aud: ['https://127.0.0.1:1/mcp', `https://127.0.0.1:${s.port}`] } });
  const r = await s.fetch(s.resource, post(INIT, other));
  t.is(r.status, 401);
  const body = await r.json() as { code: string; error_description: string };
  t.is(body.code, 'ERR_DELEGATION_AUDIENCE');
  t.true(body.error_description.includes(s.resource));
  const err = await t.throwsAsync(mcpClient(t, s.resource, s.fetch, { token: other }));
  t.true(err instanceof StreamableHTTPError && err.code === 401);
});

test('a token bound to another certificate (cnf) is refused on this connection; the same token works on its own', async (t) => {
  const s = await setup(t);
  const token = await s.token();
  const thief = agentFetch(t, source(s.pki.ca, 'agents/thief', s.pki.bundles), s.pki);
  const r = await thief(s.resource, post(INIT, token));
  t.is(r.status, 401);
  t.is(((await r.json()) as { code: string }).code, 'ERR_DELEGATION_BINDING');
  const client = await mcpClient(t, s.resource, s.fetch, { token });
  t.truthy(await client.listTools());
});

test('a tool handler sees the user and the agent chain through extra.authInfo', async (t) => {
  const s = await setup(t);
  const token = await s.token({ actors: [{ sub: SUB_AGENT, agent_model: 'claude-sonnet-4' }, RESEARCHER] });
  const client = await mcpClient(t, s.resource, s.fetch, { token });
  const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))) as Record<string, unknown>;
  t.deepEqual(seen, {
    user: `${IDP}#alice`, agent: SUB_AGENT, chain: [SUB_AGENT, RESEARCHER], scopes: ['files:read', 'review:post'],
    clientId: SUB_AGENT, resource: s.resource,
  });
});

test('a tool needing a scope the token lacks: 403 insufficient_scope naming every scope the call needs (MCP step-up)', async (t) => {
  const s = await setup(t);
  const token = await s.token();
  const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: { path: '/x' } } };
  const r = await s.fetch(s.resource, post(call, token));
  t.is(r.status, 403);
  t.regex(r.headers.get('www-authenticate')!, new RegExp(`^Bearer error="insufficient_scope", error_description="[^"]*files:write[^"]*", resource_metadata="${s.metadataUrl}", scope="files:read files:write"$`));
  t.deepEqual(extractWWWAuthenticateParams(r), { resourceMetadataUrl: new URL(s.metadataUrl), scope: 'files:read files:write', error: 'insufficient_scope' });

  const client = await mcpClient(t, s.resource, s.fetch, { token });
  const err = await t.throwsAsync(client.callTool({ name: 'write_file', arguments: { path: '/x' } }));
  t.true(err instanceof StreamableHTTPError && err.code === 403, String(err));
  t.is(textOf(await client.callTool({ name: 'whoami', arguments: {} })).length > 0, true, 'other tools still work');

  const wider = await s.token({ claims: { scope: 'files:read files:write' } });
  const ok = await mcpClient(t, s.resource, s.fetch, { token: wider });
  t.is(textOf(await ok.callTool({ name: 'write_file', arguments: { path: '/x' } })), `wrote /x for ${IDP}#alice`);
});

test('scope hierarchies: a broader scope satisfies the narrower one it implies', async (t) => {
  const s = await setup(t, { scopeImplications: { 'files:write': ['files:read'] } });
  const token = await s.token({ claims: { scope: 'files:write' } });
  const client = await mcpClient(t, s.resource, s.fetch, { token });
  t.is(textOf(await client.callTool({ name: 'write_file', arguments: { path: '/y' } })), `wrote /y for ${IDP}#alice`);
});

test('requireScopes inside a handler throws the SDK\'s InsufficientScopeError naming the scope', async (t) => {
  t.throws(() => requireScopes({ token: 't', clientId: RESEARCHER, scopes: ['files:read'] }, 'admin'), { instanceOf: InsufficientScopeError, message: /needs scope "admin"/ });
  t.notThrows(() => requireScopes({ token: 't', clientId: RESEARCHER, scopes: ['admin'] }, 'admin'));
  const s = await setup(t);
  const client = await mcpClient(t, s.resource, s.fetch, { token: await s.token() });
  const r = await client.callTool({ name: 'admin', arguments: {} }) as { isError?: boolean };
  t.true(r.isError);
  t.regex(textOf(r), /needs scope "admin"/);
});

test('a revoked token is refused at once, even on a connection that already used it', async (t) => {
  const s = await setup(t);
  const token = await s.token();
  const client = await mcpClient(t, s.resource, s.fetch, { token });
  t.truthy(await client.callTool({ name: 'whoami', arguments: {} }));
  await s.revoke({ kind: 'grant', value: payloadOf(token).grant_id as string });
  const err = await t.throwsAsync(client.callTool({ name: 'whoami', arguments: {} }));
  t.true(err instanceof StreamableHTTPError && err.code === 401, String(err));
  const r = await s.fetch(s.resource, post(INIT, token));
  t.is(((await r.json()) as { code: string }).code, 'ERR_DELEGATION_REVOKED');
});

test('a token that expires while its connection is open is refused from then on', async (t) => {
  let now = Date.now();
  const s = await setup(t, { now: () => now });
  const token = await s.token();
  const client = await mcpClient(t, s.resource, s.fetch, { token });
  t.truthy(await client.listTools());
  now = ((payloadOf(token).exp as number) + 1) * 1000;
  const r = await s.fetch(s.resource, post(INIT, token));
  t.is(r.status, 401);
  t.is(((await r.json()) as { code: string }).code, 'ERR_DELEGATION_EXPIRED');
});

test('a stale revocation feed answers 503 with Retry-After (fail closed, no re-authorization)', async (t) => {
  const s = await setup(t);
  const token = await s.token();
  s.feed.close();
  const r = await s.fetch(s.resource, post(INIT, token));
  t.is(r.status, 503);
  t.is(r.headers.get('retry-after'), '1');
  t.is(r.headers.get('www-authenticate'), null);
});

test('the per-connection fast path (no per-tool scopes) still refuses a token once expired, revoked, or when the feed goes stale', async (t) => {
  let now = Date.now();
  let stale = false;
  const index = new RevocationIndex();
  const server = http.createServer();
  const port = await listen(server);
  t.teardown(() => close(server));
  const resource = `http://127.0.0.1:${port}/mcp`;
  const rs = createMcpResourceServer({
    resource, issuer: ISSUER, keys: createStaticDelegationKeys([{ kid: key.kid, key: key.publicKey }]), requiredScopes: ['files:read'], now: () => now,
    revocations: { revocationOf: (tok) => { if (stale) throw new DelegationError('ERR_DELEGATION_FEED_STALE', 'stale', { reason: 'stale' }); return index.match(tok, now / 1000); } },
  });
  server.on('request', rs.handler((req, res) => { res.end(JSON.stringify({ user: callerOf((req as { auth?: AuthInfo }).auth)?.user })); }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (token: string) => new Promise<{ status: number; code?: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/mcp', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, code: (JSON.parse(b) as { code?: string }).code }));
    }).on('error', reject);
  });
  const token = await mint({ key, claims: { aud: [resource] } });
  const narrow = await mint({ key, claims: { aud: [resource], scope: 'review:post' } });
  t.deepEqual(await get(token), { status: 200, code: undefined });
  t.deepEqual(await get(token), { status: 200, code: undefined }, 'served from the connection cache');
  t.deepEqual(await get(narrow), { status: 403, code: 'ERR_DELEGATION_SCOPE' });
  t.deepEqual(await get(narrow), { status: 403, code: 'ERR_DELEGATION_SCOPE' }, 'a token refused for scope is never cached as good');
  stale = true;
  t.is((await get(token)).status, 503);
  stale = false;
  index.add({ seq: 1, kind: 'jti', value: payloadOf(token).jti as string, at: Math.floor(now / 1000), expiresAt: Math.floor(now / 1000) + 600 });
  t.deepEqual(await get(token), { status: 401, code: 'ERR_DELEGATION_REVOKED' });
  const later = await mint({ key, claims: { aud: [resource] } });
  t.is((await get(later)).status, 200);
  now = ((payloadOf(later).exp as number) + 1) * 1000;
  t.deepEqual(await get(later), { status: 401, code: 'ERR_DELEGATION_EXPIRED' });
});
