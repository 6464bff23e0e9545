import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { agentId, serverId, type SpiffeId } from '../../spiffe/id.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { Datastore, NewEntry, RegistrationEntry } from '../../server/datastore/types.ts';
import { AuthorizedEntryIndex, type AuthorizedChange } from '../../server/entries/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { newAgent, newEntry, ok, sel, td } from './datastore-contract.ts';

const A = agentId(td, 'join_token', 'a');
const B = agentId(td, 'join_token', 'b');
const SERVER = serverId(td);

async function setup(t: ExecutionContext, wrap?: (s: Datastore) => Datastore) {
  const clock = new FakeClock();
  const store = SqliteDatastore.open({ path: join(tempDir(t), 'ds.sqlite3'), clock });
  t.teardown(() => store.close());
  const add = async (e: Partial<NewEntry>): Promise<RegistrationEntry> => ok(t, (await store.createEntries([newEntry(e)]))[0]);
  const agent = (id: SpiffeId, selectors: string[], banned = false) =>
    store.upsertAgent(newAgent({ spiffeId: id, selectors: sel(...selectors), banned }));
  const load = async () => {
    const index = await AuthorizedEntryIndex.load(wrap ? wrap(store) : store, { trustDomain: td, clock, logger: silentLogger });
    t.teardown(() => index.close());
    return index;
  };
  return { clock, store, add, agent, load };
}

const idsOf = (list: readonly RegistrationEntry[]) => list.map((e) => e.spiffeId.toString()).sort();
const nowSec = (c: FakeClock) => Math.floor(c.now() / 1000);

test('an agent is authorized for entries parented by its own ID and not for other agents\' entries', async (t) => {
  const { add, agent, load } = await setup(t);
  await agent(A, ['host:a']);
  await agent(B, ['host:b']);
  const ea = await add({ spiffeId: td.id('wa'), parentId: A });
  await add({ spiffeId: td.id('wb'), parentId: B });
  const index = await load();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/wa']);
  t.is(index.isAuthorized(A.toString(), ea.id)?.id, ea.id);
  t.is(index.isAuthorized(B.toString(), ea.id), undefined);
});

test('an agent belongs to a node alias when the alias selectors are a subset of its attested selectors', async (t) => {
  const { add, agent, load } = await setup(t);
  await agent(A, ['region:eu', 'tier:gpu', 'host:a']);
  await agent(B, ['region:eu', 'host:b']);
  await add({ spiffeId: td.id('pool', 'eu-gpu'), parentId: SERVER, selectors: sel('region:eu', 'tier:gpu') });
  await add({ spiffeId: td.id('trainer'), parentId: td.id('pool', 'eu-gpu') });
  const index = await load();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/trainer'],
    'the alias entry itself is not handed out, the entries under it are');
  t.deepEqual(index.authorizedEntries(B.toString()), [], 'B lacks tier:gpu');
});

test('entries parented by an authorized entry\'s SPIFFE ID are authorized recursively, and a cycle terminates', async (t) => {
  const { add, agent, load } = await setup(t);
  await agent(A, ['host:a']);
  await add({ spiffeId: td.id('l1'), parentId: A });
  await add({ spiffeId: td.id('l2'), parentId: td.id('l1') });
  await add({ spiffeId: td.id('l3'), parentId: td.id('l2') });
  await add({ spiffeId: td.id('l1'), parentId: td.id('l3'), selectors: sel('x:cycle') });
  await add({ spiffeId: td.id('orphan'), parentId: td.id('elsewhere') });
  const index = await load();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())),
    ['spiffe://example.org/l1', 'spiffe://example.org/l1', 'spiffe://example.org/l2', 'spiffe://example.org/l3']);
});

