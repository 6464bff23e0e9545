import test, { type ExecutionContext } from 'ava';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { SpiffeId } from '../../spiffe/id.ts';
import { DelegationError } from '../../spiffe/delegation/errors.ts';
import { exchangeToken, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../spiffe/delegation/exchange.ts';
import { parseJwtSvidInsecure } from '../../spiffe/jwtsvid/parse.ts';
import { signJwtSvid } from '../../spiffe/jwtsvid/sign.ts';
import type { JwtSvidSource } from '../../spiffe/source/types.ts';
import { jwtKey, makeSvid, type TestSvid } from '../helpers/pki.ts';
import { close, listen, source } from './fixtures.ts';
import { RS, mint, pki, signingKey, tlsOf, type Pki } from './delegation-fixtures.ts';

interface Seen { form: URLSearchParams; contentType: string | undefined; clientCert: Buffer | undefined }

/** A fake token endpoint on `cert` (default the server SVID): client certificates requested, not required. */
async function tokenEndpoint(t: ExecutionContext, p: Pki, reply: (seen: Seen) => { status: number; body: string }, cert: TestSvid = p.server) {
  const seen: Seen[] = [];
  const server = https.createServer({ ...tlsOf(cert), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => {
      const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
      const s: Seen = { form: new URLSearchParams(body), contentType: req.headers['content-type'], clientCert: raw && raw.length ? raw : undefined };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(r.body);
    });
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  return { seen, url: `https://127.0.0.1:${port}/oauth2/token` };
}

const issued = (o: Record<string, unknown> = {}) => () => ({
  status: 200,
  body: JSON.stringify({ access_token: 'eyJ.delegated.token', issued_token_type: TOKEN_TYPE.accessToken, token_type: 'Bearer', expires_in: 300, scope: 'files:read', ...o }),
});

const idToken = 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';

test('mTLS exchange: form-encoded RFC 8693 request, our SVID presented as the client certificate, typed result', async (t) => {
  const p = await pki();
  const ep = await tokenEndpoint(t, p, issued());
  const actor = source(p.ca, 'agents/researcher', p.bundles);
  const r = await exchangeToken({
    tokenEndpoint: ep.url, subjectToken: idToken, audience: [RS, 'https://b.example.org'], resource: ['https://r.example.org/x'],
    scope: ['files:read', 'review:post'], expiresIn: 120, x509Source: actor, bundleSource: p.bundles,
  });
  t.deepEqual(r, { accessToken: 'eyJ.delegated.token', expiresIn: 300, scope: ['files:read'], issuedTokenType: TOKEN_TYPE.accessToken, tokenType: 'Bearer' });
  const s = ep.seen[0]!;
  t.is(s.contentType, 'application/x-www-form-urlencoded');
  t.is(s.form.get('grant_type'), TOKEN_EXCHANGE_GRANT);
  t.is(s.form.get('subject_token'), idToken);
  t.is(s.form.get('subject_token_type'), TOKEN_TYPE.jwt);
  t.deepEqual(s.form.getAll('audience'), [RS, 'https://b.example.org']);
  t.deepEqual(s.form.getAll('resource'), ['https://r.example.org/x']);
  t.is(s.form.get('scope'), 'files:read review:post');
  t.is(s.form.get('expires_in'), '120');
  t.false(s.form.has('actor_token'));
  t.true(s.clientCert!.equals(Buffer.from(actor.getX509Svid().certificates[0]!)), 'the client certificate is the actor SVID leaf');
});

test('a delegated token as subject defaults to the access_token type; an omitted scope means the requested one', async (t) => {
  const p = await pki();
  const ep = await tokenEndpoint(t, p, issued({ scope: undefined }));
  const parent = await mint({ key: signingKey() });
  const r = await exchangeToken({ tokenEndpoint: ep.url, subjectToken: parent, audience: [RS], scope: ['files:read'], x509Source: source(p.ca, 'agents/sub-agent', p.bundles), bundleSource: p.bundles });
  t.is(ep.seen[0]!.form.get('subject_token_type'), TOKEN_TYPE.accessToken);
  t.deepEqual(r.scope, ['files:read']);
});

test('actor_token exchange: a JWT-SVID whose audience is the token endpoint, no client certificate', async (t) => {
  const p = await pki();
  const ep = await tokenEndpoint(t, p, issued());
  const key = jwtKey('ES256');
  const asked: string[][] = [];
  const jwtSource: JwtSvidSource = {
    fetchJwtSvid: async (q) => {
      const audience = typeof q.audience === 'string' ? [q.audience] : q.audience;
      asked.push(audience);
      return parseJwtSvidInsecure(await signJwtSvid({ id: SpiffeId.parse('spiffe://example.org/agents/researcher'), audience, expiresAt: new Date(Date.now() + 300_000), key }));
    },
  };
  await exchangeToken({ tokenEndpoint: ep.url, subjectToken: idToken, subjectTokenType: TOKEN_TYPE.idToken, audience: [RS], jwtSource, bundleSource: p.bundles });
  const s = ep.seen[0]!;
  t.deepEqual(asked, [[ep.url]]);
  t.is(s.form.get('actor_token_type'), TOKEN_TYPE.jwt);
  t.deepEqual(parseJwtSvidInsecure(s.form.get('actor_token')!).audience, [ep.url]);
  t.is(s.form.get('subject_token_type'), TOKEN_TYPE.idToken);
  t.is(s.clientCert, undefined);
});

test('maps OAuth error JSON to ERR_OAUTH_<ERROR> with the server\'s error and description', async (t) => {
  const p = await pki();
  const cases: [number, string, string][] = [
    [400, 'invalid_scope', 'scope files:write is not allowed: the subject token grants files:read; policy pol_x allows files:read review:post'],
    [400, 'invalid_target', 'audience or resource is required'],
    [401, 'invalid_client', 'no actor identity'],
    [400, 'unauthorized_client', 'no policy lets spiffe://example.org/agents/researcher act for https://idp.example.org#alice'],
  ];
  for (const [status, error, description] of cases) {
    const ep = await tokenEndpoint(t, p, () => ({ status, body: JSON.stringify({ error, error_description: description }) }));
    const err = await t.throwsAsync(exchangeToken({ tokenEndpoint: ep.url, subjectToken: idToken, audience: [RS], x509Source: source(p.ca, 'agents/researcher', p.bundles), bundleSource: p.bundles }), { instanceOf: DelegationError });
    t.is(err!.code as string, `ERR_OAUTH_${error.toUpperCase()}`);
    t.is(err!.oauthError, error);
    t.is(err!.description, description);
    t.is(err!.status, status);
    t.true(err!.message.includes(description));
  }
  const broken = await tokenEndpoint(t, p, () => ({ status: 502, body: '<html>bad gateway</html>' }));
  const err = await t.throwsAsync(exchangeToken({ tokenEndpoint: broken.url, subjectToken: idToken, audience: [RS], x509Source: source(p.ca, 'agents/researcher', p.bundles), bundleSource: p.bundles }), { instanceOf: DelegationError });
  t.is(err!.code, 'ERR_OAUTH_SERVER_ERROR');
  t.is(err!.status, 502);
});

test('never sends the subject token to a server that is not the trust domain\'s server SVID', async (t) => {
  const p = await pki();
  const ep = await tokenEndpoint(t, p, issued(), makeSvid(p.ca, 'agents/impostor'));
  await t.throwsAsync(exchangeToken({ tokenEndpoint: ep.url, subjectToken: idToken, audience: [RS], x509Source: source(p.ca, 'agents/researcher', p.bundles), bundleSource: p.bundles }), { message: /impostor/ });
  t.is(ep.seen.length, 0);
});
