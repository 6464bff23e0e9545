import test from 'ava';
import { TrustDomain } from '../../spiffe/id.ts';
import { fromWireEntry, toWireAgent, toWireBundle, toWireEntry } from '../../server/entries/wire.ts';
import { newAgent, newEntry, sel, td } from './datastore-contract.ts';

test('an entry survives domain -> wire -> domain unchanged', (t) => {
  const e = {
    ...newEntry({
      selectors: sel('unix:uid:1', 'docker:label:a=b'), dnsNames: ['api.example.org'], hint: 'h', x509SvidTtl: 600,
      jwtSvidTtl: 60, admin: true, federatesWith: [TrustDomain.parse('partner.org')], expiresAt: 2_000_000_000,
      agent: { model: 'm', provider: 'p', version: 'v' },
    }),
    id: 'e1', revision: 3, createdAt: 1_700_000_000,
  };
  const w = toWireEntry(e);
  t.like(w, { id: 'e1', spiffe_id: 'spiffe://example.org/workload/api', revision: 3, created_at: 1_700_000_000,
    federates_with: ['partner.org'], agent: { agent_model: 'm', agent_provider: 'p', agent_version: 'v' } });
  const back = fromWireEntry(w, { trustDomain: td, now: 1_800_000_000 });
  t.is(back.spiffeId.toString(), e.spiffeId.toString());
  t.is(back.parentId.toString(), e.parentId.toString());
  t.deepEqual(back.selectors, e.selectors);
  t.deepEqual(back.agent, e.agent);
  t.like(back, { dnsNames: e.dnsNames, hint: 'h', x509SvidTtl: 600, jwtSvidTtl: 60, admin: true, expiresAt: 2_000_000_000, id: 'e1' });
});

test('an entry without agent metadata has a null agent on the wire', (t) => {
  t.is(toWireEntry({ ...newEntry(), id: 'e', revision: 1, createdAt: 1 }).agent, null);
});

test('agents and bundles convert to the wire shapes', (t) => {
  const a = toWireAgent(newAgent({ banned: true, serial: 'abcd' }));
  t.like(a, { spiffe_id: 'spiffe://example.org/tessera/agent/join_token/a1', attestation_type: 'join_token',
    x509_svid_serial: 'abcd', banned: true, selectors: [{ type: 'join_token', value: 'a1' }] });
  const b = toWireBundle({ trustDomain: td, x509Authorities: [new Uint8Array([1, 2])],
    jwtAuthorities: [{ kid: 'k', publicKey: new Uint8Array([3]), expiresAt: 9 }], sequence: 4, refreshHint: 300 });
  t.is(b.trust_domain, 'example.org');
  t.deepEqual([...b.x509_authorities[0]], [1, 2]);
  t.like(b.jwt_authorities[0], { key_id: 'k', expires_at: 9 });
  t.true(Buffer.isBuffer(b.jwt_authorities[0].public_key));
  t.like(b, { sequence: 4, refresh_hint: 300 });
});
