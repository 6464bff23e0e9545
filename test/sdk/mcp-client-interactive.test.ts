import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import type { JwtSvidSource } from '../../spiffe/source/types.ts';
import { McpClientError } from '../../spiffe/mcp/client-errors.ts';
import { SpiffeMcpClientProvider, type SpiffeMcpClientOptions } from '../../spiffe/mcp/client-provider.ts';
import type { FetchLike } from '../../spiffe/mcp/fetch.ts';
import { bundleSetOf, makeRootCa, makeSvid } from '../helpers/pki.ts';
import { RESEARCHER, tlsOf } from './delegation-fixtures.ts';
import { close, listen, source } from './fixtures.ts';

/**
 * SpiffeMcpClientProvider as the client of a person's authorization (authorization
 * code + PKCE), driven by the MCP SDK's own auth(): a small HTTPS authorization server
 * on the trust domain's server SVID (metadata + token endpoint, every form recorded),
 * the MCP server's protected resource metadata answered in memory.
 */
const MCP = 'https://mcp.example.test/mcp';
const REDIRECT = 'http://127.0.0.1:8976/callback';
const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

interface TokenCall { form: Record<string, string>; mtls: boolean }

async function setup(t: ExecutionContext, o: Partial<SpiffeMcpClientOptions> = {}, answer: (form: Record<string, string>) => Record<string, unknown> = () => ({})) {
  const ca = await makeRootCa('example.org');
  const bundles = bundleSetOf([ca]);
  const calls: TokenCall[] = [];
  let issuer = '';
  const server = https.createServer({ ...tlsOf(makeSvid(ca, 'tessera/server')), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer, authorization_endpoint: `${issuer}/oauth2/authorize`, token_endpoint: `${issuer}/oauth2/token`,
        response_types_supported: ['code'], code_challenge_methods_supported: ['S256'],
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'], authorization_response_iss_parameter_supported: true,
      }));
      return;
    }
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      calls.push({ form, mtls: (req.socket as TLSSocket).getPeerCertificate().raw !== undefined });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        access_token: `at-${calls.length}`, token_type: 'Bearer', expires_in: 120, scope: 'files:read files:write', ...answer(form),
      }));
    });
  });
  issuer = `https://127.0.0.1:${await listen(server)}`;
  t.teardown(() => close(server));
  const opened: URL[] = [];
  const pr = new SpiffeMcpClientProvider({
    serverUrl: MCP, x509Source: source(ca, 'agents/researcher', bundles), scope: ['files:read', 'files:write'],
    authorizationCode: { redirectUrl: REDIRECT, open: (u) => { opened.push(u); } }, ...o,
  });
  t.teardown(() => pr.close());
  // What the SDK fetches: the MCP server's metadata from here, the authorization server through the provider's own fetch.
  const fetchFn: FetchLike = async (url, init) => {
    const u = new URL(String(url));
    if (u.origin !== new URL(MCP).origin) return pr.fetch(url, init);
    if (u.pathname !== '/.well-known/oauth-protected-resource/mcp') return new Response('', { status: 404 });
    return Response.json({ resource: MCP, authorization_servers: [issuer], scopes_supported: ['files:read'] });
  };
  const start = async () => {
    t.is(await auth(pr, { serverUrl: MCP, fetchFn }), 'REDIRECT');
    return opened.at(-1)!;
  };
  const callback = (q: Record<string, string>) => `${REDIRECT}?${new URLSearchParams(q)}`;
  return { issuer, calls, opened, pr, fetchFn, start, callback, finish: (code: string) => auth(pr, { serverUrl: MCP, authorizationCode: code, fetchFn }) };
}

test('the agent is the client of the person\'s consent: its SPIFFE ID, PKCE S256, state, resource and its scopes; the code redeemed with the verifier over mTLS', async (t) => {
  const s = await setup(t);
  t.is(s.pr.redirectUrl, REDIRECT);
  t.like(s.pr.clientMetadata, { redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'tls_client_auth' });
  const u = await s.start();
  t.is(u.origin + u.pathname, `${s.issuer}/oauth2/authorize`);
  const q = Object.fromEntries(u.searchParams);
  t.like(q, { response_type: 'code', client_id: RESEARCHER, redirect_uri: REDIRECT, code_challenge_method: 'S256', resource: MCP, scope: 'files:read files:write' });
  t.regex(q.state!, /^[\w-]{43}$/);
  t.deepEqual(s.calls, [], 'interactive mode never falls back to client_credentials');

  const code = s.pr.completeAuthorization(s.callback({ code: 'c-1', state: q.state!, iss: s.issuer }));
  t.is(await s.finish(code), 'AUTHORIZED');
  t.is(s.calls.length, 1);
  const { form, mtls } = s.calls[0]!;
  t.like(form, { grant_type: 'authorization_code', code: 'c-1', redirect_uri: REDIRECT, resource: MCP, client_id: RESEARCHER });
  t.is(createHash('sha256').update(form.code_verifier!).digest('base64url'), q.code_challenge);
  t.true(mtls, 'the SVID authenticates the client at the token endpoint');
  t.false('client_secret' in form);
  t.is((await s.pr.tokens())?.access_token, 'at-1');
});

