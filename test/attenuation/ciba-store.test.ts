import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import type { NewApprovalRequest } from '../../server/datastore/sql-approvals.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { Datastore } from '../../server/datastore/types.ts';
import { validatePolicy } from '../../server/delegation/validate.ts';
import { postgresTestDatabase } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * Pending approval requests in the datastore (server/datastore/sql-approvals.ts), on
 * SQLite and on PostgreSQL with two store objects standing for two servers sharing the
 * database: a request made through one is decided and redeemed through the other, a
 * decision and a redemption each happen once however many race for them, the poll
 * interval holds across both, and a policy's approval part round-trips with the policy.
 */
type Open = (t: ExecutionContext) => Promise<{ a: Datastore; b: Datastore; clock: FakeClock } | undefined>;

const engines: [string, Open][] = [
  ['sqlite', async (t) => {
    const clock = new FakeClock();
    const path = join(tempDir(t), 'ds.sqlite3');
    const a = SqliteDatastore.open({ path, clock, logger: silentLogger });
    const b = SqliteDatastore.open({ path, clock, logger: silentLogger });
    t.teardown(async () => { await a.close(); await b.close(); });
    return { a, b, clock };
  }],
  ['postgres', async (t) => {
    const url = await postgresTestDatabase(t, 'tessera_ciba');
    if (!url) return undefined;
    const clock = new FakeClock();
    const a = await PostgresDatastore.open({ connectionString: url, clock, logger: silentLogger, maxConnections: 8 });
    const b = await PostgresDatastore.open({ connectionString: url, clock, logger: silentLogger, maxConnections: 8 });
    t.teardown(async () => { await a.close(); await b.close(); });
    return { a, b, clock };
  }],
];

const AGENT = 'spiffe://example.org/agents/planner';
const ALICE = 'https://idp.example.org#alice';

function request(clock: FakeClock, over: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  const now = Math.floor(clock.now() / 1000);
  const n = Math.random().toString(36).slice(2);
  return {
    id: `apr_${n}`, reqHash: `hash_${n}`, clientId: AGENT, subject: ALICE,
    approvers: [`user:${ALICE}`, 'group:https://idp.example.org#leads'], data: '{"k":1}', createdAt: now, expiresAt: now + 600, interval: 5,
    ...over,
  };
}