test('expired entries, and the entries under them, are not authorized; expiry later is noticed without a write', async (t) => {
  const { add, agent, load, clock } = await setup(t);
  await agent(A, ['host:a']);
  const soon = await add({ spiffeId: td.id('soon'), parentId: A, expiresAt: nowSec(clock) + 60 });
  const child = await add({ spiffeId: td.id('child'), parentId: td.id('soon') });
  await add({ spiffeId: td.id('stays'), parentId: A });
  const index = await load();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/child', 'spiffe://example.org/soon', 'spiffe://example.org/stays']);
  const changes: AuthorizedChange[] = [];
  index.watch(A.toString(), (c) => changes.push(c));
  clock.advance(60_000);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/stays']);
  t.is(changes.length, 1, 'the expiry timer told the watcher');
  t.deepEqual(changes[0].deletedIds.sort(), [soon.id, child.id].sort());
});

test('a banned, deleted or unknown agent gets nothing; lifting the ban restores its entries', async (t) => {
  const { add, agent, load, store } = await setup(t);
  await agent(A, ['host:a']);
  await add({ spiffeId: td.id('wa'), parentId: A });
  const index = await load();
  t.is(index.authorizedEntries(A.toString()).length, 1);
  t.deepEqual(index.authorizedEntries(agentId(td, 'join_token', 'nobody').toString()), []);
  await store.setAgentBanned(A.toString(), true);
  await index.settled();
  t.deepEqual(index.authorizedEntries(A.toString()), []);
  t.true(index.getAgent(A.toString())!.banned);
  await store.setAgentBanned(A.toString(), false);
  await index.settled();
  t.is(index.authorizedEntries(A.toString()).length, 1);
  await store.deleteAgent(A.toString());
  await index.settled();
  t.deepEqual(index.authorizedEntries(A.toString()), []);
});

test('answers come from memory: after load, queries never touch the datastore', async (t) => {
  let calls = 0;
  const counting = (s: Datastore): Datastore => new Proxy(s, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => { if (prop !== 'subscribe') calls++; return (v as (...a: unknown[]) => unknown).apply(target, args); };
    },
  });
  const { add, agent, load } = await setup(t, counting);
  await agent(A, ['host:a']);
  for (let i = 0; i < 20; i++) await add({ spiffeId: td.id(`w${i}`), parentId: A });
  const index = await load();
  const afterLoad = calls;
  for (let i = 0; i < 1000; i++) {
    index.authorizedEntries(A.toString());
    index.isAuthorized(A.toString(), 'x');
    index.authorizedEntries(B.toString());
  }
  t.is(calls, afterLoad);
});

test('a write re-reads only the changed entry: one getEntry per change, no listing', async (t) => {
  const counts: Record<string, number> = {};
  const counting = (s: Datastore): Datastore => new Proxy(s, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => { counts[String(prop)] = (counts[String(prop)] ?? 0) + 1; return (v as (...a: unknown[]) => unknown).apply(target, args); };
    },
  });
  const { add, agent, load } = await setup(t, counting);
  await agent(A, ['host:a']);
  const index = await load();
  t.is(counts.listEntries, 1);
  await add({ spiffeId: td.id('new'), parentId: A });
  await index.settled();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/new']);
  t.is(counts.listEntries, 1);
  t.is(counts.getEntry, 1);
});

test('watchers hear only about their own agent: upserts, revision bumps and deletions', async (t) => {
  const { add, agent, load, store } = await setup(t);
  await agent(A, ['host:a']);
  await agent(B, ['host:b']);
  const index = await load();
  const forA: AuthorizedChange[] = [];
  const forB: AuthorizedChange[] = [];
  index.watch(A.toString(), (c) => forA.push(c));
  index.watch(B.toString(), (c) => forB.push(c));
  const e = await add({ spiffeId: td.id('wa'), parentId: A });
  await index.settled();
  t.is(forA.length, 1);
  t.deepEqual(forA[0].upserted.map((x) => x.id), [e.id]);
  t.deepEqual(forA[0].deletedIds, []);
  t.true(forA[0].sequence >= 1);
  await store.updateEntries([{ ...e, hint: 'v2' }]);
  await index.settled();
  t.is(forA.length, 2);
  t.is(forA[1].upserted[0].revision, 2);
  await store.updateEntries([{ ...e, parentId: B }]);
  await index.settled();
  t.deepEqual(forA[2].deletedIds, [e.id], 'moving an entry to another parent removes it from A');
  t.deepEqual(forB[0].upserted.map((x) => x.id), [e.id], '... and gives it to B');
  await store.deleteEntries([e.id]);
  await index.settled();
  t.deepEqual(forB[1].deletedIds, [e.id]);
  t.is(forA.length, 3);
});

