import test, { type ExecutionContext } from 'ava';
import { until } from '../helpers/wait.ts';
import { generateKeyPairSync } from 'node:crypto';
import type { FakeClock } from '../../common/clock.ts';
import { TesseraError } from '../../common/errors.ts';
import { agentId, TrustDomain } from '../../spiffe/id.ts';
import { formatSelector, parseSelector } from '../../spiffe/selector.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import type {
  AttestedAgent, ChangeEvent, Datastore, ItemResult, JwtAuthority, NewEntry, RegistrationEntry,
} from '../../server/datastore/types.ts';
import type { NewDelegationPolicy } from '../../server/delegation/types.ts';
import { registerAgentWriteContract } from './datastore-agent-contract.ts';

/**
 * The Datastore contract: every rule here must hold for every implementation.
 * `registerDatastoreContract` registers the same ava tests once per engine.
 */
export interface ContractFixture {
  store: Datastore;
  clock: FakeClock;
  /** A second, independent store object (own connection) on the same database. */
  openAnother(): Promise<Datastore>;
  /** Raw SQL on the same database, for checks the interface cannot express. */
  exec(sql: string): Promise<void>;
}

export type ContractFactory = (t: ExecutionContext) => Promise<ContractFixture>;

export const td = TrustDomain.parse('example.org');
export const agent1 = agentId(td, 'join_token', 'a1');
export const sel = (...s: string[]) => s.map(parseSelector);

export function newEntry(over: Partial<NewEntry> = {}): NewEntry {
  return {
    spiffeId: td.id('workload', 'api'),
    parentId: agent1,
    selectors: sel('unix:uid:1000'),
    x509SvidTtl: 0, jwtSvidTtl: 0, dnsNames: [], hint: '', admin: false, downstream: false,
    federatesWith: [], expiresAt: 0, agent: {},
    ...over,
  };
}

export function newAgent(over: Partial<AttestedAgent> = {}): AttestedAgent {
  return {
    spiffeId: agent1, attestationType: 'join_token', selectors: sel('join_token:a1'), serial: '01',
    expiresAt: 2_000_000_000, banned: false, createdAt: 1_700_000_000, updatedAt: 1_700_000_000, ...over,
  };
}

export function ok<T>(t: ExecutionContext, r: ItemResult<T>): T {
  if (!r.ok) t.fail(`expected ok, got ${r.error.message}`);
  return (r as { ok: true; value: T }).value;
}

export function failure(r: ItemResult<unknown>): TesseraError {
  if (r.ok) throw new Error('expected a failure');
  if (!(r.error instanceof TesseraError)) throw r.error;
  return r.error;
}

/** Unix seconds the bundle tests treat as "now" (cutoffs are passed explicitly). */
const NOW = Math.floor(Date.UTC(2026, 0, 1) / 1000);
const hexOf = (d: Uint8Array) => Buffer.from(d).toString('hex');

/** A real self-signed CA certificate expiring at `notAfter` (unix seconds): pruneBundle reads its expiry. */
async function testRoot(notAfter: number): Promise<Uint8Array> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return createCaCertificate({ trustDomain: td, publicKey, privateKey, notBefore: new Date((NOW - 86_400) * 1000), notAfter: new Date(notAfter * 1000) });
}

function jwtKey(kid: string, seed: number, expiresAt: number): JwtAuthority {
  return { kid, publicKey: new Uint8Array([0x30, seed & 0xff, 1, 2]), expiresAt };
}

const ids = (list: RegistrationEntry[]) => list.map((e) => e.id).sort();

