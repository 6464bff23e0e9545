import { generateKeyPairSync } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { systemClock } from '../../common/clock.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import { sharedScope } from '../helpers/server.ts';
import type { HttpResult } from './harness.ts';
import {
  authorizeFlow, authorizeParams, authorizeUrl, Browser, decide, MCP, pageError, pkce, startMcpEnv, toConsent, type McpEnv, type Pkce,
} from './mcp-harness.ts';

/**
 * Every refusal of the MCP authorization flow names the OAuth error and says what was
 * wrong: at the authorization endpoint (redirected with state and iss once the client
 * and redirect URI are verified, else an error page), in client metadata documents,
 * at the consent step and at the token endpoint (client authentication included).
 */
const scope = sharedScope();
let env: McpEnv;
const AGENT = 'spiffe://example.org/agents/mcp-client';
const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

test.before(async () => {
  env = await startMcpEnv(scope);
  await env.policy({
    id: 'pol_mcp', subjectIssuer: env.op.issuer, actors: [env.publicClientId, AGENT], groups: ['eng'],
    audiences: [MCP], scopes: ['files:read', 'files:write'], maxTtl: 300,
  });
  await env.server.store.createOAuthClient({
    clientId: AGENT, name: 'Research agent', redirectUris: [env.redirectUri], authMethod: 'private_key_jwt', registeredBy: 'admin', createdAt: 0,
  });
});
test.after.always(() => scope.cleanup());

/** An authorization request answered by a redirect to the client with an error. */
async function redirectedError(t: ExecutionContext, over: Record<string, string | undefined>, error: string, description: RegExp) {
  const r = await new Browser(env.fetch).go(authorizeUrl(env, authorizeParams(env, pkce(), over)));
  t.is(r.status, 302, r.html);
  const u = r.location!;
  t.is(u.origin + u.pathname, env.redirectUri);
  t.is(u.searchParams.get('error'), error);
  t.regex(u.searchParams.get('error_description') ?? '', description);
  t.is(u.searchParams.get('iss'), env.issuer, 'iss on every authorization response, errors included (RFC 9207)');
  t.is(u.searchParams.get('state'), over.state ?? 'st-123');
}

