import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { memoryLogger, silentLogger } from '../../common/logger.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { Datastore } from '../../server/datastore/types.ts';
import { PolicyCache } from '../../server/delegation/policies.ts';
import { REVOCATION_GRACE_S, RevocationIndex } from '../../server/delegation/revocations.ts';
import type { RevocableToken, RevocationRecord } from '../../server/delegation/types.ts';
import { postgresTestDatabase } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { agent1, newAgent, newEntry, newPolicy, td, waitFor } from './datastore-contract.ts';

const TTL = 300;
const ALICE = 'https://idp.example.org#alice';
const RESEARCHER = 'spiffe://example.org/agents/researcher';
const SUB_AGENT = 'spiffe://example.org/agents/sub/reader';

function sqlite(t: ExecutionContext, clock = new FakeClock()): { store: SqliteDatastore; clock: FakeClock } {
  const store = SqliteDatastore.open({ path: join(tempDir(t), 'ds.sqlite3'), clock });
  t.teardown(() => store.close());
  return { store, clock };
}

async function index(t: ExecutionContext, store: Datastore, clock: FakeClock, logger = silentLogger): Promise<RevocationIndex> {
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  return RevocationIndex.load(store, { clock, logger, signal: ac.signal, pruneIntervalMs: 10_000 });
}

const nowSec = (clock: FakeClock) => Math.floor(clock.now() / 1000);

/** A sub-agent's token for alice, derived from root token tok_root of grant grt_1, issued at `iat`. */
function token(iat: number, over: Partial<RevocableToken> = {}): RevocableToken {
  return { jti: 'tok_child', grantId: 'grt_1', chain: ['tok_root'], sub: ALICE, actors: [SUB_AGENT, RESEARCHER], iat, ...over };
}

test('a grant record revokes every token of that grant, and only those', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  const rec = await idx.revoke('grant', 'grt_1', 'admin', TTL);
  t.deepEqual(idx.isRevoked(token(nowSec(clock) + 10)), rec, 'even a token issued after the record');
  t.is(idx.isRevoked(token(nowSec(clock), { grantId: 'grt_2' })), undefined);
});

test('a jti record revokes the token itself and everything derived from it (jti in chain)', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  await idx.revoke('jti', 'tok_root', 'rfc7009 spiffe://example.org/agents/researcher', TTL);
  const iat = nowSec(clock);
  t.truthy(idx.isRevoked(token(iat, { jti: 'tok_root', chain: [] })), 'the token itself');
  t.truthy(idx.isRevoked(token(iat)), 'its child');
  t.truthy(idx.isRevoked(token(iat, { jti: 'tok_grandchild', chain: ['tok_root', 'tok_child'] })), 'its grandchild');
  t.is(idx.isRevoked(token(iat, { jti: 'tok_sibling', chain: ['tok_other_root'] })), undefined);
  await idx.revoke('jti', 'tok_child', 'admin', TTL);
  t.is(idx.isRevoked(token(iat, { jti: 'tok_other', chain: ['tok_other_root'] })), undefined);
  t.truthy(idx.isRevoked(token(iat, { jti: 'tok_gc', chain: ['tok_x', 'tok_child'] })));
});

test('a subject record revokes that user\'s tokens issued at or before it, not later ones', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  const at = nowSec(clock);
  await idx.revoke('subject', ALICE, 'admin', TTL);
  t.truthy(idx.isRevoked(token(at - 100)));
  t.truthy(idx.isRevoked(token(at)), 'iat == at is revoked');
  t.is(idx.isRevoked(token(at + 1)), undefined, 'a token issued after the revocation lives');
  t.is(idx.isRevoked(token(at - 100, { sub: 'https://idp.example.org#bob' })), undefined);
});

test('an actor record revokes tokens with that actor anywhere in the chain, issued at or before it', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  const at = nowSec(clock);
  await idx.revoke('actor', RESEARCHER, 'admin', TTL);
  t.truthy(idx.isRevoked(token(at, { actors: [RESEARCHER] })), 'current actor');
  t.truthy(idx.isRevoked(token(at)), 'earlier actor in the chain');
  t.is(idx.isRevoked(token(at + 1)), undefined);
  t.is(idx.isRevoked(token(at, { actors: [SUB_AGENT] })), undefined);
  clock.advance(10_000);
  await idx.revoke('actor', RESEARCHER, 'admin', TTL);
  t.truthy(idx.isRevoked(token(at + 5)), 'a later record for the same actor covers more');
});