export function registerDatastoreContract(engine: string, open: ContractFactory): void {
  const name = (rule: string) => `${engine}: ${rule}`;

  test(name('created entries read back with normalised selectors and all fields'), async (t) => {
    const { store } = await open(t);
    const [r] = await store.createEntries([newEntry({
      selectors: sel('unix:uid:1000', 'docker:label:app=api', 'unix:uid:1000'),
      x509SvidTtl: 600, jwtSvidTtl: 120, dnsNames: ['api.example.org'], hint: 'api', admin: true, downstream: true,
      federatesWith: [TrustDomain.parse('partner.org')], expiresAt: 2_000_000_000,
      agent: { model: 'gpt-x', provider: 'acme', version: '1.2' },
    })]);
    const created = ok(t, r);
    t.is(created.revision, 1);
    t.deepEqual(created.selectors.map(formatSelector), ['docker:label:app=api', 'unix:uid:1000']);
    const got = await store.getEntry(created.id);
    t.truthy(got);
    t.is(got!.spiffeId.toString(), 'spiffe://example.org/workload/api');
    t.is(got!.parentId.toString(), agent1.toString());
    t.deepEqual(got!.selectors.map(formatSelector), ['docker:label:app=api', 'unix:uid:1000']);
    t.deepEqual(got!.federatesWith.map((x) => x.name), ['partner.org']);
    t.like(got!, { x509SvidTtl: 600, jwtSvidTtl: 120, hint: 'api', admin: true, downstream: true,
      expiresAt: 2_000_000_000, revision: 1, agent: { model: 'gpt-x', provider: 'acme', version: '1.2' } });
    t.deepEqual(got!.dnsNames, ['api.example.org']);
    t.is(got!.createdAt, created.createdAt);
    t.is(await store.getEntry('nope'), undefined);
  });

  test(name('a duplicate (same spiffe_id, parent_id and selector set in any order) fails alone with already_exists'), async (t) => {
    const { store } = await open(t);
    const a = newEntry({ selectors: sel('unix:uid:1', 'unix:gid:2') });
    const dup = newEntry({ selectors: sel('unix:gid:2', 'unix:uid:1') });
    const other = newEntry({ selectors: sel('unix:uid:1') });
    const res = await store.createEntries([a, dup, other]);
    t.true(res[0].ok);
    t.is(failure(res[1]).kind, 'already_exists');
    t.is(failure(res[1]).code, 'ERR_ENTRY_EXISTS');
    t.true(res[2].ok, 'same IDs with a different selector set is a different entry');
    t.is((await store.listEntries()).length, 2);
    const again = await store.createEntries([a]);
    t.is(failure(again[0]).code, 'ERR_ENTRY_EXISTS');
  });

  test(name('a caller-chosen id that exists fails with already_exists'), async (t) => {
    const { store } = await open(t);
    ok(t, (await store.createEntries([newEntry({ id: 'fixed-1' })]))[0]);
    const [r] = await store.createEntries([newEntry({ id: 'fixed-1', spiffeId: td.id('other') })]);
    t.is(failure(r).code, 'ERR_ENTRY_ID_EXISTS');
  });

  test(name('update bumps the revision, keeps createdAt, and honours expectRevision'), async (t) => {
    const { store, clock } = await open(t);
    const e = ok(t, (await store.createEntries([newEntry()]))[0]);
    clock.advance(5000);
    const up = ok(t, (await store.updateEntries([{ ...e, hint: 'v2', selectors: sel('unix:uid:2'), expectRevision: 1 }]))[0]);
    t.is(up.revision, 2);
    t.is(up.createdAt, e.createdAt);
    const got = (await store.getEntry(e.id))!;
    t.is(got.hint, 'v2');
    t.deepEqual(got.selectors.map(formatSelector), ['unix:uid:2']);
    const stale = (await store.updateEntries([{ ...e, hint: 'v3', expectRevision: 1 }]))[0];
    t.is(failure(stale).kind, 'failed_precondition');
    t.is(failure(stale).code, 'ERR_ENTRY_REVISION_MISMATCH');
    t.is((await store.getEntry(e.id))!.hint, 'v2', 'a rejected update leaves the entry alone');
    const noCheck = ok(t, (await store.updateEntries([{ ...got, hint: 'v4' }]))[0]);
    t.is(noCheck.revision, 3);
  });

  test(name('update of an unknown id fails alone with not_found; update into a duplicate fails with already_exists'), async (t) => {
    const { store } = await open(t);
    const [a, b] = (await store.createEntries([newEntry(), newEntry({ selectors: sel('unix:uid:2') })])).map((r) => ok(t, r));
    const res = await store.updateEntries([
      { ...a, id: 'missing' },
      { ...b, selectors: sel('unix:uid:1000') },
      { ...a, hint: 'fine' },
    ]);
    t.is(failure(res[0]).kind, 'not_found');
    t.is(failure(res[1]).code, 'ERR_ENTRY_EXISTS');
    t.is(ok(t, res[2]).hint, 'fine');
  });

  test(name('delete removes the entry and its selectors; an unknown id fails alone with not_found'), async (t) => {
    const { store } = await open(t);
    const e = ok(t, (await store.createEntries([newEntry({ selectors: sel('k8s:ns:prod') })]))[0]);
    const res = await store.deleteEntries(['missing', e.id]);
    t.is(failure(res[0]).kind, 'not_found');
    t.deepEqual(res[1], { ok: true, value: e.id });
    t.is(await store.getEntry(e.id), undefined);
    t.deepEqual(await store.listEntries({ selectors: { selectors: sel('k8s:ns:prod'), match: 'any' } }), []);
  });

  test(name('listEntries filters by spiffe_id, parent_id, hint and selector match mode'), async (t) => {
    const { store } = await open(t);
    const other = agentId(td, 'join_token', 'a2');
    const [ab, a, b, c] = (await store.createEntries([
      newEntry({ id: 'e-ab', selectors: sel('x:a', 'x:b') }),
      newEntry({ id: 'e-a', selectors: sel('x:a'), hint: 'h' }),
      newEntry({ id: 'e-b', spiffeId: td.id('b'), selectors: sel('x:b') }),
      newEntry({ id: 'e-c', parentId: other, selectors: sel('x:c') }),
    ])).map((r) => ok(t, r));
    const by = async (f: Parameters<Datastore['listEntries']>[0]) => ids(await store.listEntries(f));
    t.deepEqual(await by({ spiffeId: td.id('b').toString() }), [b.id]);
    t.deepEqual(await by({ parentId: other.toString() }), [c.id]);
    t.deepEqual(await by({ hint: 'h' }), [a.id]);
    const s = (match: 'exact' | 'subset' | 'superset' | 'any', ...x: string[]) => by({ selectors: { selectors: sel(...x), match } });
    t.deepEqual(await s('exact', 'x:b', 'x:a'), [ab.id]);
    t.deepEqual(await s('exact', 'x:a'), [a.id]);
    t.deepEqual(await s('subset', 'x:a', 'x:b'), [ab.id, a.id, b.id].sort(), 'subset: entry selectors ⊆ given');
    t.deepEqual(await s('superset', 'x:a'), [ab.id, a.id].sort(), 'superset: entry selectors ⊇ given');
    t.deepEqual(await s('any', 'x:b', 'x:c'), [ab.id, b.id, c.id].sort());
    t.deepEqual(await by({ parentId: agent1.toString(), selectors: { selectors: sel('x:a'), match: 'superset' } }), [ab.id, a.id].sort());
  });

  test(name('listEntries pages by id with afterId and limit'), async (t) => {
    const { store } = await open(t);
    await store.createEntries(['p1', 'p2', 'p3', 'p4', 'p5'].map((id, i) => newEntry({ id, selectors: sel(`x:${i}`) })));
    const page1 = await store.listEntries({ limit: 2 });
    t.deepEqual(page1.map((e) => e.id), ['p1', 'p2']);
    const page2 = await store.listEntries({ limit: 2, afterId: 'p2' });
    t.deepEqual(page2.map((e) => e.id), ['p3', 'p4']);
    t.deepEqual((await store.listEntries({ limit: 2, afterId: 'p4' })).map((e) => e.id), ['p5']);
  });

  test(name('every successful write appends one change event with an increasing sequence; failed items append none'), async (t) => {
    const { store } = await open(t);
    const before = await store.currentSequence();
    const [e1, dup, e2] = await store.createEntries([newEntry(), newEntry(), newEntry({ selectors: sel('x:2') })]);
    t.false(dup.ok);
    await store.updateEntries([{ ...ok(t, e1), hint: 'x' }]);
    await store.deleteEntries([ok(t, e2).id, 'missing']);
    await store.upsertAgent(newAgent());
    await store.setAgentBanned(agent1.toString(), true);
    t.is(await store.setAgentBanned('spiffe://example.org/tessera/agent/x/none', true), undefined);
    await store.deleteAgent(agent1.toString());
    t.false(await store.deleteAgent(agent1.toString()));
    await store.putBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [], refreshHint: 300 });
    const evs = await store.changesSince(before);
    t.deepEqual(evs.map((e) => [e.kind, e.id]), [
      ['entry_upsert', ok(t, e1).id], ['entry_upsert', ok(t, e2).id], ['entry_upsert', ok(t, e1).id],
      ['entry_delete', ok(t, e2).id], ['agent_upsert', agent1.toString()], ['agent_upsert', agent1.toString()],
      ['agent_delete', agent1.toString()], ['bundle', 'example.org'],
    ]);
    for (let i = 1; i < evs.length; i++) t.true(evs[i].seq > evs[i - 1].seq);
    t.is(await store.currentSequence(), evs[evs.length - 1].seq);
    t.deepEqual((await store.changesSince(evs[5].seq, 1)).map((e) => e.seq), [evs[6].seq]);
  });

  test(name('subscribers are notified after commit: the written row is already readable'), async (t) => {
    const { store } = await open(t);
    const seen: { ev: ChangeEvent; visible: Promise<RegistrationEntry | undefined> }[] = [];
    const off = store.subscribe((ev) => seen.push({ ev, visible: store.getEntry(ev.id) }));
    const [r] = await store.createEntries([newEntry()]);
    const id = ok(t, r).id;
    await waitFor(() => seen.length >= 1);
    t.is(seen[0].ev.kind, 'entry_upsert');
    t.is(seen[0].ev.id, id);
    t.is((await seen[0].visible)?.id, id);
    off();
    await store.deleteEntries([id]);
    // Every subscriber hears each event at once: once another one has heard a later
    // write, the delete reached every subscriber there was.
    await afterMarker(store);
    t.is(seen.length, 1, 'no events after unsubscribe');
  });

  test(name('a rolled-back write notifies no one'), async (t) => {
    const { store } = await open(t);
    const seen: ChangeEvent[] = [];
    store.subscribe((ev) => seen.push(ev));
    const res = await store.deleteEntries(['missing']);
    t.false(res[0].ok);
    const marker = await afterMarker(store);
    t.deepEqual(seen.map((e) => e.id), [marker], 'only the later write was heard');
  });

  test(name('agents: upsert keeps createdAt, filters work, and a ban survives a later upsert'), async (t) => {
    const { store } = await open(t);
    await store.upsertAgent(newAgent());
    await store.upsertAgent(newAgent({ spiffeId: agentId(td, 'tpm', 'x'), attestationType: 'tpm' }));
    await store.upsertAgent(newAgent({ serial: '02', createdAt: 1_800_000_000, updatedAt: 1_800_000_100, selectors: sel('join_token:a1', 'region:eu') }));
    const a = (await store.getAgent(agent1.toString()))!;
    t.like(a, { serial: '02', createdAt: 1_700_000_000, updatedAt: 1_800_000_100, banned: false, attestationType: 'join_token' });
    t.deepEqual(a.selectors.map(formatSelector), ['join_token:a1', 'region:eu']);
    t.deepEqual((await store.listAgents({ attestationType: 'tpm' })).map((x) => x.attestationType), ['tpm']);
    const banned = (await store.setAgentBanned(agent1.toString(), true))!;
    t.true(banned.banned);
    await store.upsertAgent(newAgent({ serial: '03' }));
    t.true((await store.getAgent(agent1.toString()))!.banned, 're-attestation must not lift a ban');
    t.deepEqual((await store.listAgents({ banned: true })).map((x) => x.spiffeId.toString()), [agent1.toString()]);
    t.false((await store.setAgentBanned(agent1.toString(), false))!.banned);
    t.true(await store.deleteAgent(agent1.toString()));
    t.is(await store.getAgent(agent1.toString()), undefined);
  });

  test(name('a join token is consumed once; expired and unknown tokens are told apart; prune drops expired'), async (t) => {
    const { store } = await open(t);
    await store.createJoinToken({ token: 'tok-live', expiresAt: 1000 });
    await store.createJoinToken({ token: 'tok-old', expiresAt: 500 });
    await store.createJoinToken({ token: 'tok-prune', expiresAt: 400 });
    await t.throwsAsync(store.createJoinToken({ token: 'tok-live', expiresAt: 2000 }), { code: 'ERR_JOIN_TOKEN_EXISTS' });
    t.is(await store.consumeJoinToken('tok-live', 900), 'ok');
    t.is(await store.consumeJoinToken('tok-live', 900), 'unknown');
    t.is(await store.consumeJoinToken('tok-old', 500), 'expired', 'expiresAt <= now is expired');
    t.is(await store.consumeJoinToken('never', 900), 'unknown');
    t.is(await store.pruneJoinTokens(450), 1);
    t.is(await store.consumeJoinToken('tok-prune', 300), 'unknown');
  });

  test(name('two store objects racing for the same join tokens: each token goes to exactly one'), async (t) => {
    const { store, openAnother } = await open(t);
    const other = await openAnother();
    const tokens = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    for (const token of tokens) await store.createJoinToken({ token, expiresAt: 10_000 });
    const results = await Promise.all(tokens.flatMap((tok) => [store.consumeJoinToken(tok, 1), other.consumeJoinToken(tok, 1)]));
    for (let i = 0; i < tokens.length; i++) {
      t.deepEqual([results[2 * i], results[2 * i + 1]].sort(), ['ok', 'unknown'], tokens[i]);
    }
  });

  test(name('listBundles lists every trust domain; deleteBundle removes one with a change event, false when absent'), async (t) => {
    const { store } = await open(t);
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    await store.putBundle({ trustDomain: TrustDomain.parse('partner.org'), x509Authorities: [der], jwtAuthorities: [], refreshHint: 300 });
    await store.putBundle({ trustDomain: td, x509Authorities: [der], jwtAuthorities: [], refreshHint: 300 });
    t.deepEqual((await store.listBundles()).map((b) => b.trustDomain.name), ['example.org', 'partner.org']);
    t.true(await store.deleteBundle('partner.org'));
    t.false(await store.deleteBundle('partner.org'));
    t.deepEqual((await store.listBundles()).map((b) => b.trustDomain.name), ['example.org']);
    t.is(await store.getBundle('partner.org'), undefined);
    await until(() => events.filter((e) => e.kind === 'bundle').length === 3, 'three bundle change events');
    t.deepEqual(events.filter((e) => e.kind === 'bundle').map((e) => e.id), ['partner.org', 'example.org', 'partner.org']);
  });

  test(name('putBundle assigns increasing sequence numbers and round-trips the key material'), async (t) => {
    const { store } = await open(t);
    const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    const spki = new Uint8Array([1, 2, 3, 255]);
    const b1 = await store.putBundle({ trustDomain: td, x509Authorities: [der], jwtAuthorities: [{ kid: 'k1', publicKey: spki, expiresAt: 99 }], refreshHint: 300 });
    t.is(b1.sequence, 1);
    const b2 = await store.putBundle({ trustDomain: td, x509Authorities: [der, der], jwtAuthorities: [], refreshHint: 60 });
    t.is(b2.sequence, 2);
    const got = (await store.getBundle('example.org'))!;
    t.is(got.sequence, 2);
    t.is(got.refreshHint, 60);
    t.deepEqual(got.x509Authorities.map((d) => [...d]), [[...der], [...der]]);
    t.is(await store.getBundle('partner.org'), undefined);
    await store.putBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [{ kid: 'k1', publicKey: spki, expiresAt: 99 }], refreshHint: 1 });
    t.deepEqual((await store.getBundle('example.org'))!.jwtAuthorities.map((k) => ({ ...k, publicKey: [...k.publicKey] })),
      [{ kid: 'k1', publicKey: [...spki], expiresAt: 99 }]);
  });

  test(name('appendBundle merges by DER and kid, bumps the sequence only on change, and refuses a kid with another key'), async (t) => {
    const { store } = await open(t);
    const [r1, r2] = await Promise.all([testRoot(NOW + 3600), testRoot(NOW + 7200)]);
    const seen: ChangeEvent[] = [];
    store.subscribe((ev) => seen.push(ev));
    const b1 = await store.appendBundle({ trustDomain: td, x509Authorities: [r1], jwtAuthorities: [jwtKey('a', 1, NOW + 3600)], refreshHint: 300 });
    t.is(b1.sequence, 1);
    const b2 = await store.appendBundle({ trustDomain: td, x509Authorities: [r2, r1], jwtAuthorities: [jwtKey('b', 2, NOW + 7200)], refreshHint: 300 });
    t.is(b2.sequence, 2);
    t.deepEqual(b2.x509Authorities.map(hexOf), [r1, r2].map(hexOf), 'existing first, nothing twice');
    t.deepEqual(b2.jwtAuthorities.map((k) => k.kid), ['a', 'b']);
    const same = await store.appendBundle({ trustDomain: td, x509Authorities: [r1], jwtAuthorities: [jwtKey('a', 1, NOW + 3600)], refreshHint: 300 });
    t.is(same.sequence, 2, 'nothing new: no new sequence');
    const marker = await afterMarker(store);
    t.deepEqual(seen.map((e) => [e.kind, e.id]), [['bundle', 'example.org'], ['bundle', 'example.org'], ['entry_upsert', marker]], 'no event for a no-op');
    await t.throwsAsync(store.appendBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [jwtKey('a', 9, NOW)], refreshHint: 300 }),
      { code: 'ERR_BUNDLE_KID_CONFLICT' });
    t.is((await store.getBundle('example.org'))!.sequence, 2);
    t.is((await store.appendBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [], refreshHint: 60 })).sequence, 3, 'a new refresh hint is a change');
  });

  test(name('pruneBundle drops only authorities expired by the cutoff, never the last X.509 one nor one it cannot parse'), async (t) => {
    const { store } = await open(t);
    t.is(await store.pruneBundle('example.org', NOW), undefined);
    const [old, live, older] = await Promise.all([testRoot(NOW - 10), testRoot(NOW + 3600), testRoot(NOW - 100)]);
    const junk = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    await store.appendBundle({ trustDomain: td, x509Authorities: [old, live, junk], jwtAuthorities: [jwtKey('old', 1, NOW - 10), jwtKey('live', 2, NOW + 3600)], refreshHint: 300 });
    const before = (await store.getBundle('example.org'))!;
    const same = (await store.pruneBundle('example.org', NOW - 20))!;
    t.is(same.sequence, before.sequence, 'nothing expired by the cutoff (grace): no change');
    const pruned = (await store.pruneBundle('example.org', NOW))!;
    t.is(pruned.sequence, before.sequence + 1);
    t.deepEqual(pruned.x509Authorities.map(hexOf), [live, junk].map(hexOf));
    t.deepEqual(pruned.jwtAuthorities.map((k) => k.kid), ['live']);

    // A bundle whose roots have all expired keeps them (it would otherwise trust nothing).
    const other = TrustDomain.parse('other.org');
    await store.appendBundle({ trustDomain: other, x509Authorities: [older, old], jwtAuthorities: [], refreshHint: 300 });
    t.is((await store.pruneBundle('other.org', NOW))!.x509Authorities.length, 2);
  });

  test(name('concurrent appendBundle from two store objects: every authority survives, one sequence step per change'), async (t) => {
    const { store, openAnother } = await open(t);
    const other = await openAnother();
    const keys = Array.from({ length: 20 }, (_, i) => jwtKey(`k${i}`, i, NOW + 3600));
    const roots = await Promise.all([testRoot(NOW + 3600), testRoot(NOW + 3601)]);
    await Promise.all(keys.map((k, i) => (i % 2 ? other : store).appendBundle({
      trustDomain: td, x509Authorities: [roots[i % 2]!], jwtAuthorities: [k], refreshHint: 300,
    })));
    const b = (await store.getBundle('example.org'))!;
    t.deepEqual(b.jwtAuthorities.map((k) => k.kid).sort(), keys.map((k) => k.kid).sort());
    t.deepEqual(b.x509Authorities.map(hexOf).sort(), roots.map(hexOf).sort());
    t.is(b.sequence, 20, 'each append added a key: 20 changes');
  });

  test(name('an agent\'s previous serial round-trips; an upsert without it clears it'), async (t) => {
    const { store } = await open(t);
    await store.upsertAgent(newAgent({ serial: '0a' }));
    t.is((await store.getAgent(agent1.toString()))!.previousSerial, '');
    await store.upsertAgent(newAgent({ serial: '0b', previousSerial: '0a' }));
    t.like(await store.getAgent(agent1.toString()), { serial: '0b', previousSerial: '0a' });
    await store.upsertAgent(newAgent({ serial: '0c' }));
    t.like(await store.getAgent(agent1.toString()), { serial: '0c', previousSerial: '' });
  });

  test(name('the audit trail appends, filters, and refuses UPDATE and DELETE'), async (t) => {
    const { store, exec } = await open(t);
    await store.appendAudit({ time: 1, event: 'agent.attested', subject: agent1.toString(), data: { method: 'join_token' } });
    await store.appendAudit({ time: 2, event: 'entry.created', subject: 'e1', data: {} });
    await store.appendAudit({ time: 3, event: 'agent.banned', subject: agent1.toString(), data: { by: 'admin' } });
    const mine = await store.listAudit({ subject: agent1.toString() });
    t.deepEqual(mine.map((r) => r.event), ['agent.attested', 'agent.banned']);
    t.deepEqual(mine[0].data, { method: 'join_token' });
    t.deepEqual((await store.listAudit({ event: 'entry.created' })).map((r) => r.subject), ['e1']);
    t.deepEqual((await store.listAudit({ sinceSeq: mine[0].seq, limit: 1 })).map((r) => r.time), [2]);
    await t.throwsAsync(exec('UPDATE audit SET subject = \'x\''), { any: true, message: /append-only/ });
    await t.throwsAsync(exec('DELETE FROM audit'), { any: true, message: /append-only/ });
    t.is((await store.listAudit()).length, 3);
  });

  test(name('pruneChanges drops old change rows but keeps the newest so the sequence never goes back'), async (t) => {
    const { store, clock } = await open(t);
    await store.createEntries([newEntry(), newEntry({ selectors: sel('x:1') })]);
    clock.advance(3_600_000);
    const seq = await store.currentSequence();
    const cutoff = Math.floor(clock.now() / 1000);
    t.is(await store.pruneChanges(cutoff), 1);
    t.is(await store.currentSequence(), seq);
    await store.createEntries([newEntry({ selectors: sel('x:2') })]);
    t.is(await store.currentSequence(), seq + 1);
  });

  test(name('a second store object on the same database sees the first one\'s writes'), async (t) => {
    const { store, openAnother } = await open(t);
    const e = ok(t, (await store.createEntries([newEntry()]))[0]);
    const other = await openAnother();
    t.is((await other.getEntry(e.id))?.revision, 1);
    t.is(await other.currentSequence(), await store.currentSequence());
  });

  registerDelegationContract(engine, open);
  registerConcurrentWriteContract(engine, open);
  registerAgentWriteContract(engine, open);
}

