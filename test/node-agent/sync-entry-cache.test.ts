import test from 'ava';
import { silentLogger } from '../../common/logger.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';

const e = (id: string, sel: string[], rev = 1, more: Partial<Entry__Output> = {}) => ({
  id, spiffe_id: `spiffe://example.org/${id}`, parent_id: 'spiffe://example.org/tessera/agent/x', revision: rev,
  selectors: sel.map((s) => { const p = parseSelector(s); return { type: p.type, value: p.value }; }),
  x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false, downstream: false, federates_with: [],
  expires_at: 0, agent: null, created_at: 1, ...more,
}) as Entry__Output;
const msg = (full: boolean, upserted: Entry__Output[], deleted: string[] = [], sequence = 1) => ({ full, upserted, deleted_ids: deleted, sequence, bundle: null });
const sels = (...s: string[]) => s.map(parseSelector);

test('an entry matches when all its selectors are among the caller\'s', (t) => {
  const c = new EntryCache(silentLogger);
  c.apply(msg(true, [e('a', ['unix:uid:1']), e('b', ['unix:uid:1', 'unix:gid:2']), e('c', ['unix:uid:1', 'unix:gid:3'])]));
  t.deepEqual(c.match(sels('unix:uid:1', 'unix:gid:2')).map((x) => x.id), ['a', 'b']);
  t.deepEqual(c.match(sels('unix:gid:2')).map((x) => x.id), []);
});

test('a full snapshot replaces the cache and reports what was removed', (t) => {
  const c = new EntryCache(silentLogger);
  c.apply(msg(true, [e('a', ['unix:uid:1']), e('b', ['unix:uid:1'])]));
  const change = c.apply(msg(true, [e('b', ['unix:uid:1']), e('c', ['unix:uid:1'])], [], 5));
  t.deepEqual(change.removed.map((x) => x.id), ['a']);
  t.deepEqual(change.upserted.map((x) => x.id), ['c'], 'unchanged b is not reported');
  t.is(c.sequence, 5);
  t.deepEqual(c.all().map((x) => x.id).sort(), ['b', 'c']);
});

test('incremental messages upsert and delete; a new revision replaces the entry and its index', (t) => {
  const c = new EntryCache(silentLogger);
  c.apply(msg(true, [e('a', ['unix:uid:1'])]));
  c.apply(msg(false, [e('a', ['unix:uid:2'], 2)]));
  t.deepEqual(c.match(sels('unix:uid:1')), []);
  t.is(c.match(sels('unix:uid:2'))[0]!.revision, 2);
  c.apply(msg(false, [], ['a']));
  t.is(c.size, 0);
});

test('entries with agent metadata are per-instance; expired entries never match', (t) => {
  const c = new EntryCache(silentLogger);
  c.apply(msg(true, [
    e('agentic', ['unix:uid:1'], 1, { agent: { agent_model: 'm', agent_provider: '', agent_version: '' } }),
    e('old', ['unix:uid:1'], 1, { expires_at: 1 }),
  ]));
  const m = c.match(sels('unix:uid:1'));
  t.deepEqual(m.map((x) => x.id), ['agentic']);
  t.true(m[0]!.perInstance);
  t.deepEqual(m[0]!.claims, { agent_model: 'm' });
});

test('an entry without selectors is ignored (it would match everyone)', (t) => {
  const c = new EntryCache(silentLogger);
  c.apply(msg(true, [e('none', [])]));
  t.is(c.size, 0);
});
