import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { ACCESS_TOKEN, ID_TOKEN, JWT, payloadOf, startEnv, until, type Env, type Workload } from './harness.ts';

/**
 * RFC 7662 introspection and RFC 7009 revocation: who may call them, what they answer,
 * and that a revocation takes effect at once for introspection and for derived
 * exchanges.
 */
const scope = sharedScope();
let env: Env;
let researcher: Workload;
let resourceServer: Workload;
const TOOLS = 'https://tools.example.org';

test.before(async () => {
  env = await startEnv(scope);
  researcher = env.svid('/agents/researcher');
  resourceServer = env.svid('/tools/files');
  await env.policy({
    id: 'pol_r', actors: ['spiffe://example.org/agents/researcher'], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 300, maxDepth: 2,
    mayDelegateTo: ['spiffe://example.org/agents/sub/*'],
  });
  await env.policy({ id: 'pol_s', actors: ['spiffe://example.org/agents/sub/*'], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 300, maxDepth: 2 });
});
test.after.always(() => scope.cleanup());

async function token(as?: Workload, user = 'alice'): Promise<string> {
  const params: Record<string, string> = { subject_token: await env.idp.token({ sub: user }), subject_token_type: ID_TOKEN, audience: TOOLS };
  if (!as) Object.assign(params, { actor_token: await env.jwtSvid('/agents/researcher', [env.tokenEndpoint]), actor_token_type: JWT });
  const r = await env.exchange(params, as);
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

const introspect = (tok: string, as: Workload | null = resourceServer) => env.request('POST', '/oauth2/introspect', { params: { token: tok }, as: as ?? undefined });
const revoke = (tok: string, as?: Workload) => env.request('POST', '/oauth2/revoke', { params: { token: tok }, as });

test('introspection of a live token: active with its claims', async (t) => {
  const tok = await token(researcher);
  const r = await introspect(tok);
  t.is(r.status, 200, r.text);
  t.is(r.headers['cache-control'], 'no-store');
  const p = payloadOf(tok);
  t.true(r.json.active as boolean);
  for (const k of ['iss', 'sub', 'aud', 'scope', 'exp', 'iat', 'jti', 'client_id', 'grant_id', 'act', 'cnf']) t.deepEqual(r.json[k], p[k], k);
  t.is(r.json.token_type, 'Bearer');
});

test('introspection of garbage, a forged token, an IdP token: active false and nothing else', async (t) => {
  const tok = await token(researcher);
  const [h, , s] = tok.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...payloadOf(tok), scope: 'files:write' })).toString('base64url')}.${s}`;
  for (const bad of ['garbage', forged, await env.idp.token({ sub: 'alice' })]) {
    const r = await introspect(bad);
    t.is(r.status, 200);
    t.deepEqual(r.json, { active: false });
  }
});

test('introspection requires an SVID of the trust domain', async (t) => {
  const r = await introspect(await token(researcher), null);
  t.is(r.status, 401);
  t.is(r.json.error, 'invalid_client');
  t.regex(String(r.json.error_description), /introspection requires an X.509-SVID of trust domain example.org/);
});

test('introspection: missing token parameter', async (t) => {
  const r = await env.request('POST', '/oauth2/introspect', { params: { token_type_hint: 'access_token' }, as: resourceServer });
  t.is(r.status, 400);
  t.is(r.json.error, 'invalid_request');
  t.regex(String(r.json.error_description), /parameter token is required/);
});

test('RFC 7009: a bearer token revoked by presenting it is inactive at once, and so is everything derived from it', async (t) => {
  const bearer = await token();
  t.is(payloadOf(bearer).cnf, undefined);
  // A sub-agent's token derived from it, before the revocation.
  const child = await env.exchange({ subject_token: bearer, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/sub/a'));
  t.is(child.status, 200, child.text);
  t.true((await introspect(child.json.access_token as string)).json.active as boolean);

  const r = await revoke(bearer);
  t.is(r.status, 200, r.text);
  t.deepEqual((await introspect(bearer)).json, { active: false });
  t.deepEqual((await introspect(child.json.access_token as string)).json, { active: false }, 'derived token (chain) is revoked too');
  const again = await env.exchange({ subject_token: bearer, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/sub/b'));
  t.is(again.json.error, 'invalid_request');
  t.regex(String(again.json.error_description), /is revoked \(jti tok_/);
  const ev = await until('revocation log', () => env.logs.find((l) => l.event === 'oauth.token_revoked' && l.jti === payloadOf(bearer).jti));
  t.is(ev.by, 'rfc7009 bearer');
  t.is((await revoke(bearer)).status, 200, 'revoking twice is fine');
});

test('RFC 7009: a bound token needs the SVID of an actor in its chain', async (t) => {
  const bound = await token(researcher);
  const anonymous = await revoke(bound);
  t.is(anonymous.status, 401);
  t.is(anonymous.json.error, 'invalid_client');
  t.regex(String(anonymous.json.error_description), /is bound to a certificate \(cnf\): revoke it over mTLS with the X.509-SVID of an actor in its chain \(spiffe:\/\/example.org\/agents\/researcher\)/);
  const stranger = await revoke(bound, resourceServer);
  t.is(stranger.status, 400);
  t.is(stranger.json.error, 'unauthorized_client');
  t.regex(String(stranger.json.error_description), /spiffe:\/\/example.org\/tools\/files is not an actor of token tok_\S+ \(actors: spiffe:\/\/example.org\/agents\/researcher\)/);
  t.true((await introspect(bound)).json.active as boolean, 'refused revocations change nothing');
  // Another instance of the holder's workload (same SPIFFE ID) may end it.
  t.is((await revoke(bound, env.svid('/agents/researcher'))).status, 200);
  t.deepEqual((await introspect(bound)).json, { active: false });
});

test('RFC 7009: unknown, forged and expired tokens get 200 and revoke nothing', async (t) => {
  const tok = await token(researcher);
  const [h, , s] = tok.split('.');
  const other = await token(researcher, 'bob');
  // A forged token carrying bob's token's jti must not revoke it.
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...payloadOf(tok), jti: payloadOf(other).jti, cnf: undefined })).toString('base64url')}.${s}`;
  for (const bad of ['garbage', forged]) t.is((await revoke(bad)).status, 200);
  t.true((await introspect(other)).json.active as boolean);
});