/** Polls `cond`; the bound only turns a hang into a failure (generous: PostgreSQL notifications on a busy machine). */
export async function waitFor(cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Writes a marker entry and waits until a subscriber of its own hears it, returning its
 * id. Events reach every subscriber in sequence order, so by then every event of an
 * earlier write has been delivered: a test can assert what did *not* arrive.
 */
export async function afterMarker(store: Datastore): Promise<string> {
  const heard = new Set<string>();
  const off = store.subscribe((ev) => heard.add(ev.id));
  try {
    const [r] = await store.createEntries([newEntry({ selectors: sel(`marker:${Math.random().toString(36).slice(2)}`) })]);
    if (!r?.ok) throw new Error('marker entry was not created');
    const id = r.value.id;
    await waitFor(() => heard.has(id));
    return id;
  } finally {
    off();
  }
}

// ---- delegated authority (docs/delegation.md) ----

export function newPolicy(over: Partial<NewDelegationPolicy> = {}): NewDelegationPolicy {
  return {
    description: 'researcher reads files for eng', actors: ['spiffe://example.org/agents/*'],
    subjectIssuer: 'https://idp.example.org', subjects: [], groups: ['eng'], audiences: ['https://tools.example.org'],
    scopes: ['files:read', 'review:post'], maxTtl: 300, maxDepth: 2, mayDelegateTo: ['spiffe://example.org/agents/sub/*'],
    ...over,
  };
}

function registerDelegationContract(engine: string, open: ContractFactory): void {
  const name = (rule: string) => `${engine}: ${rule}`;

  test(name('a delegation policy gets a pol_ id, reads back whole, and a taken id is already_exists'), async (t) => {
    const { store } = await open(t);
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    const p = await store.createDelegationPolicy(newPolicy());
    t.regex(p.id, /^pol_[A-Za-z0-9_-]{16}$/);
    t.like(p, { revision: 1, ...newPolicy() });
    t.deepEqual(await store.getDelegationPolicy(p.id), p);
    const mine = await store.createDelegationPolicy(newPolicy({ id: 'pol_mine', subjects: ['alice'], groups: [] }));
    t.is(mine.id, 'pol_mine');
    t.deepEqual((await store.listDelegationPolicies()).map((x) => x.id).sort(), [p.id, 'pol_mine'].sort());
    const err = await t.throwsAsync(store.createDelegationPolicy(newPolicy({ id: 'pol_mine' })), { instanceOf: TesseraError });
    t.like(err, { kind: 'already_exists', code: 'ERR_POLICY_EXISTS' });
    // On PostgreSQL, events can arrive through the LISTEN pump after the write returns.
    await afterMarker(store);
    t.deepEqual(events.filter((e) => !e.kind.startsWith('entry')).map((e) => [e.kind, e.id]), [['delegation_policy', p.id], ['delegation_policy', 'pol_mine']]);
    t.is(await store.getDelegationPolicy('pol_nope'), undefined);
  });

  test(name('a policy update replaces every field, bumps the revision and honours expectRevision'), async (t) => {
    const { store, clock } = await open(t);
    const p = await store.createDelegationPolicy(newPolicy());
    clock.advance(5000);
    const u = await store.updateDelegationPolicy({ ...newPolicy({ scopes: ['files:read'], maxDepth: 1, mayDelegateTo: [] }), id: p.id, expectRevision: 1 });
    t.like(u, { id: p.id, revision: 2, createdAt: p.createdAt, scopes: ['files:read'], maxDepth: 1, mayDelegateTo: [] });
    t.deepEqual(await store.getDelegationPolicy(p.id), u);
    const stale = await t.throwsAsync(store.updateDelegationPolicy({ ...newPolicy(), id: p.id, expectRevision: 1 }), { instanceOf: TesseraError });
    t.like(stale, { kind: 'failed_precondition', code: 'ERR_POLICY_REVISION' });
    t.regex(stale!.message, /revision 1 was expected but the stored revision is 2/);
    const missing = await t.throwsAsync(store.updateDelegationPolicy({ ...newPolicy(), id: 'pol_nope' }), { instanceOf: TesseraError });
    t.like(missing, { kind: 'not_found', code: 'ERR_POLICY_NOT_FOUND' });
    t.is((await store.getDelegationPolicy(p.id))!.revision, 2);
  });

  test(name('deleting a policy reports whether it existed and logs a change only when it did'), async (t) => {
    const { store } = await open(t);
    const p = await store.createDelegationPolicy(newPolicy());
    const seq = await store.currentSequence();
    t.true(await store.deleteDelegationPolicy(p.id));
    t.false(await store.deleteDelegationPolicy(p.id));
    t.is(await store.getDelegationPolicy(p.id), undefined);
    t.deepEqual((await store.changesSince(seq)).map((e) => [e.kind, e.id]), [['delegation_policy', p.id]]);
  });

  test(name('revocations get increasing seqs, log a change with the seq, and list by afterSeq and liveAt'), async (t) => {
    const { store } = await open(t);
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    const a = await store.addRevocation({ kind: 'grant', value: 'grt_a', at: 1000, expiresAt: 1300, by: 'admin uid 0' });
    const b = await store.addRevocation({ kind: 'jti', value: 'tok_b', at: 1100, expiresAt: 1400 });
    const c = await store.addRevocation({ kind: 'actor', value: 'spiffe://example.org/agents/x', at: 1200, expiresAt: 1500 });
    t.true(a.seq < b.seq && b.seq < c.seq);
    t.deepEqual(a, { seq: a.seq, kind: 'grant', value: 'grt_a', at: 1000, expiresAt: 1300, by: 'admin uid 0' });
    await afterMarker(store);
    t.deepEqual(events.filter((e) => !e.kind.startsWith('entry')).map((e) => [e.kind, e.id]), [a, b, c].map((r) => ['revocation', String(r.seq)]));
    t.deepEqual(await store.listRevocations(), [a, b, c]);
    t.deepEqual(await store.listRevocations({ afterSeq: a.seq }), [b, c]);
    t.deepEqual(await store.listRevocations({ liveAt: 1400 }), [c]);
    t.deepEqual(await store.listRevocations({ afterSeq: b.seq, liveAt: 1300 }), [c]);
    t.is(await store.pruneRevocations(1400), 2, 'expiresAt <= before goes');
    t.deepEqual(await store.listRevocations(), [c]);
    const d = await store.addRevocation({ kind: 'subject', value: 'https://idp.example.org#alice', at: 1600, expiresAt: 1900 });
    t.true(d.seq > c.seq, 'seqs never go back after a prune');
  });

  test(name('useTokenOnce: 20 concurrent uses of one hash over two store objects, exactly one is first'), async (t) => {
    const { store, openAnother } = await open(t);
    const other = await openAnother();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).useTokenOnce('h-race', 2_000_000_000)));
    t.is(results.filter(Boolean).length, 1);
    t.false(await store.useTokenOnce('h-race', 2_000_000_000));
    t.false(await other.useTokenOnce('h-race', 2_000_000_000));
    t.true(await other.useTokenOnce('h-other', 2_000_000_000), 'another hash is independent');
  });

  test(name('useTokenOnce: 60 hashes used three times each at once, two store objects in opposite orders: one first per hash'), async (t) => {
    const { store, openAnother } = await open(t);
    const other = await openAnother();
    // Each store's uses share one batched transaction. Submitted in opposite orders, yet
    // both take their rows in key order: neither waits on the other in a cycle (a deadlock).
    const hashes = Array.from({ length: 60 }, (_, i) => `h-many-${i}`);
    const mine = hashes.map((h) => [store.useTokenOnce(h, 2_000_000_000), store.useTokenOnce(h, 2_000_000_000)]);
    const theirs = [...hashes].reverse().map((h) => other.useTokenOnce(h, 2_000_000_000)).reverse();
    const results = await Promise.all(hashes.map(async (_, i) => [...await Promise.all(mine[i]!), await theirs[i]!]));
    results.forEach((r, i) => t.is(r.filter(Boolean).length, 1, hashes[i]));
  });

  test(name('redeemAuthorizationCode: concurrent redemptions over two store objects, one is first and every one sees what it issued'), async (t) => {
    const { store, openAnother } = await open(t);
    const other = await openAnother();
    await store.putAuthorizationCode('c-race', '{"client":"x"}', 2_000_000_000);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? other : store).redeemAuthorizationCode('c-race', { jti: `tok_${i}`, grantId: `grt_${i}` })));
    const winners = results.flatMap((r, i) => (r?.first ? [i] : []));
    t.is(winners.length, 1);
    for (const r of results) {
      t.like(r, { data: '{"client":"x"}', expiresAt: 2_000_000_000, issuedJti: `tok_${winners[0]}`, issuedGrantId: `grt_${winners[0]}` });
    }
    t.is(await store.redeemAuthorizationCode('c-unknown', { jti: 'tok_u', grantId: 'grt_u' }), undefined);
  });

  test(name('appendAuditBatched: the audit row and its log leaf land together, in order'), async (t) => {
    const { store } = await open(t);
    const size = await store.logSize();
    const recs = [1, 2, 3].map((i) => ({ time: 100 + i, event: 'oauth.token_exchange', subject: `s${i}`, data: { grant_id: `grt_${i}` } }));
    t.deepEqual(await Promise.all(recs.map((r) => store.appendAuditBatched(r))), [size, size + 1, size + 2]);
    t.deepEqual((await store.listAudit({ event: 'oauth.token_exchange' })).map((r) => [r.time, r.subject, r.data]),
      recs.map((r) => [r.time, r.subject, r.data]));
    t.deepEqual((await store.logLeaves(size, size + 3)).map((l) => [l.type, l.time]), recs.map((r) => [r.event, r.time * 1000]));
  });

  test(name('OAuth signing keys upsert by kid, round-trip their bytes, prune by notAfter, and log changes'), async (t) => {
    const { store } = await open(t);
    const events: ChangeEvent[] = [];
    store.subscribe((ev) => events.push(ev));
    const k1 = { kid: 'k1', publicKey: new Uint8Array([0x30, 0x59, 0, 255]), alg: 'ES256', notAfter: 1000 };
    const k2 = { kid: 'k2', publicKey: new Uint8Array([0x30, 1, 2]), alg: 'ES256', notAfter: 2000 };
    await store.putOAuthKey(k1);
    await store.putOAuthKey(k2);
    await store.putOAuthKey({ ...k1, notAfter: 1500 });
    const keys = await store.listOAuthKeys();
    t.deepEqual(keys.map((k) => [k.kid, hexOf(k.publicKey), k.alg, k.notAfter]),
      [['k1', hexOf(k1.publicKey), 'ES256', 1500], ['k2', hexOf(k2.publicKey), 'ES256', 2000]]);
    t.is(await store.pruneOAuthKeys(1500), 1);
    t.deepEqual((await store.listOAuthKeys()).map((k) => k.kid), ['k2']);
    await afterMarker(store);
    t.deepEqual(events.filter((e) => !e.kind.startsWith('entry')).map((e) => [e.kind, e.id]), [['oauth_key', 'k1'], ['oauth_key', 'k2'], ['oauth_key', 'k1'], ['oauth_key', 'k1']]);
    t.is(await store.pruneOAuthKeys(1500), 0);
  });

  if (engine === 'postgres') {
    test(name('another server\'s store hears policy, revocation and key changes'), async (t) => {
      const { store, openAnother } = await open(t);
      const other = await openAnother();
      const seen: ChangeEvent[] = [];
      other.subscribe((ev) => seen.push(ev));
      const p = await store.createDelegationPolicy(newPolicy());
      const r = await store.addRevocation({ kind: 'jti', value: 'tok_x', at: 1, expiresAt: 2 });
      await store.putOAuthKey({ kid: 'k9', publicKey: new Uint8Array([1]), alg: 'ES256', notAfter: 5 });
      await waitFor(() => seen.length >= 3);
      t.deepEqual(seen.map((e) => [e.kind, e.id]), [['delegation_policy', p.id], ['revocation', String(r.seq)], ['oauth_key', 'k9']]);
      t.deepEqual(await other.listRevocations({ afterSeq: r.seq - 1 }), [r]);
    });
  }
}