test('with a JWT-SVID the code redemption carries a jwt-spiffe client assertion for the issuer', async (t) => {
  const audiences: string[] = [];
  const jwtSource = { fetchJwtSvid: async ({ audience }: { audience: string | string[] }) => { audiences.push(String(audience)); return { token: 'jwt-svid' }; } } as unknown as JwtSvidSource;
  const s = await setup(t, { authMethod: 'jwt-svid', jwtSource });
  const q = Object.fromEntries((await s.start()).searchParams);
  await s.finish(s.pr.completeAuthorization(s.callback({ code: 'c-2', state: q.state!, iss: s.issuer })));
  t.like(s.calls[0]!.form, { grant_type: 'authorization_code', client_assertion_type: JWT_SPIFFE, client_assertion: 'jwt-svid', client_id: RESEARCHER });
  t.false(s.calls[0]!.mtls);
  t.deepEqual(audiences, [s.issuer]);
});

test('renews through the refresh token, never through the browser again', async (t) => {
  let now = Date.now();
  const s = await setup(t, { now: () => now, renewBeforeSeconds: 30 }, (f) => (f.grant_type === 'authorization_code' ? { refresh_token: 'rt-1' } : { refresh_token: 'rt-2' }));
  const q = Object.fromEntries((await s.start()).searchParams);
  await s.finish(s.pr.completeAuthorization(s.callback({ code: 'c-3', state: q.state!, iss: s.issuer })));
  now += 100_000;
  t.is((await s.pr.tokens())?.access_token, 'at-2');
  t.like(s.calls[1]!.form, { grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: RESEARCHER, resource: MCP });
  t.true(s.calls[1]!.mtls);
  now += 100_000;
  await s.pr.tokens();
  t.is(s.calls[2]!.form.refresh_token, 'rt-2', 'the rotated refresh token is the one used next');
  t.is(s.opened.length, 1);
});

test('refuses a callback whose state is not the pending request\'s; the pending authorization survives it', async (t) => {
  const s = await setup(t);
  const q = Object.fromEntries((await s.start()).searchParams);
  const err = t.throws(() => s.pr.completeAuthorization(s.callback({ code: 'forged', state: 'x'.repeat(43), iss: s.issuer })));
  t.true(err instanceof McpClientError && err.code === 'ERR_MCP_STATE', String(err));
  t.throws(() => s.pr.completeAuthorization(s.callback({ code: 'forged', iss: s.issuer })), { instanceOf: McpClientError, message: /no state/ });
  // The code cannot be redeemed around the check: no verifier without a checked callback.
  await t.throwsAsync(s.finish('forged'), { instanceOf: McpClientError, message: /completeAuthorization/ });
  t.deepEqual(s.calls, []);
  t.is(s.pr.completeAuthorization(s.callback({ code: 'c-4', state: q.state!, iss: s.issuer })), 'c-4');
});

test('refuses a callback from another issuer, or without iss (RFC 9207 mix-up defence)', async (t) => {
  const s = await setup(t);
  let q = Object.fromEntries((await s.start()).searchParams);
  const err = t.throws(() => s.pr.completeAuthorization(s.callback({ code: 'c-5', state: q.state!, iss: 'https://attacker.example' })));
  t.true(err instanceof McpClientError && err.code === 'ERR_MCP_ISSUER', String(err));
  await t.throwsAsync(s.finish('c-5'), { instanceOf: McpClientError });
  q = Object.fromEntries((await s.start()).searchParams);
  t.throws(() => s.pr.completeAuthorization(s.callback({ code: 'c-6', state: q.state! })), { instanceOf: McpClientError, message: /no iss/ });
  t.deepEqual(s.calls, []);
});

test('a refusal by the person comes back as ERR_MCP_AUTHORIZATION', async (t) => {
  const s = await setup(t);
  const q = Object.fromEntries((await s.start()).searchParams);
  const err = t.throws(() => s.pr.completeAuthorization(s.callback({ error: 'access_denied', error_description: 'alice denied the request', state: q.state!, iss: s.issuer })));
  t.true(err instanceof McpClientError && err.code === 'ERR_MCP_AUTHORIZATION', String(err));
  t.regex(err!.message, /access_denied \(alice denied the request\)/);
});

test('options that cannot work are refused at construction', async (t) => {
  const ca = await makeRootCa('example.org');
  const x509Source = source(ca, 'agents/researcher', bundleSetOf([ca]));
  const open = () => undefined;
  t.throws(() => new SpiffeMcpClientProvider({ serverUrl: MCP, x509Source, subjectToken: 't', authorizationCode: { redirectUrl: REDIRECT, open } }), { message: /exclude/ });
  t.throws(() => new SpiffeMcpClientProvider({ serverUrl: MCP, x509Source, authorizationCode: { redirectUrl: 'http://agent.example/cb', open } }), { message: /loopback/ });
  const plain = new SpiffeMcpClientProvider({ serverUrl: MCP, x509Source });
  t.teardown(() => plain.close());
  t.is(plain.redirectUrl, undefined);
  t.is((await plain.prepareTokenRequest())?.get('grant_type'), 'client_credentials');
});