test('revoke writes the record with expires_at = at + max token lifetime, audits who and what, and tells subscribers once in seq order', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  const heard: RevocationRecord[] = [];
  idx.subscribe((r) => heard.push(r));
  const a = await idx.revoke('jti', 'tok_1', 'admin uid 0', TTL, { subject: ALICE, actor: RESEARCHER, grant: 'grt_9' });
  const b = await idx.revoke('actor', RESEARCHER, 'admin uid 0', TTL);
  t.like(a, { kind: 'jti', value: 'tok_1', at: nowSec(clock), expiresAt: nowSec(clock) + TTL, by: 'admin uid 0' });
  t.deepEqual(heard, [a, b]);
  t.deepEqual(await store.listRevocations(), [a, b]);
  const audit = await store.listAudit({ event: 'delegation.revoked' });
  t.is(audit.length, 2);
  t.is(audit[0].subject, 'jti:tok_1');
  t.like(audit[0].data, { who: 'admin uid 0', seq: a.seq, kind: 'jti', jti: 'tok_1', subject: ALICE, actor: RESEARCHER, grant: 'grt_9' });
  t.like(audit[1].data, { who: 'admin uid 0', kind: 'actor', actor: RESEARCHER });
  t.deepEqual(idx.snapshot(), { seq: b.seq, revocations: [a, b] });
  t.deepEqual(idx.since(a.seq), [b]);
  t.deepEqual(idx.since(b.seq), []);
  t.is(idx.since(b.seq + 1), undefined, 'a seq the index never reached: the caller needs a snapshot');
});

test('a record written straight to the store (another writer) reaches the index and its subscribers', async (t) => {
  const { store, clock } = sqlite(t);
  const idx = await index(t, store, clock);
  const heard: RevocationRecord[] = [];
  idx.subscribe((r) => heard.push(r));
  const rec = await store.addRevocation({ kind: 'grant', value: 'grt_x', at: nowSec(clock), expiresAt: nowSec(clock) + TTL });
  await waitFor(() => heard.length === 1);
  t.deepEqual(heard, [rec]);
  t.truthy(idx.isRevoked(token(nowSec(clock), { grantId: 'grt_x' })));
});

test('loading takes the live records and skips expired ones', async (t) => {
  const { store, clock } = sqlite(t);
  const now = nowSec(clock);
  await store.addRevocation({ kind: 'jti', value: 'tok_dead', at: now - 1000, expiresAt: now - 700 });
  const live = await store.addRevocation({ kind: 'jti', value: 'tok_live', at: now - 100, expiresAt: now + 200 });
  const idx = await index(t, store, clock);
  t.deepEqual(idx.snapshot(), { seq: live.seq, revocations: [live] });
  t.is(idx.isRevoked(token(now - 1000, { jti: 'tok_dead', chain: [] })), undefined);
});

test('expired records are pruned from memory and the store on the injected clock', async (t) => {
  const { store, clock } = sqlite(t);
  const logger = memoryLogger();
  const idx = await index(t, store, clock, logger);
  await idx.revoke('grant', 'grt_old', 'admin', 30);
  await idx.revoke('grant', 'grt_new', 'admin', 3600);
  clock.advance((30 + REVOCATION_GRACE_S + 1) * 1000);
  await waitFor(() => idx.size === 1);
  await waitFor(() => logger.records.some((r) => r.msg === 'pruned expired revocations'));
  t.deepEqual((await store.listRevocations()).map((r) => r.value), ['grt_new']);
  t.deepEqual(idx.snapshot().revocations.map((r) => r.value), ['grt_new']);
});

