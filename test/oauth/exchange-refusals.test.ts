import test from 'ava';
import { sharedScope } from '../helpers/server.ts';
import { makeRootCa, makeSvid } from '../helpers/pki.ts';
import { ACCESS_TOKEN, ID_TOKEN, JWT, payloadOf, startEnv, TOKEN_EXCHANGE, until, type Env, type HttpResult, type Workload } from './harness.ts';

/**
 * Every way a token exchange is refused, each with the exact RFC 6749/8693 error code
 * and a description naming what was wrong (docs/delegation.md, refusal table).
 */
const scope = sharedScope();
let env: Env;
let researcher: Workload;
const TOOLS = 'https://tools.example.org';
const R = 'spiffe://example.org/agents/researcher';

test.before(async () => {
  env = await startEnv(scope);
  researcher = env.svid('/agents/researcher');
  await env.policy({
    id: 'pol_r', actors: [R], groups: ['eng'], audiences: [TOOLS, 'https://mail.example.org'], scopes: ['files:read', 'review:post'],
    maxTtl: 200, maxDepth: 2, mayDelegateTo: ['spiffe://example.org/agents/sub/*', R],
  });
  await env.policy({ id: 'pol_s', actors: ['spiffe://example.org/agents/sub/*'], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 100, maxDepth: 2 });
  await env.policy({ id: 'pol_deep', actors: ['spiffe://example.org/agents/deep/*'], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 100, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/deep/*'] });
});
test.after.always(() => scope.cleanup());

const now = () => Math.floor(Date.now() / 1000);
const alice = (claims: Record<string, unknown> = {}) => env.idp.token({ sub: 'alice', groups: ['eng'], ...claims });

function refused(t: import('ava').ExecutionContext, r: HttpResult, error: string, description: RegExp, status = 400): void {
  t.is(r.status, status, r.text);
  t.is(r.json.error, error, r.text);
  t.regex(String(r.json.error_description), description);
  t.is(r.headers['cache-control'], 'no-store');
  t.is(r.headers.pragma, 'no-cache');
  t.deepEqual(Object.keys(r.json).sort(), ['error', 'error_description']);
}

async function rootToken(as: Workload = researcher, extra: Record<string, string> = {}): Promise<string> {
  const r = await env.exchange({ subject_token: await alice(), subject_token_type: ID_TOKEN, audience: TOOLS, ...extra }, as);
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

const base = async () => ({ subject_token: await alice(), subject_token_type: ID_TOKEN, audience: TOOLS });

// ---- subject token (IdP)

test('expired subject token', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ exp: now() - 600, iat: now() - 900, nbf: now() - 900 }) }, researcher),
    'invalid_request', /subject_token expired at/);
});

test('subject token not yet valid', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ nbf: now() + 600, exp: now() + 900 }) }, researcher),
    'invalid_request', /subject_token is not valid before/);
});

test('subject token issued in the future (iat)', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ iat: now() + 600, exp: now() + 900 }) }, researcher),
    'invalid_request', /subject_token was issued in the future/);
});

test('forged subject token: right kid, wrong key', async (t) => {
  const forger = env.idp.unpublishedKey('ES256', env.idp.keys[0]!.kid);
  refused(t, await env.exchange({ ...await base(), subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }, { key: forger }) }, researcher),
    'invalid_request', /subject_token signature does not verify with key idp-/);
});

test('subject token with alg none', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: env.idp.unsigned({ sub: 'alice', groups: ['eng'] }) }, researcher),
    'invalid_request', /subject_token alg none is not allowed/);
});

test('subject token with a symmetric alg (HS256)', async (t) => {
  const { SignJWT } = await import('jose');
  const hs = await new SignJWT({ iss: env.idp.issuer, aud: 'tessera', sub: 'alice', exp: now() + 300 })
    .setProtectedHeader({ alg: 'HS256', kid: env.idp.keys[0]!.kid }).sign(new Uint8Array(32));
  refused(t, await env.exchange({ ...await base(), subject_token: hs }, researcher), 'invalid_request', /symmetric alg HS256 is not allowed/);
});

test('subject token for another audience', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ aud: 'someone-else' }) }, researcher),
    'invalid_request', /subject_token aud "someone-else" does not contain tessera/);
});

test('subject token from an unknown issuer', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ iss: 'https://evil.example' }) }, researcher),
    'invalid_request', /subject_token issuer "https:\/\/evil.example" is not trusted/);
});

test('subject token signed with an unknown kid (and no refetch storm)', async (t) => {
  const before = env.idp.jwksFetches();
  const stranger = env.idp.unpublishedKey('ES256');
  for (let i = 0; i < 3; i++) {
    refused(t, await env.exchange({ ...await base(), subject_token: await env.idp.token({ sub: 'alice', groups: ['eng'] }, { key: stranger }) }, researcher),
      'invalid_request', /signed with unknown key kid "idp-[0-9a-f]+" \(not in the JWKS of issuer/);
  }
  t.true(env.idp.jwksFetches() - before <= 1, 'at most one refetch per 30 s');
});

test('subject token that is not a JWT', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: 'not-a-jwt' }, researcher), 'invalid_request', /subject_token is not a JWT/);
});

// ---- actor

test('no actor identity at all', async (t) => {
  refused(t, await env.exchange(await base()), 'invalid_client', /no actor identity/, 401);
});

test('a client certificate from another trust domain', async (t) => {
  const foreign = await makeRootCa('other.org');
  const s = makeSvid(foreign, 'spiffe://other.org/agents/researcher');
  const as: Workload = { id: s.id.toString(), key: s.privateKey, chain: s.certificates, x5t: '' };
  refused(t, await env.exchange(await base(), as), 'invalid_client', /TLS client certificate is not a valid X.509-SVID of trust domain example.org/, 401);
});

test('actor not allowed by any policy', async (t) => {
  refused(t, await env.exchange(await base(), env.svid('/agents/intruder')), 'unauthorized_client',
    /no delegation policy lets spiffe:\/\/example.org\/agents\/intruder act for https:\/\/127.0.0.1:\d+#alice/);
});

test('user outside the policy\'s groups', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ groups: ['sales'] }) }, researcher), 'unauthorized_client',
    /none of groups eng/);
});

test('replayed actor token', async (t) => {
  const actorToken = await env.jwtSvid('/agents/researcher', [env.tokenEndpoint]);
  const p = { ...await base(), actor_token: actorToken, actor_token_type: JWT };
  t.is((await env.exchange(p)).status, 200);
  refused(t, await env.exchange({ ...p, subject_token: await alice() }), 'invalid_request', /actor_token .* was already used/);
});

test('actor token for another audience', async (t) => {
  const actorToken = await env.jwtSvid('/agents/researcher', ['https://elsewhere.example/token']);
  refused(t, await env.exchange({ ...await base(), actor_token: actorToken, actor_token_type: JWT }), 'invalid_request',
    /actor_token .* its aud \["https:\/\/elsewhere.example\/token"\] does not contain the token endpoint https:\/\/127.0.0.1:\d+\/oauth2\/token/);
});

test('actor token and client certificate naming different IDs', async (t) => {
  const actorToken = await env.jwtSvid('/agents/other', [env.tokenEndpoint]);
  refused(t, await env.exchange({ ...await base(), actor_token: actorToken, actor_token_type: JWT }, researcher), 'invalid_request',
    /actor_token names spiffe:\/\/example.org\/agents\/other but the TLS client certificate names spiffe:\/\/example.org\/agents\/researcher/);
});

test('actor token without actor_token_type', async (t) => {
  refused(t, await env.exchange({ ...await base(), actor_token: await env.jwtSvid('/agents/researcher', [env.tokenEndpoint]) }), 'invalid_request',
    /actor_token_type is required/);
});

// ---- attenuation and policy

test('scope escalation at the root', async (t) => {
  refused(t, await env.exchange({ ...await base(), scope: 'files:read files:write' }, researcher), 'invalid_scope',
    /scope files:write is not allowed: policy pol_r allows files:read review:post/);
});

test('scope escalation in a sub-exchange', async (t) => {
  const parent = await rootToken(researcher, { scope: 'files:read' });
  refused(t, await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: TOOLS, scope: 'review:post' }, researcher),
    'invalid_scope', /scope review:post is not allowed: the subject token grants files:read/);
});

test('audience not allowed by the policy', async (t) => {
  refused(t, await env.exchange({ ...await base(), audience: 'https://bank.example.org' }, researcher), 'invalid_target',
    /audience https:\/\/bank.example.org not allowed: policy pol_r allows/);
});

test('audience escalation in a sub-exchange (outside the parent\'s aud)', async (t) => {
  const parent = await rootToken();
  refused(t, await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: 'https://mail.example.org' }, env.svid('/agents/sub/a')),
    'invalid_target', /audience https:\/\/mail.example.org not allowed: the subject token's aud is https:\/\/tools.example.org/);
});

test('no audience or resource', async (t) => {
  refused(t, await env.exchange({ subject_token: await alice(), subject_token_type: ID_TOKEN }, researcher), 'invalid_target', /audience or resource is required/);
});

test('resource that is not an absolute URI', async (t) => {
  refused(t, await env.exchange({ subject_token: await alice(), subject_token_type: ID_TOKEN, resource: 'tools' }, researcher), 'invalid_target',
    /resource "tools" must be an absolute URI/);
});

test('expires_in beyond the policy', async (t) => {
  refused(t, await env.exchange({ ...await base(), expires_in: '250' }, researcher), 'invalid_grant', /expires_in 250 is above the allowed 200 s: policy pol_r max_ttl is 200 s/);
});

test('expires_in beyond the subject token', async (t) => {
  refused(t, await env.exchange({ ...await base(), subject_token: await alice({ exp: now() + 90 }), expires_in: '150' }, researcher), 'invalid_grant',
    /expires_in 150 is above the allowed \d+ s: .*the subject token expires in \d+ s/);
});

test('depth exceeded', async (t) => {
  // pol_deep: deep/* may act and delegate among themselves, max_depth 3.
  let token = await rootToken(env.svid('/agents/deep/a'));
  for (const next of ['b', 'c']) {
    const r = await env.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid(`/agents/deep/${next}`));
    t.is(r.status, 200, r.text);
    token = r.json.access_token as string;
  }
  t.is(payloadOf(token).chain.length, 2);
  refused(t, await env.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/deep/d')),
    'invalid_grant', /delegation depth 4 > max 3/);
});

test('may_delegate_to violated', async (t) => {
  const parent = await rootToken();
  refused(t, await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/deep/x')), 'invalid_grant',
    /spiffe:\/\/example.org\/agents\/researcher may not delegate to spiffe:\/\/example.org\/agents\/deep\/x: policy pol_r allows delegating to/);
});

// ---- own (delegated) subject tokens

test('forged delegated subject token (payload altered)', async (t) => {
  const parent = await rootToken();
  const [h, , s] = parent.split('.');
  const altered = Buffer.from(JSON.stringify({ ...payloadOf(parent), scope: 'files:read review:post admin' })).toString('base64url');
  refused(t, await env.exchange({ subject_token: `${h}.${altered}.${s}`, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/sub/a')),
    'invalid_request', /subject_token signature does not verify with key oak_/);
});

test('delegated subject token presented as an id_token', async (t) => {
  refused(t, await env.exchange({ subject_token: await rootToken(), subject_token_type: ID_TOKEN, audience: TOOLS }, env.svid('/agents/sub/a')),
    'invalid_request', /subject_token_type must be urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:jwt, not an id_token/);
});

test('bound subject token re-exchanged for the same ID from another certificate', async (t) => {
  const parent = await rootToken();
  const sameIdOtherKey = env.svid('/agents/researcher');
  refused(t, await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, sameIdOtherKey), 'invalid_request',
    /subject_token is bound to another certificate \(cnf x5t#S256 [A-Za-z0-9_-]+, presented [A-Za-z0-9_-]+\): only the holder of that certificate may exchange it/);
  // Its holder may (pol_r lets the researcher delegate to itself).
  const own = await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, researcher);
  t.is(own.status, 200, own.text);
});

for (const [kind, label] of [['jti', 'by jti'], ['grant', 'by grant'], ['subject', 'by subject'], ['actor', 'by actor']] as const) {
  test(`revoked parent (${label}) cannot be extended`, async (t) => {
    const actorPath = kind === 'actor' ? '/agents/sub/revoked-actor' : '/agents/researcher';
    // A dedicated user per case so one revocation does not spill into the other tests.
    const user = `user-${kind}`;
    await env.policy({ actors: ['spiffe://example.org/agents/sub/revoked-actor'], subjects: [user], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 100, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/sub/*'] });
    await env.policy({ actors: [R], subjects: [user], audiences: [TOOLS], scopes: ['files:read'], maxTtl: 100, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/sub/*'] });
    const actor = kind === 'actor' ? env.svid(actorPath) : researcher;
    const subject = await env.idp.token({ sub: user, groups: ['eng'] });
    const first = await until('policies for the user', async () => {
      const r = await env.exchange({ subject_token: subject, subject_token_type: ID_TOKEN, audience: TOOLS }, actor);
      return r.status === 200 ? r : undefined;
    });
    const parent = first.json.access_token as string;
    const p = payloadOf(parent);
    const value = { jti: p.jti, grant: p.grant_id, subject: p.sub, actor: actor.id }[kind];
    const at = now() + 1;
    await env.server.store.addRevocation({ kind, value, at, expiresAt: at + 600, by: 'test' });
    await until('revocation to reach the index', async () => {
      const r = await env.exchange({ subject_token: parent, subject_token_type: ACCESS_TOKEN, audience: TOOLS }, env.svid('/agents/sub/next'));
      return /is revoked/.test(String(r.json.error_description)) ? r : undefined;
    }).then((r) => refused(t, r, 'invalid_request', new RegExp(`subject_token ${p.jti} is revoked \\(${kind} .+ revoked at`)));
  });
}

// ---- request shape

test('unknown grant_type', async (t) => {
  refused(t, await env.request('POST', '/oauth2/token', { params: { grant_type: 'password', username: 'a' }, as: researcher }), 'unsupported_grant_type',
    /grant_type password is not supported; supported: urn:ietf:params:oauth:grant-type:token-exchange/);
});

test('missing grant_type', async (t) => {
  refused(t, await env.request('POST', '/oauth2/token', { params: { subject_token: 'x' }, as: researcher }), 'invalid_request', /parameter grant_type is required/);
});

test('missing subject_token', async (t) => {
  refused(t, await env.exchange({ subject_token_type: ID_TOKEN, audience: TOOLS }, researcher), 'invalid_request', /parameter subject_token is required/);
});

test('missing subject_token_type', async (t) => {
  refused(t, await env.exchange({ subject_token: await alice(), audience: TOOLS }, researcher), 'invalid_request', /parameter subject_token_type is required/);
});

test('unsupported subject_token_type', async (t) => {
  refused(t, await env.exchange({ subject_token: await alice(), subject_token_type: 'urn:ietf:params:oauth:token-type:saml2', audience: TOOLS }, researcher),
    'invalid_request', /subject_token_type urn:ietf:params:oauth:token-type:saml2 is not supported/);
});

test('unsupported requested_token_type', async (t) => {
  refused(t, await env.exchange({ ...await base(), requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, researcher),
    'invalid_request', /requested_token_type urn:ietf:params:oauth:token-type:refresh_token is not supported/);
});

test('duplicated single-valued parameter', async (t) => {
  const subject = await alice();
  refused(t, await env.exchange([['subject_token', subject], ['subject_token_type', ID_TOKEN], ['audience', TOOLS], ['scope', 'files:read'], ['scope', 'review:post']], researcher),
    'invalid_request', /parameter scope is given 2 times; it must appear at most once/);
  refused(t, await env.request('POST', '/oauth2/token', { params: [['grant_type', TOKEN_EXCHANGE], ['grant_type', TOKEN_EXCHANGE]], as: researcher }),
    'invalid_request', /parameter grant_type is given 2 times/);
});

test('malformed expires_in', async (t) => {
  refused(t, await env.exchange({ ...await base(), expires_in: '-5' }, researcher), 'invalid_request', /expires_in "-5" must be a positive whole number of seconds/);
});

test('oversized body', async (t) => {
  const r = await env.exchange({ ...await base(), padding: 'x'.repeat(70 * 1024) }, researcher);
  refused(t, r, 'invalid_request', /request body is larger than 65536 bytes/, 413);
});

test('wrong content type', async (t) => {
  refused(t, await env.request('POST', '/oauth2/token', { body: JSON.stringify({ grant_type: TOKEN_EXCHANGE }), contentType: 'application/json', as: researcher }),
    'invalid_request', /must be application\/x-www-form-urlencoded, not "application\/json"/);
});

test('GET on the token endpoint', async (t) => {
  const r = await env.request('GET', '/oauth2/token', { as: researcher });
  refused(t, r, 'invalid_request', /method GET is not allowed on \/oauth2\/token; use POST/, 405);
  t.is(r.headers.allow, 'POST');
});

test('every refusal is logged and audited with its error', async (t) => {
  await env.exchange({ ...await base(), scope: 'nuke' }, researcher);
  const ev = await until('refusal log', () => env.logs.find((l) => l.event === 'oauth.token_refused' && String(l.error_description).includes('scope nuke')));
  t.is(ev.error, 'invalid_scope');
  t.is(ev.actor, R);
  t.regex(String(ev.subject), /#alice$/);
  await until('refusal audit row', async () => (await env.server.store.listAudit({ event: 'oauth.token_refused' }))
    .find((a) => String(a.data.error_description).includes('scope nuke')));
  t.pass();
});