for (const [engine, open] of engines) {
  test(`${engine}: made on one server, listed for its approvers, decided once and redeemed once on the other`, async (t) => {
    const s = await open(t);
    if (!s) { t.pass('skipped: no PostgreSQL'); return; }
    const { a, b, clock } = s;
    const now = () => Math.floor(clock.now() / 1000);
    const r = request(clock);
    await a.putApprovalRequest(r);
    const listed = await b.listApprovalRequests({ principals: ['group:https://idp.example.org#leads'], pendingAt: now() });
    t.deepEqual(listed.map((x) => [x.id, x.status, x.approvers]), [[r.id, 'pending', ['group:https://idp.example.org#leads', `user:${ALICE}`]]]);
    t.deepEqual(await b.listApprovalRequests({ principals: ['user:https://idp.example.org#bob'], pendingAt: now() }), []);

    // Ten decisions race across both servers: one wins.
    const decisions = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).decideApprovalRequest(r.id, {
      status: 'approved', by: `approver ${i}`, at: now(), decision: `{"i":${i}}`,
    })));
    t.is(decisions.filter(Boolean).length, 1);
    const decided = (await a.getApprovalRequest({ id: r.id }))!;
    t.is(decided.decidedBy, `approver ${decisions.indexOf(true)}`);
    t.deepEqual(await a.listApprovalRequests({ pendingAt: now() }), [], 'no longer pending');
    // Twenty redemptions race across both servers (one of them by another client): one wins.
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? a : b).redeemApprovalRequest(r.reqHash, i === 7 ? 'spiffe://example.org/agents/other' : AGENT, `tok_${i}`, now())));
    t.is(wins.filter(Boolean).length, 1);
    t.false(wins[7]!);
    const done = (await b.getApprovalRequest({ reqHash: r.reqHash }))!;
    t.is(done.status, 'issued');
    t.is(done.issuedJti, `tok_${wins.indexOf(true)}`);
  });

  test(`${engine}: nothing is decided after expiry, and an approval not collected in time is never redeemed`, async (t) => {
    const s = await open(t);
    if (!s) { t.pass('skipped: no PostgreSQL'); return; }
    const { a, b, clock } = s;
    const now = () => Math.floor(clock.now() / 1000);
    const denied = request(clock);
    await a.putApprovalRequest(denied);
    t.true(await b.decideApprovalRequest(denied.id, { status: 'denied', by: ALICE, at: now(), decision: '{}' }));
    t.false(await a.redeemApprovalRequest(denied.reqHash, AGENT, 'tok_1', now()), 'a denial never redeems');

    const late = request(clock, { expiresAt: now() + 30 });
    await a.putApprovalRequest(late);
    clock.advance(31_000);
    t.false(await b.decideApprovalRequest(late.id, { status: 'approved', by: ALICE, at: now(), decision: '{}' }), 'expired: no decision');
    t.is((await a.getApprovalRequest({ id: late.id }))!.status, 'pending');

    const unclaimed = request(clock, { expiresAt: now() + 30 });
    await a.putApprovalRequest(unclaimed);
    t.true(await a.decideApprovalRequest(unclaimed.id, { status: 'approved', by: ALICE, at: now(), decision: '{}' }));
    clock.advance(31_000);
    t.false(await b.redeemApprovalRequest(unclaimed.reqHash, AGENT, 'tok_2', now()), 'approved, not collected in time');
  });

  test(`${engine}: the poll interval holds across servers and grows by 5 s per early poll; other clients leave no trace`, async (t) => {
    const s = await open(t);
    if (!s) { t.pass('skipped: no PostgreSQL'); return; }
    const { a, b, clock } = s;
    const r = request(clock);
    await a.putApprovalRequest(r);
    t.deepEqual(await a.pollApprovalRequest(r.reqHash, AGENT, clock.now()), { tooFast: false, interval: 5 });
    t.is(await b.pollApprovalRequest(r.reqHash, 'spiffe://example.org/agents/other', clock.now()), undefined);
    clock.advance(1000);
    t.deepEqual(await b.pollApprovalRequest(r.reqHash, AGENT, clock.now()), { tooFast: true, interval: 10 });
    clock.advance(5000);
    t.deepEqual(await a.pollApprovalRequest(r.reqHash, AGENT, clock.now()), { tooFast: true, interval: 15 }, '5 s is no longer enough');
    clock.advance(15_000);
    t.deepEqual(await b.pollApprovalRequest(r.reqHash, AGENT, clock.now()), { tooFast: false, interval: 15 });
    // Concurrent polls at one instant: one is served, the rest slowed down.
    clock.advance(15_000);
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).pollApprovalRequest(r.reqHash, AGENT, clock.now())));
    t.is(burst.filter((p) => p && !p.tooFast).length, 1);
    // A decision resets the clock: the answer is collected at once.
    t.true(await a.decideApprovalRequest(r.id, { status: 'denied', by: ALICE, at: Math.floor(clock.now() / 1000), decision: '{}' }));
    t.false((await b.pollApprovalRequest(r.reqHash, AGENT, clock.now()))!.tooFast);
  });

  test(`${engine}: a policy's approval part is stored with it, replaced by updates, listed and read back`, async (t) => {
    const s = await open(t);
    if (!s) { t.pass('skipped: no PostgreSQL'); return; }
    const { a, b } = s;
    const input = {
      id: 'pol_ciba', description: '', actors: [AGENT], subjectIssuer: 'https://idp.example.org', subjects: [], groups: [],
      audiences: ['https://rs.example.org'], scopes: ['files:read'], maxTtl: 300, maxDepth: 1, mayDelegateTo: [],
      approval: { scopes: ['review:post'] },
    };
    const created = await a.createDelegationPolicy(validatePolicy(input));
    t.deepEqual(created.approval, { scopes: ['review:post'], approvers: ['subject'] });
    t.deepEqual((await b.getDelegationPolicy('pol_ciba'))!.approval, { scopes: ['review:post'], approvers: ['subject'] });
    await a.createDelegationPolicy(validatePolicy({ ...input, id: 'pol_plain', approval: undefined }));
    const listed = await b.listDelegationPolicies();
    t.deepEqual(listed.map((p) => [p.id, p.approval]), [['pol_ciba', { scopes: ['review:post'], approvers: ['subject'] }], ['pol_plain', undefined]]);
    await b.updateDelegationPolicy({ ...validatePolicy({ ...input, approval: { scopes: ['a:b'], approvers: ['group:leads', 'subject'] } }), id: 'pol_ciba' });
    t.deepEqual((await a.getDelegationPolicy('pol_ciba'))!.approval, { scopes: ['a:b'], approvers: ['group:leads', 'subject'] });
    await b.updateDelegationPolicy({ ...validatePolicy({ ...input, approval: undefined }), id: 'pol_ciba' });
    t.is((await a.getDelegationPolicy('pol_ciba'))!.approval, undefined);
  });
}

test('policy validation: approvable scopes are scope tokens, not standing ones; approvers are subject or group:NAME', (t) => {
  const base = {
    description: '', actors: [AGENT], subjectIssuer: 'https://idp.example.org', subjects: [], groups: [], audiences: ['https://rs'],
    scopes: ['files:read'], maxTtl: 300, maxDepth: 1, mayDelegateTo: [],
  };
  t.throws(() => validatePolicy({ ...base, approval: { scopes: ['files:read'] } }), { message: /approval\.scopes\[0\].*already a standing scope/ });
  t.throws(() => validatePolicy({ ...base, approval: { scopes: ['a b'] } }), { message: /approval\.scopes\[0\].*not a scope token/ });
  t.throws(() => validatePolicy({ ...base, approval: { scopes: ['x:y'], approvers: ['admins'] } }), { message: /approval\.approvers\[0\].*"subject" or "group:NAME"/ });
  t.is(validatePolicy({ ...base, approval: { scopes: [] } }).approval, undefined);
});
