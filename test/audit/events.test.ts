import test from 'ava';
import { AUDIT_SCHEMA_VERSION, canonicalJson, decodeEvent, encodeEvent, eventFromAuditRecord, leafOf, type AuditEvent } from '../../server/audit/events.ts';
import { leafHash, leafHashOfPrefixed } from '../../server/audit/merkle.ts';

/**
 * Leaf bytes are canonical JSON (docs/audit.md "Events"): anyone re-encoding a decoded
 * event must get the same bytes, so these rules are the format, not an implementation detail.
 */

test('keys are sorted by UTF-16 code units, as RFC 8785 sorts them', (t) => {
  // RFC 8785 §3.2.3's example: U+1F600 (surrogates D83D DE00) sorts before U+FB33 and U+FF61.
  const o = { '\u20ac': 1, '\r': 2, '\ufb33': 3, '1': 4, '\ud83d\ude00': 5, '\u0080': 6, '\u00f6': 7, 'a': 8 };
  t.is(canonicalJson(o), '{"\\r":2,"1":4,"a":8,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}');
});

test('keys that look like array indices sort as text, not by number', (t) => {
  t.is(canonicalJson({ 9: 'nine', 10: 'ten', b: true, '': 0 }), '{"":0,"10":"ten","9":"nine","b":true}');
});

test('strings are escaped as JSON.stringify escapes them, lone surrogates included', (t) => {
  for (const s of ['plain', 'quote " and \\ backslash', 'tab\tnewline\n\u0000\u001f', '\u2028\u2029 stay raw', 'lone \ud800 high', 'lone \udc00 low', '\ud83d\ude00 pair', '']) {
    t.is(canonicalJson(s), JSON.stringify(s), s);
    t.is(canonicalJson({ [s]: s }), `{${JSON.stringify(s)}:${JSON.stringify(s)}}`);
  }
});

test('undefined members are left out, undefined array items become null, no insignificant whitespace', (t) => {
  t.is(canonicalJson({ b: [1, undefined, null, 'x'], a: undefined, c: { z: false, y: -0, x: 1.5e-7 } }), '{"b":[1,null,null,"x"],"c":{"x":1.5e-7,"y":0,"z":false}}');
});

test('bigints become decimal strings and bytes base64; an own "__proto__" member is kept', (t) => {
  const proto = JSON.parse('{"__proto__":{"k":1},"a":2}') as Record<string, unknown>;
  t.is(canonicalJson({ n: 12345678901234567890n, b: new Uint8Array([0xfb, 0xff]).subarray(1), p: proto }), '{"b":"/w==","n":"12345678901234567890","p":{"__proto__":{"k":1},"a":2}}');
});

test('refuses what JSON cannot hold: non-finite numbers, functions, symbols', (t) => {
  for (const v of [Number.NaN, Infinity, -Infinity, () => 1, Symbol('s')]) t.throws(() => canonicalJson({ v }), { instanceOf: TypeError });
});

const event: AuditEvent = {
  type: 'x509svid.issued', time: Date.UTC(2026, 0, 1, 12, 0, 0, 7), actor: 'spiffe://example.org/tessera/agent/join_token/n1',
  instance: 'inst_abc', resource: 'spiffe://example.org/w', action: 'issue', decision: 'allow', reason: '',
  detail: { serial: 'ab12', ttl: 3600, claims: { agent_model: 'm', agent_instance_id: 'inst_abc' } },
};

test('an event encodes with its schema version and RFC 3339 time; empty fields are left out', (t) => {
  t.is(Buffer.from(encodeEvent(event)).toString('utf8'),
    '{"action":"issue","actor":"spiffe://example.org/tessera/agent/join_token/n1","decision":"allow","detail":{"claims":{"agent_instance_id":"inst_abc","agent_model":"m"},'
    + '"serial":"ab12","ttl":3600},"instance":"inst_abc","resource":"spiffe://example.org/w","time":"2026-01-01T12:00:00.007Z","type":"x509svid.issued","v":2}');
});

test('re-encoding a decoded leaf gives the same bytes', (t) => {
  const bytes = encodeEvent(event);
  const { v, ...decoded } = decodeEvent(bytes);
  t.is(v, AUDIT_SCHEMA_VERSION);
  t.deepEqual(Buffer.from(encodeEvent(decoded)), Buffer.from(bytes));
});

test('leafOf: the bytes are the encoded event and the hash is its RFC 9162 leaf hash', (t) => {
  const leaf = leafOf(event);
  t.deepEqual(Buffer.from(leaf.data), Buffer.from(encodeEvent(event)));
  t.deepEqual(Buffer.from(leaf.leafHash), leafHash(encodeEvent(event)));
  t.like(leaf, { type: event.type, time: event.time, actor: event.actor, instance: 'inst_abc', subject: undefined });
});

test('leafHashOfPrefixed refuses bytes without the 0x00 leaf prefix', (t) => {
  t.deepEqual(leafHashOfPrefixed(Buffer.from([0, 0x61])), leafHash(Buffer.from('a')));
  t.throws(() => leafHashOfPrefixed(Buffer.from('a')), { instanceOf: TypeError });
});

test('an admin change names its caller as the actor, over the agent or actor the record is about', (t) => {
  const admin = { admin_uid: 1000, admin_gid: 1000, admin_pid: 4321 };
  const ban = eventFromAuditRecord({ time: 1, event: 'agent.banned', subject: 'spiffe://example.org/a', data: admin });
  t.like(ban, { actor: 'admin:uid:1000', resource: 'spiffe://example.org/a', detail: admin });
  const revoke = eventFromAuditRecord({ time: 1, event: 'delegation.revoked', subject: 'actor:spiffe://example.org/x', data: { who: 'admin', actor: 'spiffe://example.org/x', ...admin } });
  t.is(revoke.actor, 'admin:uid:1000');
  t.is(revoke.detail?.actor, 'spiffe://example.org/x');
  // Without a caller (not an admin change), the agent acted on itself as before.
  t.is(eventFromAuditRecord({ time: 1, event: 'agent.renewed', subject: 'spiffe://example.org/a', data: {} }).actor, 'spiffe://example.org/a');
});