/** An authorization request refused with an error page (nothing redirected). */
async function errorPage(t: ExecutionContext, over: Record<string, string | undefined>, error: string, description: RegExp) {
  const r = await new Browser(env.fetch).go(authorizeUrl(env, authorizeParams(env, pkce(), over)));
  t.is(r.status, 400);
  t.is(r.location, undefined, 'never redirected to an unverified redirect URI');
  t.regex(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const e = pageError(r.html);
  t.is(e.error, error);
  t.regex(e.description ?? '', description);
}

test('PKCE missing: invalid_request', (t) => redirectedError(t, { code_challenge: undefined }, 'invalid_request', /^code_challenge is required: this server requires PKCE with code_challenge_method S256$/));
test('PKCE plain: invalid_request', (t) => redirectedError(t, { code_challenge_method: 'plain' }, 'invalid_request', /^code_challenge_method plain is not allowed; only S256 is supported$/));
test('PKCE method omitted (plain by default): invalid_request', (t) => redirectedError(t, { code_challenge_method: undefined }, 'invalid_request', /code_challenge_method is required and must be S256/));
test('resource missing: invalid_target', (t) => redirectedError(t, { resource: undefined }, 'invalid_target', /^resource is required: name the MCP server/));
test('resource with a fragment: invalid_target', (t) => redirectedError(t, { resource: 'https://mcp.example.org/mcp#x' }, 'invalid_target', /must not contain a fragment/));
test('response_type token: unsupported_response_type, state passed through', (t) => redirectedError(t, { response_type: 'token', state: 'other' }, 'unsupported_response_type', /response_type token is not supported; use code/));
test('redirect URI not registered: an error page, no redirect', (t) => errorPage(t, { redirect_uri: 'http://127.0.0.1:39999/evil' }, 'invalid_request', /redirect_uri http:\/\/127\.0\.0\.1:39999\/evil is not registered for client .*exact match required/));
test('unknown client: an error page', (t) => errorPage(t, { client_id: 'no-such-client' }, 'invalid_client', /client_id "no-such-client" is unknown/));
test('unregistered SPIFFE ID client: an error page saying to pre-register it', (t) => errorPage(t, { client_id: 'spiffe://example.org/agents/stranger' }, 'invalid_client', /must be pre-registered with its redirect URIs/));

test('metadata document larger than 16 KiB: refused', async (t) => {
  const id = env.docs.url('/big.json');
  env.docs.json('/big.json', JSON.stringify({ client_id: id, client_name: 'x'.repeat(20_000), redirect_uris: [env.redirectUri] }));
  await errorPage(t, { client_id: id }, 'invalid_client', /is (more than )?\d+ bytes; metadata documents may be at most 16384 bytes/);
});

test('metadata document naming another client_id: refused', async (t) => {
  const id = env.docs.url('/liar.json');
  env.docs.json('/liar.json', { client_id: 'https://app.example.com/client.json', client_name: 'Liar', redirect_uris: [env.redirectUri] });
  await errorPage(t, { client_id: id }, 'invalid_client', /names client_id "https:\/\/app\.example\.com\/client\.json"; it must equal the document URL exactly/);
});

test('metadata document that is not JSON: refused', async (t) => {
  const id = env.docs.url('/html.json');
  env.docs.set('/html.json', (_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>hi</html>'); });
  await errorPage(t, { client_id: id }, 'invalid_client', /did not answer a JSON document/);
});

test('metadata document URL redirecting to a private address: not followed', async (t) => {
  const id = env.docs.url('/moved.json');
  env.docs.set('/moved.json', (_req, res) => { res.writeHead(302, { location: 'https://10.0.0.1/client.json' }); res.end(); });
  await errorPage(t, { client_id: id }, 'invalid_client', /answered a redirect \(HTTP 302 to https:\/\/10\.0\.0\.1\/client\.json\); redirects are not followed/);
});

test('metadata document over http on a non-loopback host: refused before any request', (t) =>
  errorPage(t, { client_id: 'http://app.example.com/client.json' }, 'invalid_client', /must use https/));

test('metadata document at a private address: refused before any request', (t) =>
  errorPage(t, { client_id: 'https://10.1.2.3/client.json' }, 'invalid_client', /resolves to 10\.1\.2\.3, a private, loopback or link-local address/));

test('scope beyond the policy: invalid_scope after sign-in, with state and iss', async (t) => {
  const back = await authorizeFlow(env, pkce(), { scope: 'files:read files:delete' });
  t.is(back.searchParams.get('error'), 'invalid_scope');
  t.regex(back.searchParams.get('error_description')!, /scope files:delete is not allowed: policy pol_mcp allows files:read files:write/);
  t.is(back.searchParams.get('iss'), env.issuer);
  t.is(back.searchParams.get('state'), 'st-123');
});

test('consent denied: access_denied with state and iss', async (t) => {
  const b = new Browser(env.fetch);
  const consent = await toConsent(env, b, authorizeUrl(env, authorizeParams(env, pkce())));
  t.is(consent.status, 200);
  t.regex(consent.headers.get('content-security-policy') ?? '', /default-src 'none'; form-action 'self' http:\/\/127\.0\.0\.1:39999/);
  t.notRegex(consent.html, /<script|style=/);
  const r = await decide(env, b, consent, 'deny');
  t.is(r.status, 303);
  t.is(r.location!.searchParams.get('error'), 'access_denied');
  t.is(r.location!.searchParams.get('error_description'), 'alice denied the request');
  t.is(r.location!.searchParams.get('iss'), env.issuer);
  t.is(r.location!.searchParams.get('state'), 'st-123');
});

for (const [name, csrf, want] of [
  ['missing', null, /carries no CSRF token/],
  ['mismatched', 'forged-token-value', /CSRF token does not match/],
] as const) {
  test(`consent POST with the CSRF token ${name}: refused, no code`, async (t) => {
    const b = new Browser(env.fetch);
    const consent = await toConsent(env, b, authorizeUrl(env, authorizeParams(env, pkce())));
    const r = await decide(env, b, consent, 'approve', csrf);
    t.is(r.status, 403);
    t.is(r.location, undefined);
    t.is(pageError(r.html).error, 'invalid_request');
    t.regex(pageError(r.html).description ?? '', want);
  });
}

test('consent POST without the flow cookie (cross-site): refused', async (t) => {
  const b = new Browser(env.fetch);
  const consent = await toConsent(env, b, authorizeUrl(env, authorizeParams(env, pkce())));
  b.cookies.delete('__Host-tessera_authz');
  const r = await decide(env, b, consent, 'approve');
  t.is(r.status, 403);
  t.regex(pageError(r.html).description ?? '', /no authorization is in progress in this browser/);
});

// ---- token endpoint ----

async function code(p: Pkce, over: Record<string, string | undefined> = {}): Promise<string> {
  const back = await authorizeFlow(env, p, over);
  const c = back.searchParams.get('code');
  if (!c) throw new Error(`no code: ${back.href}`);
  return c;
}

const redeem = (params: Record<string, string | undefined>, as?: ReturnType<McpEnv['svid']>) =>
  env.request('POST', '/oauth2/token', { as, params: { grant_type: 'authorization_code', redirect_uri: env.redirectUri, client_id: env.publicClientId, resource: MCP, ...params } });

function oauthError(t: ExecutionContext, r: HttpResult, status: number, error: string, description: RegExp) {
  t.is(r.status, status, r.text);
  t.is(r.json.error, error);
  t.regex(r.json.error_description as string, description);
  t.is(r.headers['cache-control'], 'no-store');
}

test('wrong code_verifier: invalid_grant', async (t) => {
  const p = pkce();
  oauthError(t, await redeem({ code: await code(p), code_verifier: pkce().verifier }), 400, 'invalid_grant',
    /^code_verifier does not match the code_challenge of the authorization request \(PKCE S256\)$/);
});

test('code_verifier missing: invalid_request', async (t) => {
  oauthError(t, await redeem({ code: await code(pkce()) }), 400, 'invalid_request', /^code_verifier is required \(PKCE\)$/);
});

test('resource at the token endpoint differs from the authorization request: invalid_target', async (t) => {
  const p = pkce();
  oauthError(t, await redeem({ code: await code(p), code_verifier: p.verifier, resource: 'https://other.example.org/mcp' }), 400, 'invalid_target',
    /resource https:\/\/other\.example\.org\/mcp is not the resource https:\/\/mcp\.example\.org\/mcp the code was issued for/);
});

test('resource missing at the token endpoint: invalid_target', async (t) => {
  const p = pkce();
  oauthError(t, await redeem({ code: await code(p), code_verifier: p.verifier, resource: undefined }), 400, 'invalid_target', /^resource is required/);
});

test('redirect_uri differs at the token endpoint: invalid_grant', async (t) => {
  const p = pkce();
  oauthError(t, await redeem({ code: await code(p), code_verifier: p.verifier, redirect_uri: 'http://127.0.0.1:39999/other' }), 400, 'invalid_grant',
    /redirect_uri http:\/\/127\.0\.0\.1:39999\/other is not the redirect_uri of the authorization request/);
});

test('unknown code: invalid_grant', async (t) => {
  oauthError(t, await redeem({ code: 'not-a-code', code_verifier: pkce().verifier }), 400, 'invalid_grant', /^code is unknown/);
});

test('a public client replaying its code: refused and the first token revoked', async (t) => {
  const p = pkce();
  const c = await code(p);
  const first = await redeem({ code: c, code_verifier: p.verifier });
  t.is(first.status, 200, first.text);
  oauthError(t, await redeem({ code: c, code_verifier: p.verifier }), 400, 'invalid_grant', /^code was already used; the tokens issued from its first redemption/);
  const i = await env.request('POST', '/oauth2/introspect', { params: { token: first.json.access_token as string }, as: env.svid('/rs/mcp') });
  t.deepEqual(i.json, { active: false });
});

// ---- client authentication ----

const assertionParams = (assertion: string, clientId = AGENT) => ({
  code: 'no-code', code_verifier: pkce().verifier, client_id: clientId, client_assertion_type: JWT_SPIFFE, client_assertion: assertion,
});

test('client assertion that expired: invalid_client', async (t) => {
  const past = new SvidSigner(env.server.ca, { now: () => systemClock.now() - 3_600_000, sleep: systemClock.sleep });
  const { token } = await past.mintJwt({ spiffeId: SpiffeId.parse(AGENT), audience: [env.issuer], ttlSeconds: 300 });
  oauthError(t, await redeem(assertionParams(token)), 401, 'invalid_client', /client_assertion is not a valid JWT-SVID of trust domain example\.org: it expired at/);
});

test('client assertion for another audience: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/mcp-client', ['https://elsewhere.example.org']);
  oauthError(t, await redeem(assertionParams(token)), 401, 'invalid_client', /its aud \["https:\/\/elsewhere\.example\.org"\] is neither https:\/\/127\.0\.0\.1:\d+ nor https:\/\/127\.0\.0\.1:\d+\/oauth2\/token/);
});

test('client assertion replayed: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/mcp-client', [env.issuer]);
  const first = await redeem(assertionParams(token));
  oauthError(t, first, 400, 'invalid_grant', /^code is unknown/); // authenticated; only the code was bad
  oauthError(t, await redeem(assertionParams(token)), 401, 'invalid_client', /was already used: client assertions are single use/);
});

