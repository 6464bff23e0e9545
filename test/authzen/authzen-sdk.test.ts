import test from 'ava';
import { AuthzenClient, AuthzenError } from '../../spiffe/authzen/index.ts';
import { RevocationFeed } from '../../spiffe/delegation/revocation-feed.ts';
import { sharedScope } from '../helpers/server.ts';
import { payloadOf, until } from '../oauth/harness.ts';
import { startAuthzenEnv, TOOLS, type AuthzenEnv } from './authzen-harness.ts';

/**
 * The tool author's client (spiffe/authzen/): authorize(action, resource, context) over
 * mTLS with the tool's SVID, a decision cache for permits the PDP marks cacheable, and
 * the revocation feed invalidating it.
 */
const scope = sharedScope();
let env: AuthzenEnv;
let feed: RevocationFeed;

test.before(async () => {
  env = await startAuthzenEnv(scope);
  feed = new RevocationFeed({ issuer: env.issuer, source: env.sourceOf(env.tool), bundleSource: env.bundles });
  scope.teardown(() => feed.close());
  await feed.ready();
});
test.after.always(() => scope.cleanup());

const client = (o: { revocations?: boolean } = {}) => {
  const c = new AuthzenClient({ issuer: env.issuer, source: env.sourceOf(env.tool), bundleSource: env.bundles, audience: TOOLS, ...(o.revocations === false ? {} : { revocations: feed }) });
  return c;
};
const decisionsFor = (jti: string) => env.logs.filter((l) => (l.event === 'authzen.permitted' || l.event === 'authzen.denied') && l.jti === jti).length;

test('authorize: a permit is cached for its ttl; a revocation event clears the cache and the next call is denied', async (t) => {
  const pdp = client();
  t.teardown(() => pdp.close());
  const token = await env.token();
  const { jti } = payloadOf(token);
  const first = await pdp.authorize('files:read', { type: 'file', id: 'report.pdf' }, { token });
  t.like(first, { decision: true, id: 'permit', cached: false });
  t.is(first.context.policy, 'pol_agent');
  const again = await pdp.authorize('files:read', { type: 'file', id: 'report.pdf' }, { token });
  t.like(again, { decision: true, cached: true });
  await until('first decision audited', () => (decisionsFor(jti) === 1 ? true : undefined));
  t.is(pdp.cacheSize, 1);
  // Another resource is another question.
  t.like(await pdp.authorize('files:read', { type: 'file', id: 'other.pdf' }, { token }), { decision: true, cached: false });

  t.is((await env.request('POST', '/oauth2/revoke', { params: { token }, as: env.svid('/agents/researcher') })).status, 200);
  await until('cache cleared by the revocation event', () => (pdp.cacheSize === 0 ? true : undefined));
  const after = await pdp.authorize('files:read', { type: 'file', id: 'report.pdf' }, { token });
  t.like(after, { decision: false, id: 'token_revoked', cached: false });
  t.regex(after.reason!, /is revoked \(jti tok_/);
});

test('budgeted permits and denies are never cached; without a feed nothing is', async (t) => {
  const pdp = client();
  t.teardown(() => pdp.close());
  const token = await env.token();
  const a = await pdp.authorize('payments:send', { type: 'payment', id: 'p1' }, { token, amount: 10 });
  const b = await pdp.authorize('payments:send', { type: 'payment', id: 'p1' }, { token, amount: 10 });
  t.like(a, { decision: true, cached: false, context: { budget: { remaining: 1 } } });
  t.like(b, { decision: true, cached: false, context: { budget: { remaining: 0 } } });
  t.like(await pdp.authorize('payments:send', { type: 'payment', id: 'p1' }, { token }), { decision: false, id: 'budget_exhausted', cached: false });
  t.like(await pdp.authorize('payments:send', { type: 'payment', id: 'p1' }, { token }), { decision: false, cached: false });

  const plain = client({ revocations: false });
  t.teardown(() => plain.close());
  await plain.authorize('files:read', { type: 'file', id: 'x' }, { token });
  t.like(await plain.authorize('files:read', { type: 'file', id: 'x' }, { token }), { decision: true, cached: false });
  t.is(plain.cacheSize, 0);
});

test('batch evaluations and typed transport errors', async (t) => {
  const pdp = client();
  t.teardown(() => pdp.close());
  const token = await env.token({ scope: 'files:read' });
  const subject = { type: 'agent', id: 'spiffe://example.org/agents/researcher', properties: { token } };
  const resource = { type: 'file', id: 'f', properties: { audience: TOOLS } };
  const ds = await pdp.evaluations([{ subject, action: { name: 'files:read' }, resource }, { subject, action: { name: 'payments:send' }, resource }]);
  t.deepEqual(ds.map((d) => [d.decision, d.id]), [[true, 'permit'], [false, 'scope']]);
  const e = await t.throwsAsync(pdp.evaluate({ subject, action: { name: '' }, resource }), { instanceOf: AuthzenError });
  t.like(e, { code: 'ERR_AUTHZEN_BAD_REQUEST', status: 400, message: 'the PDP answered HTTP 400: action.name must be 1 to 2048 characters' });
});
