import test from 'ava';
import type { Entry } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { TesseraError } from '../../common/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { validateEntryUpdate, validateNewEntry } from '../../server/entries/validate.ts';

const td = TrustDomain.parse('example.org');
const NOW = 1_767_225_600; // 2026-01-01
const ctx = { trustDomain: td, now: NOW };

function wire(over: Partial<Entry> = {}): Entry {
  return {
    spiffe_id: 'spiffe://example.org/workload/api',
    parent_id: 'spiffe://example.org/tessera/agent/join_token/a1',
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    ...over,
  };
}

/** Asserts InvalidArgument with this code, a message naming `field`, and (when given) the offending value. */
function rejects(t: import('ava').ExecutionContext, over: Partial<Entry>, code: string, field: string, value?: string) {
  const err = t.throws(() => validateNewEntry(wire(over), ctx)) as TesseraError;
  t.true(err instanceof TesseraError);
  t.is(err.kind, 'invalid_argument');
  t.is(err.code, code);
  t.true(err.message.startsWith(field), `message "${err.message}" should start with ${field}`);
  if (value !== undefined) t.true(err.message.includes(value), `message "${err.message}" should name ${value}`);
}

test('a well-formed wire entry becomes a NewEntry with parsed IDs and defaults', (t) => {
  const e = validateNewEntry(wire({
    dns_names: ['API.example.org', '*.svc.example.org', 'api.example.org'], hint: 'api', x509_svid_ttl: 3600, jwt_svid_ttl: 300,
    federates_with: ['spiffe://partner.org', 'partner.org', 'other.org'], expires_at: NOW + 10, admin: true,
    agent: { agent_model: 'gpt-x', agent_provider: '', agent_version: '2' },
  }), ctx);
  t.is(e.spiffeId.toString(), 'spiffe://example.org/workload/api');
  t.is(e.parentId.toString(), 'spiffe://example.org/tessera/agent/join_token/a1');
  t.deepEqual(e.selectors.map(formatSelector), ['unix:uid:1000']);
  t.deepEqual(e.dnsNames, ['api.example.org', '*.svc.example.org'], 'lowercased and de-duplicated');
  t.deepEqual(e.federatesWith.map((x) => x.name), ['partner.org', 'other.org']);
  t.deepEqual(e.agent, { model: 'gpt-x', version: '2' });
  t.like(e, { x509SvidTtl: 3600, jwtSvidTtl: 300, expiresAt: NOW + 10, admin: true, downstream: false, hint: 'api' });
  t.is(e.id, undefined);
});

test('node-alias entries (parent = the server ID) and nested entries (parent = a workload ID) are accepted', (t) => {
  t.is(validateNewEntry(wire({ parent_id: 'spiffe://example.org/tessera/server' }), ctx).parentId.toString(), 'spiffe://example.org/tessera/server');
  t.is(validateNewEntry(wire({ parent_id: 'spiffe://example.org/orchestrator' }), ctx).parentId.toString(), 'spiffe://example.org/orchestrator');
});