test('the revocation feed requires an SVID of the trust domain', async (t) => {
  const r = await env.request('GET', '/oauth2/revocations');
  t.is(r.status, 401);
  t.is(r.json.error, 'invalid_client');
  t.regex(String(r.json.error_description), /revocation feed requires an X.509-SVID/);
});

test('the revocation feed streams a snapshot, then each new revocation', async (t) => {
  const { request } = await import('node:https');
  const { certificatesToPem } = await import('../../spiffe/pem.ts');
  const [host, port] = env.server.oauthAddress!.split(':');
  let buf = '';
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({
      host, port: Number(port), path: '/oauth2/revocations', agent: false, ca: certificatesToPem(env.server.ca.x509Authorities()),
      key: resourceServer.key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certificatesToPem(resourceServer.chain),
    }, resolve);
    req.on('error', reject);
    req.end();
  });
  t.teardown(() => res.destroy());
  t.is(res.statusCode, 200);
  t.regex(String(res.headers['content-type']), /^text\/event-stream/);
  res.setEncoding('utf8');
  res.on('data', (d: string) => { buf += d; });
  await until('snapshot', () => (buf.includes('event: snapshot') ? true : undefined));
  const bearer = await token(undefined, 'feed-user');
  t.is((await revoke(bearer)).status, 200);
  const jti = payloadOf(bearer).jti as string;
  const frame = await until('revocation event', () => buf.split('\n\n').find((f) => f.startsWith('event: revocation') && f.includes(jti)));
  const data = JSON.parse(frame.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
  t.like(data, { kind: 'jti', value: jti });
});

test('unknown paths are 404 with an OAuth error body', async (t) => {
  const r = await env.request('GET', '/oauth2/nope');
  t.is(r.status, 404);
  t.is(r.json.error, 'invalid_request');
});
