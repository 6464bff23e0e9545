import test from 'ava';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import type { NewApprovalRequest } from '../../server/datastore/sql-approvals.ts';
import { postgresTestDatabase, sharedScope } from '../helpers/server.ts';
import { ID_TOKEN, type Workload } from '../oauth/harness.ts';
import { approvalIdOf, decide, RS, signIn, startCibaEnv, type CibaEnv } from './ciba-harness.ts';

/**
 * Flood protection of /oauth2/bc-authorize (docs/attenuation.md "Limits"): per agent, at
 * most `max_pending` undecided requests for one user (counted in the datastore) and a
 * token bucket of `burst` requests refilled at `per_minute`. Beyond either: 429
 * access_denied (CIBA Core §13) with Retry-After; other agents are not affected.
 */
const scope = sharedScope();
let env: CibaEnv;
const agents: Record<string, { w: Workload; held: string }> = {};

test.before(async () => {
  env = await startCibaEnv(scope, { oauth: { ciba: { interval: '2s', limits: { max_pending: 2, burst: 6, per_minute: 0.1 } } } });
  const names = ['flooder', 'hammer', 'bystander'];
  await env.policy({
    id: 'pol_limits', actors: names.map((n) => `spiffe://example.org/agents/${n}`), subjectIssuer: env.op.issuer, audiences: [RS],
    scopes: ['files:read'], maxTtl: 300, approval: { scopes: ['review:post'], approvers: ['subject'] },
  });
  const idToken = await env.idToken('alice');
  for (const n of names) {
    const w = env.svid(`/agents/${n}`, { agent_model: 'm', agent_provider: 'p', agent_instance_id: `inst_${n}` });
    const r = await env.exchange({ subject_token: idToken, subject_token_type: ID_TOKEN, audience: RS, scope: 'files:read' }, w);
    if (r.status !== 200) throw new Error(`exchange failed: ${r.text}`);
    agents[n] = { w, held: r.json.access_token as string };
  }
});
test.after.always(() => scope.cleanup());

function ask(name: string, over: Record<string, string> = {}) {
  const a = agents[name]!;
  return env.bcAuthorize({ login_hint_token: a.held, scope: 'files:read review:post', audience: RS, binding_message: `from ${name}`, ...over }, a.w);
}

test.serial('beyond max_pending undecided requests for one user: 429 access_denied naming the limit; a decision frees a slot', async (t) => {
  const first = await ask('flooder');
  t.is(first.status, 200, first.text);
  t.is((await ask('flooder')).status, 200);

  const refused = await ask('flooder');
  t.is(refused.status, 429, refused.text);
  t.deepEqual(Object.keys(refused.json).sort(), ['error', 'error_description']);
  t.is(refused.json.error, 'access_denied');
  t.regex(refused.json.error_description as string, /spiffe:\/\/example\.org\/agents\/flooder already has 2 pending approval requests for .*#alice \(oauth\.ciba\.limits\.max_pending 2\); retry once one is approved or denied, at the latest in \d+ s/);
  const retry = Number(refused.headers['retry-after']);
  t.true(retry > 0 && retry <= 600, `Retry-After ${String(refused.headers['retry-after'])}`);
  t.is(refused.headers['cache-control'], 'no-store');

  // The bystander, same user and policy, is not counted against the flooder's cap.
  const other = await ask('bystander');
  t.is(other.status, 200, other.text);

  const { browser, page } = await signIn(env, 'alice');
  const done = await decide(env, browser, page, await approvalIdOf(env, first.json.auth_req_id as string), 'deny');
  t.regex(done.html, /id="result"[^>]*>Denied/);
  const next = await ask('flooder');
  t.is(next.status, 200, next.text);
  t.is((await ask('flooder')).status, 429, 'the freed slot is taken again');
});

test.serial('beyond the burst: 429 access_denied with Retry-After until the bucket refills; other agents unaffected', async (t) => {
  // Refused requests still take a token: the bucket guards the endpoint, not only the store.
  for (let i = 0; i < 6; i++) {
    const r = await ask('hammer', { scope: '' });
    t.is(r.status, 400, r.text);
  }
  const limited = await ask('hammer');
  t.is(limited.status, 429, limited.text);
  t.is(limited.json.error, 'access_denied');
  t.regex(limited.json.error_description as string, /agents\/hammer sent backchannel requests faster than this server allows per agent \(oauth\.ciba\.limits: burst 6, 0\.1 per minute\); retry in \d+ s/);
  // One token per 600 s; real time passing during the test may shave a few seconds off.
  const retry = Number(limited.headers['retry-after']);
  t.true(retry > 500 && retry <= 600, `Retry-After ${String(limited.headers['retry-after'])}`);

  const other = await ask('bystander');
  t.is(other.status, 200, other.text);

  // Past the held token's life too: a request the bucket admits is then refused on its merits (400), not 429.
  env.advance(600_000);
  const again = await ask('hammer', { scope: '' });
  t.is(again.status, 400, again.text);
  t.is(again.json.error, 'invalid_request');
  t.is((await ask('hammer')).status, 429, 'one token refilled, one spent');
});

/** Approval request `i` of one client for one subject, far from expiry. */
function raceRequest(i: number, subject: string): NewApprovalRequest {
  const now = Math.floor(Date.now() / 1000) + 3600;
  return {
    id: `apr_race${i}`, reqHash: `race${i}`.padEnd(64, '0'), clientId: 'spiffe://example.org/agents/racer', subject, approvers: [`user:${subject}`],
    data: '{}', createdAt: now, expiresAt: now + 600, interval: 5,
  };
}

test.serial('the pending cap is counted in the store: concurrent inserts past it store exactly max_pending', async (t) => {
  const subject = `${env.op.issuer}#race`;
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => env.server.store.putApprovalRequestWithin(raceRequest(i, subject), 3)));
  t.is(results.filter((r) => r.stored).length, 3);
  t.true(results.every((r) => r.stored || (r.pending === 3 && r.nextExpiry === raceRequest(0, subject).expiresAt)));
});

test('two stores on one PostgreSQL database (as two servers): 20 concurrent requests against a cap of 3 store exactly 3', async (t) => {
  const url = await postgresTestDatabase(t, 'tessera_ciba_limits');
  if (!url) { t.pass('skipped: no PostgreSQL'); return; }
  const stores = [await PostgresDatastore.open({ connectionString: url }), await PostgresDatastore.open({ connectionString: url })];
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]!.putApprovalRequestWithin(raceRequest(i, 'https://idp#pg'), 3)));
  t.is(results.filter((r) => r.stored).length, 3);
  t.is((await stores[0]!.listApprovalRequests({ pendingAt: Math.floor(Date.now() / 1000) })).length, 3);
});
