import test from 'ava';
import { SpiffeIdError } from '../../spiffe/errors.ts';
import { SpiffeId, TrustDomain, agentId, isSpiffeId, serverId } from '../../spiffe/id.ts';

const rejectsId = (t: import('ava').ExecutionContext, input: string) => {
  const err = t.throws(() => SpiffeId.parse(input), { instanceOf: SpiffeIdError });
  t.true(err!.code === 'ERR_SPIFFEID_INVALID' || err!.code === 'ERR_TRUST_DOMAIN_INVALID', err!.code);
};

test('parses a SPIFFE ID into trust domain and path', (t) => {
  const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/agent');
  t.is(id.trustDomain.name, 'example.org');
  t.is(id.path, '/ns/prod/sa/agent');
  t.is(id.toString(), 'spiffe://example.org/ns/prod/sa/agent');
  t.false(id.isTrustDomainId);
});

test('accepts a trust domain ID with no path', (t) => {
  const id = SpiffeId.parse('spiffe://example.org');
  t.true(id.isTrustDomainId);
  t.is(id.path, '');
});

test('requires the spiffe scheme', (t) => {
  rejectsId(t, 'https://example.org/x');
  rejectsId(t, 'spiffe:/example.org/x');
  rejectsId(t, 'example.org/x');
  rejectsId(t, '');
});

test('scheme and trust domain compare case-insensitively and are normalised to lowercase', (t) => {
  const id = SpiffeId.parse('SPIFFE://Example.ORG/Path');
  t.is(id.toString(), 'spiffe://example.org/Path');
  t.true(id.equals(SpiffeId.parse('spiffe://example.org/Path')));
});

test('the path is case-sensitive', (t) => {
  t.false(SpiffeId.parse('spiffe://example.org/a').equals(SpiffeId.parse('spiffe://example.org/A')));
});

test('rejects a query or a fragment', (t) => {
  rejectsId(t, 'spiffe://example.org/x?y=1');
  rejectsId(t, 'spiffe://example.org/x#frag');
  rejectsId(t, 'spiffe://example.org?y');
});

test('rejects userinfo and port in the authority', (t) => {
  rejectsId(t, 'spiffe://user@example.org/x');
  rejectsId(t, 'spiffe://example.org:8443/x');
  rejectsId(t, 'spiffe://example.org:/x');
});

test('rejects an empty trust domain', (t) => {
  rejectsId(t, 'spiffe:///x');
  rejectsId(t, 'spiffe://');
});

test('rejects trust domain characters outside [a-z0-9._-]', (t) => {
  for (const td of ['exa mple.org', 'exa+mple.org', 'ex*mple', '[::1]', 'exämple.org', '\u212Aelvin.org']) rejectsId(t, `spiffe://${td}/x`);
});

test('rejects percent-encoding in the trust domain and the path', (t) => {
  rejectsId(t, 'spiffe://ex%41mple.org/x');
  rejectsId(t, 'spiffe://example.org/a%2Fb');
});

test('accepts a dotted-quad trust domain like any other name (SPIFFE-ID 2.1)', (t) => {
  t.is(TrustDomain.parse('192.168.1.1').name, '192.168.1.1');
});

test('rejects empty path segments, dot segments and a trailing slash', (t) => {
  rejectsId(t, 'spiffe://example.org/');
  rejectsId(t, 'spiffe://example.org//x');
  rejectsId(t, 'spiffe://example.org/a//b');
  rejectsId(t, 'spiffe://example.org/a/./b');
  rejectsId(t, 'spiffe://example.org/a/../b');
  rejectsId(t, 'spiffe://example.org/a/');
});

test('path segments allow [a-zA-Z0-9._-] only', (t) => {
  t.notThrows(() => SpiffeId.parse('spiffe://example.org/A-z_0.9/...'));
  for (const seg of ['a b', 'a:b', 'a@b', 'é', 'a~b', 'a+b']) rejectsId(t, `spiffe://example.org/${seg}`);
});

test('supports IDs up to 2048 bytes and rejects longer ones', (t) => {
  const prefix = 'spiffe://example.org/';
  const ok = prefix + 'a'.repeat(2048 - prefix.length);
  t.is(SpiffeId.parse(ok).toString().length, 2048);
  rejectsId(t, ok + 'a');
});

test('supports trust domains up to 255 bytes and rejects longer ones', (t) => {
  t.is(TrustDomain.parse('a'.repeat(255)).name.length, 255);
  t.throws(() => TrustDomain.parse('a'.repeat(256)), { code: 'ERR_TRUST_DOMAIN_INVALID' } as never);
});

test('TrustDomain.parse accepts a name or a trust domain ID but not an ID with a path', (t) => {
  t.is(TrustDomain.parse('spiffe://Example.org').name, 'example.org');
  t.is(TrustDomain.parse('example.org').idString, 'spiffe://example.org');
  t.throws(() => TrustDomain.parse('spiffe://example.org/x'), { code: 'ERR_TRUST_DOMAIN_INVALID' } as never);
});

test('building an ID from segments validates each segment', (t) => {
  const td = TrustDomain.parse('example.org');
  t.is(td.id('a', 'b').toString(), 'spiffe://example.org/a/b');
  t.throws(() => td.id('a/b'), { instanceOf: SpiffeIdError });
  t.throws(() => td.id('..'), { instanceOf: SpiffeIdError });
  t.throws(() => td.id(''), { instanceOf: SpiffeIdError });
});

test('agent and server IDs follow the Tessera layout', (t) => {
  const td = TrustDomain.parse('example.org');
  t.is(agentId(td, 'join_token', 'abc').toString(), 'spiffe://example.org/tessera/agent/join_token/abc');
  t.is(serverId(td).toString(), 'spiffe://example.org/tessera/server');
  t.true(agentId(td, 'tpm', 'x').memberOf(td));
  t.false(isSpiffeId('spiffe://example.org/a/'));
  t.true(isSpiffeId('spiffe://example.org/a'));
});