test('rejects a malformed spiffe_id, naming the field and value', (t) => {
  rejects(t, { spiffe_id: 'spiffe://example.org/a//b' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'spiffe://example.org/a//b');
  rejects(t, { spiffe_id: 'http://example.org/x' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'http://example.org/x');
  rejects(t, { spiffe_id: '' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id');
});

test('rejects a spiffe_id or parent_id from a foreign trust domain', (t) => {
  rejects(t, { spiffe_id: 'spiffe://evil.org/x' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'evil.org');
  rejects(t, { parent_id: 'spiffe://evil.org/tessera/agent/join_token/a1' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'evil.org');
});

test('rejects a spiffe_id that is the trust domain ID or in the reserved /tessera/ namespace', (t) => {
  rejects(t, { spiffe_id: 'spiffe://example.org' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'spiffe://example.org');
  rejects(t, { spiffe_id: 'spiffe://example.org/tessera/agent/join_token/x' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'reserved');
  rejects(t, { spiffe_id: 'spiffe://example.org/tessera' }, 'ERR_ENTRY_SPIFFE_ID', 'spiffe_id', 'reserved');
  t.notThrows(() => validateNewEntry(wire({ spiffe_id: 'spiffe://example.org/tesseract/x' }), ctx), 'only the exact /tessera segment is reserved');
});

test('rejects a parent that is the trust domain ID, malformed, or an unknown /tessera/ form', (t) => {
  rejects(t, { parent_id: 'spiffe://example.org' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'trust domain ID');
  rejects(t, { parent_id: 'not-an-id' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'not-an-id');
  rejects(t, { parent_id: 'spiffe://example.org/tessera/agent/join_token' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'unknown parent form');
  rejects(t, { parent_id: 'spiffe://example.org/tessera/other' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'unknown parent form');
  rejects(t, { parent_id: 'spiffe://example.org/workload/api' }, 'ERR_ENTRY_PARENT_ID', 'parent_id', 'own parent');
});

test('rejects an entry without selectors or with a malformed selector', (t) => {
  rejects(t, { selectors: [] }, 'ERR_ENTRY_SELECTORS', 'selectors');
  rejects(t, { selectors: [{ type: 'unix', value: 'uid:1' }, { type: 'Bad Type', value: 'x' }] }, 'ERR_ENTRY_SELECTORS', 'selectors[1]', 'Bad Type:x');
  rejects(t, { selectors: [{ type: 'unix', value: '' }] }, 'ERR_ENTRY_SELECTORS', 'selectors[0]');
  rejects(t, { selectors: [{ type: 'unix', value: 'uid:1\n' }] }, 'ERR_ENTRY_SELECTORS', 'selectors[0]', 'control');
});

test('TTLs are 0 (server default) or within range: x509 60s..30d, jwt 30s..24h', (t) => {
  for (const ok of [0, 60, 2_592_000]) t.notThrows(() => validateNewEntry(wire({ x509_svid_ttl: ok }), ctx));
  for (const ok of [0, 30, 86_400]) t.notThrows(() => validateNewEntry(wire({ jwt_svid_ttl: ok }), ctx));
  rejects(t, { x509_svid_ttl: 59 }, 'ERR_ENTRY_X509_SVID_TTL', 'x509_svid_ttl', '59');
  rejects(t, { x509_svid_ttl: 2_592_001 }, 'ERR_ENTRY_X509_SVID_TTL', 'x509_svid_ttl', '2592001');
  rejects(t, { x509_svid_ttl: -1 }, 'ERR_ENTRY_X509_SVID_TTL', 'x509_svid_ttl', '-1');
  rejects(t, { jwt_svid_ttl: 29 }, 'ERR_ENTRY_JWT_SVID_TTL', 'jwt_svid_ttl', '29');
  rejects(t, { jwt_svid_ttl: 86_401 }, 'ERR_ENTRY_JWT_SVID_TTL', 'jwt_svid_ttl', '86401');
});

test('rejects a bad DNS name, naming its position and value', (t) => {
  rejects(t, { dns_names: ['ok.example.org', 'bad_name.example.org'] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[1]', 'bad_name.example.org');
  rejects(t, { dns_names: ['-lead.example.org'] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[0]');
  rejects(t, { dns_names: ['a.*.example.org'] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[0]');
  rejects(t, { dns_names: ['10.0.0.1'] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[0]');
  rejects(t, { dns_names: [''] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[0]');
  rejects(t, { dns_names: ['x'.repeat(64) + '.org'] }, 'ERR_ENTRY_DNS_NAMES', 'dns_names[0]');
});

test('rejects a hint over 256 characters or with control characters', (t) => {
  t.notThrows(() => validateNewEntry(wire({ hint: 'h'.repeat(256) }), ctx));
  rejects(t, { hint: 'h'.repeat(257) }, 'ERR_ENTRY_HINT', 'hint', '257');
  rejects(t, { hint: 'a\u001bb' }, 'ERR_ENTRY_HINT', 'hint', 'control');
});

test('rejects a bad federates_with trust domain, or the server\'s own', (t) => {
  rejects(t, { federates_with: ['Bad Domain!'] }, 'ERR_ENTRY_FEDERATES_WITH', 'federates_with[0]', 'Bad Domain!');
  rejects(t, { federates_with: ['ok.org', 'spiffe://x.org/path'] }, 'ERR_ENTRY_FEDERATES_WITH', 'federates_with[1]', 'spiffe://x.org/path');
  rejects(t, { federates_with: ['example.org'] }, 'ERR_ENTRY_FEDERATES_WITH', 'federates_with[0]', 'own trust domain');
});

test('rejects expires_at in the past or now; 0 means never', (t) => {
  t.is(validateNewEntry(wire({ expires_at: 0 }), ctx).expiresAt, 0);
  rejects(t, { expires_at: NOW }, 'ERR_ENTRY_EXPIRES_AT', 'expires_at', String(NOW));
  rejects(t, { expires_at: NOW - 1 }, 'ERR_ENTRY_EXPIRES_AT', 'expires_at', 'in the past');
  rejects(t, { expires_at: -5 }, 'ERR_ENTRY_EXPIRES_AT', 'expires_at');
});

test('rejects agent metadata longer than 256 characters or with control characters', (t) => {
  t.notThrows(() => validateNewEntry(wire({ agent: { agent_model: 'm'.repeat(256) } }), ctx));
  rejects(t, { agent: { agent_model: 'm'.repeat(257) } }, 'ERR_ENTRY_AGENT_METADATA', 'agent.agent_model', '257');
  rejects(t, { agent: { agent_provider: 'acme\u0000' } }, 'ERR_ENTRY_AGENT_METADATA', 'agent.agent_provider', 'control');
  rejects(t, { agent: { agent_version: '1\u0085' } }, 'ERR_ENTRY_AGENT_METADATA', 'agent.agent_version', 'control');
});

test('a caller-chosen id must be 1-128 characters of [A-Za-z0-9._-]', (t) => {
  t.is(validateNewEntry(wire({ id: 'my-entry.1' }), ctx).id, 'my-entry.1');
  rejects(t, { id: 'has space' }, 'ERR_ENTRY_ID', 'id', 'has space');
  rejects(t, { id: 'x'.repeat(129) }, 'ERR_ENTRY_ID', 'id');
});

test('an update needs an id; a non-zero revision becomes expectRevision', (t) => {
  t.throws(() => validateEntryUpdate(wire(), ctx), { code: 'ERR_ENTRY_ID' });
  const u = validateEntryUpdate(wire({ id: 'e1', revision: 4 }), ctx);
  t.is(u.id, 'e1');
  t.is(u.expectRevision, 4);
  t.is(validateEntryUpdate(wire({ id: 'e1', revision: 0 }), ctx).expectRevision, undefined, 'revision 0 = unconditional');
  t.throws(() => validateEntryUpdate(wire({ id: 'e1', revision: -1 }), ctx), { code: 'ERR_ENTRY_REVISION' });
});