// ---- concurrent writes (group commit: server/datastore/group-commit.ts) ----

function registerConcurrentWriteContract(engine: string, open: ContractFactory): void {
  const name = (rule: string) => `${engine}: ${rule}`;

  test(name('64 concurrent single-entry creates: only the duplicates fail, the rest are stored, events come once each in order'), async (t) => {
    const { store } = await open(t);
    const taken = ok(t, (await store.createEntries([newEntry({ id: 'taken', selectors: sel('x:taken') })]))[0]);
    const before = await store.currentSequence();
    const seen: ChangeEvent[] = [];
    store.subscribe((ev) => seen.push(ev));
    const DUP_SELECTORS = 17, DUP_ID = 40;
    const inputs = Array.from({ length: 64 }, (_, i) => {
      if (i === DUP_SELECTORS) return newEntry({ selectors: sel('x:taken') });
      if (i === DUP_ID) return newEntry({ id: 'taken', selectors: sel('x:other') });
      return newEntry({ selectors: sel(`x:${i}`) });
    });
    const results = await Promise.all(inputs.map((e) => store.createEntries([e])));
    t.true(results.every((r) => r.length === 1));
    t.is(failure(results[DUP_SELECTORS]![0]!).code, 'ERR_ENTRY_EXISTS');
    t.is(failure(results[DUP_ID]![0]!).code, 'ERR_ENTRY_ID_EXISTS');
    const created = results.filter((_, i) => i !== DUP_SELECTORS && i !== DUP_ID).map((r) => ok(t, r[0]!));
    t.is(created.length, 62);
    t.deepEqual(created.map((e) => formatSelector(e.selectors[0]!)),
      inputs.map((e, i) => (i === DUP_SELECTORS || i === DUP_ID ? undefined : formatSelector(e.selectors[0]!))).filter((x) => x !== undefined),
      'each caller gets its own entry back');
    t.deepEqual(ids(await store.listEntries()), [taken.id, ...created.map((e) => e.id)].sort());
    t.is((await store.getEntry('taken'))!.revision, 1, 'the entry whose id was reused is untouched');

    const logged = await store.changesSince(before);
    t.deepEqual(logged.map((e) => e.id).sort(), created.map((e) => e.id).sort(), 'one change per stored entry, none for the failures');
    t.deepEqual(logged.map((e) => e.seq), Array.from({ length: 62 }, (_, i) => before + i + 1), 'gap-free sequence');
    const marker = await afterMarker(store);
    t.deepEqual(seen.slice(0, -1), logged, 'subscribers get every event once, in sequence order');
    t.is(seen.at(-1)?.id, marker);
  });

  test(name('among concurrent writes, one that throws fails alone and leaves nothing behind'), async (t) => {
    const { store } = await open(t);
    await store.appendBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [jwtKey('a', 1, NOW)], refreshHint: 300 });
    const before = await store.currentSequence();
    const seen: ChangeEvent[] = [];
    store.subscribe((ev) => seen.push(ev));
    const entries = Array.from({ length: 10 }, (_, i) => store.createEntries([newEntry({ selectors: sel(`y:${i}`) })]));
    const conflict = store.appendBundle({ trustDomain: td, x509Authorities: [], jwtAuthorities: [jwtKey('b', 2, NOW), jwtKey('a', 9, NOW)], refreshHint: 300 });
    const more = Array.from({ length: 10 }, (_, i) => store.createEntries([newEntry({ selectors: sel(`z:${i}`) })]));
    const agent = store.upsertAgent(newAgent());
    await t.throwsAsync(conflict, { code: 'ERR_BUNDLE_KID_CONFLICT' });
    const created = (await Promise.all([...entries, ...more])).map((r) => ok(t, r[0]!));
    await agent;
    t.deepEqual((await store.getBundle('example.org'))!.jwtAuthorities.map((k) => k.kid), ['a'], 'the failed write left no key behind');
    t.is((await store.listEntries()).length, 20);
    const logged = await store.changesSince(before);
    t.deepEqual(logged.map((e) => e.kind).sort(), [...Array(20).fill('entry_upsert'), 'agent_upsert'].sort());
    // Increasing, not gap-free: PostgreSQL sequences do not roll back with the failed attempt.
    for (let i = 1; i < logged.length; i++) t.true(logged[i]!.seq > logged[i - 1]!.seq);
    t.deepEqual(new Set(logged.filter((e) => e.kind === 'entry_upsert').map((e) => e.id)), new Set(created.map((e) => e.id)));
    await waitFor(() => seen.length >= 21);
    t.deepEqual(seen, logged);
  });
}
