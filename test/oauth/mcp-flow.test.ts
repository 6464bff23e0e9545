import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf } from './harness.ts';
import { authorizeFlow, MCP, pkce, startMcpEnv, type McpEnv } from './mcp-harness.ts';

/**
 * The MCP authorization code flow end to end over HTTP: Tessera's authorization
 * endpoint → the real OpenID Provider's login and consent forms → Tessera's consent
 * page → the client's redirect with code, state and iss → the token endpoint.
 */
const scope = sharedScope();
let env: McpEnv;
const AGENT = 'spiffe://example.org/agents/mcp-client';

test.before(async () => {
  env = await startMcpEnv(scope);
  await env.policy({
    id: 'pol_mcp', subjectIssuer: env.op.issuer, actors: [env.publicClientId, AGENT], groups: ['eng'],
    audiences: [MCP], scopes: ['files:read', 'files:write'], maxTtl: 300,
  });
  await env.server.store.createOAuthClient({
    clientId: AGENT, name: 'Research agent', redirectUris: [env.redirectUri], authMethod: 'tls_client_auth', registeredBy: 'admin', createdAt: 0,
  });
});
test.after.always(() => scope.cleanup());

test('metadata names the authorization endpoint, PKCE S256, iss in responses and metadata documents', async (t) => {
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const r = await env.request('GET', path);
    t.is(r.status, 200, path);
    t.is(r.json.issuer, env.issuer);
    t.is(r.json.authorization_endpoint, `${env.issuer}/oauth2/authorize`);
    t.deepEqual(r.json.code_challenge_methods_supported, ['S256']);
    t.is(r.json.authorization_response_iss_parameter_supported, true);
    t.is(r.json.client_id_metadata_document_supported, true);
    t.deepEqual(r.json.response_types_supported, ['code']);
    t.true((r.json.grant_types_supported as string[]).includes('authorization_code'));
    t.deepEqual(r.json.token_endpoint_auth_methods_supported, ['tls_client_auth', 'private_key_jwt', 'none']);
    t.deepEqual(r.json.scopes_supported, ['files:read', 'files:write']);
    t.is(r.json.registration_endpoint, undefined, 'dynamic registration is off by default');
  }
});

test('a public metadata-document client: sign-in, consent, code with state and iss, token for the resource', async (t) => {
  const p = pkce();
  const back = await authorizeFlow(env, p, { scope: 'files:read' });
  t.is(back.origin + back.pathname, env.redirectUri);
  t.is(back.searchParams.get('state'), 'st-123');
  t.is(back.searchParams.get('iss'), env.issuer);
  const code = back.searchParams.get('code');
  t.truthy(code, back.href);

  const r = await env.request('POST', '/oauth2/token', { params: {
    grant_type: 'authorization_code', code: code!, redirect_uri: env.redirectUri, code_verifier: p.verifier,
    client_id: env.publicClientId, resource: MCP,
  } });
  t.is(r.status, 200, r.text);
  t.is(r.json.token_type, 'Bearer');
  t.is(r.json.scope, 'files:read');
  const c = payloadOf(r.json.access_token as string);
  t.is(c.iss, env.issuer);
  t.is(c.sub, `${env.op.issuer}#alice`);
  t.is(c.sub_profile, 'user');
  t.deepEqual(c.aud, [MCP]);
  t.is(c.client_id, env.publicClientId);
  t.is(c.act, undefined, 'a public client proved no workload identity: no act');
  t.deepEqual(c.subject, { iss: env.op.issuer, sub: 'alice', groups: ['eng'] });

  // Introspection sees the token as live.
  const i = await env.request('POST', '/oauth2/introspect', { params: { token: r.json.access_token as string }, as: env.svid('/rs/mcp') });
  t.is(i.json.active, true, i.text);
});

test('an attested agent client over mTLS: act names its SPIFFE ID with the actor profile, token bound to its certificate', async (t) => {
  const p = pkce();
  const back = await authorizeFlow(env, p, { client_id: AGENT, scope: 'files:read files:write' });
  const code = back.searchParams.get('code');
  t.truthy(code, back.href);
  const agent = env.svid('/agents/mcp-client', { agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  const r = await env.request('POST', '/oauth2/token', { as: agent, params: {
    grant_type: 'authorization_code', code: code!, redirect_uri: env.redirectUri, code_verifier: p.verifier, client_id: AGENT, resource: MCP,
  } });
  t.is(r.status, 200, r.text);
  const c = payloadOf(r.json.access_token as string);
  t.is(c.client_id, AGENT);
  t.deepEqual(c.act, { sub: AGENT, iss: 'spiffe://example.org', sub_profile: 'ai_agent', agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' });
  t.deepEqual(c.cnf, { 'x5t#S256': agent.x5t });
  t.is(c.scope, 'files:read files:write');

  // Replay: refused, and the first token is revoked.
  const again = await env.request('POST', '/oauth2/token', { as: agent, params: {
    grant_type: 'authorization_code', code: code!, redirect_uri: env.redirectUri, code_verifier: p.verifier, client_id: AGENT, resource: MCP,
  } });
  t.is(again.status, 400);
  t.is(again.json.error, 'invalid_grant');
  t.regex(again.json.error_description as string, new RegExp(`code was already used; the tokens issued from its first redemption \\(jti ${c.jti}`));
  const i = await env.request('POST', '/oauth2/introspect', { params: { token: r.json.access_token as string }, as: env.svid('/rs/mcp') });
  t.deepEqual(i.json, { active: false });
});
