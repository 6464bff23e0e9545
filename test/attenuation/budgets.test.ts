import test from 'ava';
import { attenuate } from '../../spiffe/biscuit/attenuate.ts';
import { createStaticBiscuitKeys, importBiscuitKeys } from '../../spiffe/biscuit/keys.ts';
import { BISCUIT_TOKEN_TYPE } from '../../spiffe/biscuit/vocabulary.ts';
import { sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, payloadOf, startEnv, type Env, type Workload } from '../oauth/harness.ts';

/**
 * Execution-limited tokens on SQLite (docs/attenuation.md "Budgets"): a policy's
 * budgets travel into JWT and Biscuit tokens, /oauth2/consume spends them atomically
 * per grant, attenuations only lower them, introspection shows what is left.
 */
const scope = sharedScope();
let env: Env;
let rs: Workload;
const TOOLS = 'https://tools.example.org';
const A = 'spiffe://example.org/agents/researcher';

test.before(async () => {
  env = await startEnv(scope);
  await env.policy({
    id: 'pol_budget', actors: [A], groups: ['eng'], audiences: [TOOLS], scopes: ['files:read', 'review:post'],
    maxTtl: 300, maxDepth: 3, mayDelegateTo: ['spiffe://example.org/agents/*'], budgets: { 'read:files': 15, 'post:review': 1 },
  });
  rs = env.svid('/services/tools');
});
test.after.always(() => scope.cleanup());

async function issue(requested?: string): Promise<string> {
  const subjectToken = await env.idp.token({ sub: 'alice', groups: ['eng'] });
  const r = await env.exchange({ subject_token: subjectToken, subject_token_type: ID_TOKEN, audience: TOOLS,
    ...(requested ? { requested_token_type: requested } : {}) }, env.svid('/agents/researcher'));
  if (r.status !== 200) throw new Error(r.text);
  return r.json.access_token as string;
}

const consume = (token: string, operation: string | string[]) =>
  env.request('POST', '/oauth2/consume', { as: rs, params: { token, operation } });

test('a JWT delegated token carries the policy budgets; 50 concurrent consumers of a 15-use budget: exactly 15 succeed', async (t) => {
  const token = await issue();
  t.deepEqual(payloadOf(token).budgets, { 'read:files': 15, 'post:review': 1 });
  const results = await Promise.all(Array.from({ length: 50 }, () => consume(token, 'read:files')));
  t.true(results.every((r) => r.status === 200), results.find((r) => r.status !== 200)?.text);
  t.is(results.filter((r) => r.json.allowed === true).length, 15);
  t.deepEqual(results.filter((r) => r.json.allowed === true).map((r) => r.json.remaining).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: 15 }, (_, i) => i));
  const spent = await consume(token, 'read:files');
  t.like(spent.json, { allowed: false, remaining: 0, operation: 'read:files' });
  const intro = await env.request('POST', '/oauth2/introspect', { as: rs, params: { token } });
  t.like(intro.json, { active: true, budgets: { 'read:files': { limit: 15, remaining: 0 }, 'post:review': { limit: 1, remaining: 1 } } });
});

test('batched operations, unmetered operations, and refusals', async (t) => {
  const token = await issue();
  const r = await consume(token, ['post:review', 'post:review', 'list:things']);
  t.is(r.status, 200, r.text);
  t.deepEqual(r.json, { allowed: false, results: [
    { operation: 'post:review', allowed: true, remaining: 0 },
    { operation: 'post:review', allowed: false, remaining: 0 },
    { operation: 'list:things', allowed: true, remaining: null },
  ] });
  const anon = await env.request('POST', '/oauth2/consume', { params: { token, operation: 'read:files' } });
  t.is(anon.status, 401);
  t.is(anon.json.error, 'invalid_client');
  const bad = await consume(`${token}x`, 'read:files');
  t.is(bad.status, 400);
  t.is(bad.json.error, 'invalid_grant');
  const noop = await env.request('POST', '/oauth2/consume', { as: rs, params: { token } });
  t.like(noop.json, { error: 'invalid_request', error_description: 'parameter operation is required' });
});

test('a Biscuit attenuated to a lower budget shares the grant counter and stops at its own limit', async (t) => {
  const token = await issue(BISCUIT_TOKEN_TYPE);
  const keys = createStaticBiscuitKeys(importBiscuitKeys((await env.request('GET', '/oauth2/biscuit-keys')).json));
  const narrow = await attenuate(token, { rootKeys: keys, budgets: { 'read:files': 4 } });
  const wider = await attenuate(token, { rootKeys: keys, budgets: { 'read:files': 100 } });
  t.like((await consume(token, 'read:files')).json, { allowed: true, remaining: 14 });
  const rs4 = await Promise.all(Array.from({ length: 6 }, () => consume(narrow, 'read:files')));
  t.is(rs4.filter((r) => r.json.allowed === true).length, 3, 'the root used 1 of the shared counter; the attenuated limit is 4');
  t.like((await consume(wider, 'read:files')).json, { allowed: true, remaining: 10 }, 'a higher number in a block changes nothing');
  const intro = await env.request('POST', '/oauth2/introspect', { as: rs, params: { token: narrow } });
  t.like(intro.json, { active: true, token_format: 'biscuit', budgets: { 'read:files': { limit: 4, remaining: 0 } } });
});

test('the SDK BudgetClient spends over mTLS with the resource server SVID and refuses a spent budget with insufficient_budget', async (t) => {
  const { BudgetClient } = await import('../../spiffe/delegation/budget.ts');
  const { StaticX509Source } = await import('../../spiffe/source/static.ts');
  const { BundleSet } = await import('../../spiffe/bundle/set.ts');
  const { SpiffeBundle } = await import('../../spiffe/bundle/spiffebundle.ts');
  const { TrustDomain } = await import('../../spiffe/id.ts');
  const { parseX509Svid } = await import('../../spiffe/x509svid/parse.ts');
  const td = TrustDomain.parse(env.td);
  const bundles = new BundleSet([new SpiffeBundle(td, { x509Authorities: env.server.ca.x509Authorities() })]);
  const source = new StaticX509Source({ svid: parseX509Svid(rs.chain, new Uint8Array(rs.key.export({ type: 'pkcs8', format: 'der' }))), bundles });
  const client = new BudgetClient({ issuer: env.issuer, source, bundleSource: bundles, trustDomain: td });
  t.teardown(() => client.close());
  const token = await issue();
  t.deepEqual(await client.consume(token, 'post:review'), { operation: 'post:review', allowed: true, remaining: 0 });
  const e = await t.throwsAsync(client.consume(token, 'post:review'));
  t.like(e, { code: 'ERR_OAUTH_INSUFFICIENT_BUDGET', oauthError: 'insufficient_budget', status: 403 });
  const batch = await client.consumeMany(token, [{ operation: 'read:files', count: 3 }, { operation: 'list:things' }]);
  t.deepEqual(batch.map((b) => b.remaining), [12, null]);
});