test('a new node alias, and an agent\'s new selectors, change alias membership and notify the watcher', async (t) => {
  const { add, agent, load, store } = await setup(t);
  await agent(A, ['host:a', 'region:eu']);
  await add({ spiffeId: td.id('svc'), parentId: td.id('eu') });
  const index = await load();
  const changes: AuthorizedChange[] = [];
  index.watch(A.toString(), (c) => changes.push(c));
  t.deepEqual(index.authorizedEntries(A.toString()), []);
  const alias = await add({ spiffeId: td.id('eu'), parentId: SERVER, selectors: sel('region:eu') });
  await index.settled();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/svc']);
  t.is(changes.length, 1);
  await store.upsertAgent(newAgent({ spiffeId: A, selectors: sel('host:a', 'region:us') }));
  await index.settled();
  t.deepEqual(index.authorizedEntries(A.toString()), [], 're-attested outside the alias');
  t.is(changes.length, 2);
  await store.upsertAgent(newAgent({ spiffeId: A, selectors: sel('host:a', 'region:eu') }));
  await index.settled();
  t.is(index.authorizedEntries(A.toString()).length, 1);
  await store.deleteEntries([alias.id]);
  await index.settled();
  t.deepEqual(index.authorizedEntries(A.toString()), [], 'deleting the alias removes the entries under it');
  t.is(changes.length, 4);
});

test('an agent renewal (new serial only) does not disturb watchers', async (t) => {
  const { add, agent, load, store } = await setup(t);
  await agent(A, ['host:a']);
  await add({ spiffeId: td.id('wa'), parentId: A });
  const index = await load();
  let calls = 0;
  index.watch(A.toString(), () => calls++);
  await store.upsertAgent(newAgent({ spiffeId: A, selectors: sel('host:a'), serial: 'ff' }));
  await index.settled();
  t.is(index.getAgent(A.toString())!.serial, 'ff');
  t.is(calls, 0);
});

test('writes that land while the index is loading are applied, not lost', async (t) => {
  let sneak: (() => Promise<void>) | undefined;
  const racing = (s: Datastore): Datastore => new Proxy(s, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop !== 'listEntries') return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const res = await (v as (...a: unknown[]) => Promise<RegistrationEntry[]>).apply(target, args);
        await sneak?.(); // a write commits after the snapshot was read
        return res;
      };
    },
  });
  const { add, agent, load } = await setup(t, racing);
  await agent(A, ['host:a']);
  await add({ spiffeId: td.id('before'), parentId: A });
  sneak = async () => { sneak = undefined; await add({ spiffeId: td.id('during'), parentId: A }); };
  const index = await load();
  await index.settled();
  t.deepEqual(idsOf(index.authorizedEntries(A.toString())), ['spiffe://example.org/before', 'spiffe://example.org/during']);
});

test('a throwing watcher does not stop other watchers', async (t) => {
  const { add, agent, load } = await setup(t);
  await agent(A, ['host:a']);
  const index = await load();
  let good = 0;
  index.watch(A.toString(), () => { throw new Error('boom'); });
  index.watch(A.toString(), () => good++);
  await add({ spiffeId: td.id('wa'), parentId: A });
  await index.settled();
  t.is(good, 1);
});

test('unwatch stops notifications; close stops following the store', async (t) => {
  const { add, agent, load } = await setup(t);
  await agent(A, ['host:a']);
  const index = await load();
  let calls = 0;
  const off = index.watch(A.toString(), () => calls++);
  await add({ spiffeId: td.id('w1'), parentId: A });
  await index.settled();
  off();
  await add({ spiffeId: td.id('w2'), parentId: A });
  await index.settled();
  t.is(calls, 1);
  index.close();
  await add({ spiffeId: td.id('w3'), parentId: A });
  t.is(index.authorizedEntries(A.toString()).length, 2);
});