test('the policy cache loads policies and follows creates, updates and deletes without reads per decision', async (t) => {
  const { store, clock } = sqlite(t);
  const first = await store.createDelegationPolicy(newPolicy({ id: 'pol_b' }));
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const cache = await PolicyCache.load(store, { clock, logger: silentLogger, signal: ac.signal });
  t.deepEqual(cache.list(), [first]);
  const changed: string[] = [];
  cache.onChange((id) => changed.push(id));
  await store.createDelegationPolicy(newPolicy({ id: 'pol_a' }));
  await store.updateDelegationPolicy({ ...newPolicy({ scopes: ['files:read'] }), id: 'pol_b' });
  await waitFor(() => changed.length === 2);
  t.deepEqual(cache.list().map((p) => [p.id, p.revision]), [['pol_a', 1], ['pol_b', 2]]);
  t.deepEqual(cache.get('pol_b')!.scopes, ['files:read']);
  await store.deleteDelegationPolicy('pol_a');
  await waitFor(() => changed.length === 3);
  t.deepEqual(cache.list().map((p) => p.id), ['pol_b']);
  const decision = cache.evaluate({
    subject: { issuer: 'https://idp.example.org', name: 'alice', groups: ['eng'] },
    actor: { spiffeId: RESEARCHER, claims: {} }, priorActors: [], subjectScopes: undefined, parentAudiences: undefined,
    subjectExpiresAt: nowSec(clock) + 3600, requestedScopes: undefined, requestedAudiences: ['https://tools.example.org'],
    requestedTtl: undefined, now: nowSec(clock), serverMaxTtl: 300,
  });
  t.like(decision, { policyId: 'pol_b', scopes: ['files:read'] });
});

test('postgres: a revocation on one server reaches the other server\'s index, subscribers and policy cache at once', async (t) => {
  const cs = await postgresTestDatabase(t);
  if (!cs) { t.fail('PostgreSQL at 127.0.0.1:5432 is not reachable'); return; }
  const clock = new FakeClock();
  const open = async () => {
    const s = await PostgresDatastore.open({ connectionString: cs, clock, logger: silentLogger, maxConnections: 4 });
    t.teardown(() => s.close());
    return s;
  };
  const [a, b] = [await open(), await open()];
  const [ia, ib] = [await index(t, a, clock), await index(t, b, clock)];
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const cacheB = await PolicyCache.load(b, { clock, logger: silentLogger, signal: ac.signal });
  const heardB: RevocationRecord[] = [];
  ib.subscribe((r) => heardB.push(r));
  const r1 = await ia.revoke('jti', 'tok_root', 'admin', TTL);
  const r2 = await ib.revoke('subject', ALICE, 'admin', TTL);
  const r3 = await ia.revoke('grant', 'grt_1', 'admin', TTL);
  await waitFor(() => heardB.length === 3);
  t.deepEqual(heardB, [r1, r2, r3], 'each record once, in seq order, wherever written');
  await waitFor(() => ia.seq === r3.seq);
  t.deepEqual(ia.snapshot(), ib.snapshot());
  t.truthy(ib.isRevoked(token(nowSec(clock) + 100, { grantId: 'grt_other' })), 'tok_root in chain, written by server A');
  const p = await a.createDelegationPolicy(newPolicy());
  await waitFor(() => cacheB.get(p.id) !== undefined);
  t.deepEqual(cacheB.get(p.id), p);
});

test('the entry index ignores delegation change kinds and keeps following entries', async (t) => {
  const { store, clock } = sqlite(t);
  await store.upsertAgent(newAgent());
  const entries = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger: silentLogger });
  t.teardown(() => entries.close());
  await store.createDelegationPolicy(newPolicy());
  await store.addRevocation({ kind: 'jti', value: 'tok_1', at: 1, expiresAt: 2 });
  await store.putOAuthKey({ kid: 'k1', publicKey: new Uint8Array([1]), alg: 'ES256', notAfter: 9 });
  const e = (await store.createEntries([newEntry()]))[0];
  if (!e.ok) throw e.error;
  await waitFor(() => entries.authorizedEntries(agent1.toString()).length === 1);
  t.deepEqual(entries.authorizedEntries(agent1.toString()).map((x) => x.id), [e.value.id]);
  t.is(entries.sequence, await store.currentSequence(), 'the index advanced past the delegation events');
});
