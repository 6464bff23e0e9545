import test from 'ava';
import { attenuate } from '../../spiffe/biscuit/attenuate.ts';
import { importBiscuitKeys, createStaticBiscuitKeys } from '../../spiffe/biscuit/keys.ts';
import { verifyBiscuit } from '../../spiffe/biscuit/verify.ts';
import { BISCUIT_TOKEN_TYPE } from '../../spiffe/biscuit/vocabulary.ts';
import { spawnTs } from '../helpers/proc.ts';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, startEnv, type Env } from '../oauth/harness.ts';

/**
 * Biscuits through the real token endpoint (docs/attenuation.md): issued by token
 * exchange under the same policy engine as JWT delegated tokens, narrowed twice
 * offline in the SDK, verified with the holder's SVID, and revoked by the root block's
 * revocation id at a verifier in another process fed by the revocation feed.
 */
const scope = sharedScope();
let env: Env;
const TOOLS = 'https://tools.example.org';
const A = 'spiffe://example.org/agents/researcher';
const B = 'spiffe://example.org/agents/sub/one';
const C = 'spiffe://example.org/agents/sub/two';

test.before(async () => {
  env = await startEnv(scope);
  await env.policy({
    id: 'pol_researcher', actors: [A], groups: ['eng'], audiences: [TOOLS], scopes: ['files:read', 'review:post'],
    maxTtl: 300, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/sub/*'], budgets: { 'read:files': 15, 'post:review': 1 },
  });
});
test.after.always(() => scope.cleanup());

async function issue(scopeParam = 'files:read review:post') {
  const researcher = env.svid('/agents/researcher', { agent_model: 'claude-sonnet-4' });
  const subjectToken = await env.idp.token({ sub: 'alice', groups: ['eng'] });
  const r = await env.exchange({ subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: TOOLS, scope: scopeParam, requested_token_type: BISCUIT_TOKEN_TYPE }, researcher);
  return r;
}

async function rootKeys() {
  const r = await env.request('GET', '/oauth2/biscuit-keys');
  return createStaticBiscuitKeys(importBiscuitKeys(r.json));
}

test('the token endpoint issues a Biscuit; two offline attenuations give the typed chain to the right holder only', async (t) => {
  const r = await issue();
  t.is(r.status, 200, r.text);
  t.is(r.json.issued_token_type, BISCUIT_TOKEN_TYPE);
  t.is(r.json.token_type, 'N_A');
  const keys = await rootKeys();
  const token = r.json.access_token as string;
  const t1 = await attenuate(token, { rootKeys: keys, scopes: ['files:read'], delegateTo: B, budgets: { 'read:files': 5 } });
  const t2 = await attenuate(t1, { rootKeys: keys, delegateTo: C, ttl: 60 });
  const v = await verifyBiscuit(t2, { rootKeys: keys, audience: TOOLS, issuer: env.issuer, peerId: C, requiredScopes: ['files:read'] });
  t.deepEqual(v.actors.map((a) => a.id.toString()), [C, B, A]);
  t.is(v.actors[2]!.claims.agent_model, 'claude-sonnet-4');
  t.is(v.subject, `${env.idp.issuer}#alice`);
  t.deepEqual(v.scopes, ['files:read']);
  t.deepEqual(v.budgets, { 'read:files': 5, 'post:review': 1 });
  const wrong = await t.throwsAsync(verifyBiscuit(t2, { rootKeys: keys, audience: TOOLS, peerId: B }));
  t.is((wrong as { code?: string }).code, 'ERR_DELEGATION_BINDING');
  const wide = await attenuate(t1, { rootKeys: keys, scopes: ['files:read', 'review:post'], delegateTo: C });
  const vw = await verifyBiscuit(wide, { rootKeys: keys, audience: TOOLS, peerId: C });
  t.deepEqual(vw.scopes, ['files:read'], 'a later block cannot widen what an earlier one narrowed');
  const e = await t.throwsAsync(verifyBiscuit(wide, { rootKeys: keys, audience: TOOLS, peerId: C, requiredScopes: ['review:post'] }));
  t.is((e as { code?: string }).code, 'ERR_DELEGATION_SCOPE');
  const late = await t.throwsAsync(verifyBiscuit(t2, { rootKeys: keys, audience: TOOLS, peerId: C, now: new Date(Date.now() + 61_000) }));
  t.is((late as { code?: string }).code, 'ERR_DELEGATION_EXPIRED');
});

test('the policy engine decides Biscuit issuance like JWT issuance', async (t) => {
  const r = await issue('files:read admin:all');
  t.is(r.status, 400);
  t.is(r.json.error, 'invalid_scope');
  t.regex(String(r.json.error_description), /admin:all/);
});

test('metadata and /oauth2/biscuit-keys publish the root keys', async (t) => {
  const m = await env.request('GET', '/.well-known/oauth-authorization-server');
  t.is(m.json.biscuit_keys_uri, `${env.issuer}/oauth2/biscuit-keys`);
  const r = await env.request('GET', '/oauth2/biscuit-keys');
  const keys = (r.json.keys as Record<string, unknown>[]);
  t.true(keys.length >= 1);
  t.like(keys[0]!, { kty: 'OKP', crv: 'Ed25519', alg: 'Ed25519' });
  t.regex(String(keys[0]!.kid), /^bsk_\d+$/);
  const jwks = await env.request('GET', '/oauth2/jwks');
  t.false((jwks.json.keys as { kid: string }[]).some((k) => k.kid.startsWith('bsk_')), 'Biscuit keys never appear among the JWT signing keys');
});

test('revoking the root block refuses a third-generation token at a feed-fed verifier in another process', async (t) => {
  const r = await issue();
  t.is(r.status, 200, r.text);
  const keys = await rootKeys();
  const t3 = await attenuate(await attenuate(await attenuate(r.json.access_token as string, { rootKeys: keys, delegateTo: B }),
    { rootKeys: keys, scopes: ['files:read'] }), { rootKeys: keys, delegateTo: C });
  const rs = env.svid('/services/tools');
  const [leafKey] = [rs.key.export({ type: 'pkcs8', format: 'der' })];
  const proc = spawnTs(t, 'test/attenuation/verifier-process.ts', [], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, VERIFIER_CONFIG: JSON.stringify({
      issuer: env.issuer, td: env.td, audience: TOOLS, key: Buffer.from(leafKey).toString('base64'),
      chain: rs.chain.map((c) => Buffer.from(c).toString('base64')),
      authorities: env.server.ca.x509Authorities().map((c) => Buffer.from(c).toString('base64')),
    }) },
  });
  await proc.waitFor(/verifier ready/, 120_000);
  proc.child.stdin!.write(JSON.stringify({ id: 'before', token: t3, peer: C }) + '\n');
  t.regex(await proc.waitFor(/\{"id":"before".*\}/), /"ok":true/);

  const rootRid = (await verifyBiscuit(t3, { rootKeys: keys, audience: TOOLS, peerId: C })).biscuitRevocationIds![0]!;
  const at = Math.floor(Date.now() / 1000);
  const rec = await env.server.store.addRevocation({ kind: 'biscuit', value: rootRid, at, expiresAt: at + 600, by: 'test' });
  proc.child.stdin!.write(JSON.stringify({ id: 'after', token: t3, peer: C, afterSeq: rec.seq }) + '\n');
  const after = await proc.waitFor(/\{"id":"after".*\}/);
  t.regex(after, /"ok":false/);
  t.regex(after, /ERR_DELEGATION_REVOKED/);
});