test('client assertion signed by a key outside the trust bundle: invalid_client', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const token = await signJwtSvid({ id: SpiffeId.parse(AGENT), audience: [env.issuer], expiresAt: new Date(Date.now() + 120_000),
    key: { kid: 'rogue-key', privateKey, alg: 'ES256' } });
  oauthError(t, await redeem(assertionParams(token)), 401, 'invalid_client', /no key "rogue-key" in the JWT bundle of example\.org \(not signed by a key of the trust domain's JWT bundle\)/);
});

test('client assertion of another SPIFFE ID than client_id: invalid_client', async (t) => {
  const token = await env.jwtSvid('/agents/other', [env.issuer]);
  oauthError(t, await redeem(assertionParams(token)), 401, 'invalid_client', /client_assertion is a JWT-SVID of spiffe:\/\/example\.org\/agents\/other, not of client_id spiffe:\/\/example\.org\/agents\/mcp-client/);
});

test('mTLS certificate not matching client_id: invalid_client', async (t) => {
  oauthError(t, await redeem({ code: 'no-code', code_verifier: pkce().verifier, client_id: AGENT }, env.svid('/agents/other')), 401, 'invalid_client',
    /client_id spiffe:\/\/example\.org\/agents\/mcp-client does not match the TLS client certificate, an X\.509-SVID of spiffe:\/\/example\.org\/agents\/other/);
});

test('a SPIFFE ID client without credentials: invalid_client', async (t) => {
  oauthError(t, await redeem({ code: 'no-code', code_verifier: pkce().verifier, client_id: AGENT }), 401, 'invalid_client',
    /client_id spiffe:\/\/example\.org\/agents\/mcp-client is a SPIFFE ID: that client must authenticate/);
});

test('a client registered for private_key_jwt using mTLS instead: invalid_client', async (t) => {
  oauthError(t, await redeem({ code: 'no-code', code_verifier: pkce().verifier, client_id: AGENT }, env.svid('/agents/mcp-client')), 401, 'invalid_client',
    /is registered with token_endpoint_auth_method private_key_jwt but authenticated with tls_client_auth/);
});

test('an attested agent redeeming with a JWT-SVID assertion gets act without cnf', async (t) => {
  const p = pkce();
  const c = await code(p, { client_id: AGENT });
  const token = await env.jwtSvid('/agents/mcp-client', [env.issuer], { agent_model: 'm1' });
  const r = await redeem({ ...assertionParams(token), code: c, code_verifier: p.verifier });
  t.is(r.status, 200, r.text);
  const claims = JSON.parse(Buffer.from((r.json.access_token as string).split('.')[1]!, 'base64url').toString());
  t.deepEqual(claims.act, { sub: AGENT, iss: 'spiffe://example.org', sub_profile: 'ai_agent', agent_model: 'm1' });
  t.is(claims.cnf, undefined);
});
