import test from 'ava';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { BundleError } from '../../spiffe/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { jwtKey, makeRootCa } from '../helpers/pki.ts';

const td = TrustDomain.parse('example.org');

async function sample() {
  const ca = await makeRootCa();
  const k = jwtKey('ES256', 'kid-1');
  const r = jwtKey('RS256', 'kid-2');
  const bundle = new SpiffeBundle(td, { x509Authorities: [ca.certificate], jwtAuthorities: new Map([[k.kid, k.publicKey], [r.kid, r.publicKey]]), sequence: 7, refreshHint: 300 });
  return { ca, k, r, bundle };
}

test('encodes x509-svid keys with exactly one x5c certificate and no kid', async (t) => {
  const { ca, bundle } = await sample();
  const x = bundle.toJwks().keys.filter((k) => k.use === 'x509-svid');
  t.is(x.length, 1);
  t.deepEqual(x[0].x5c, [Buffer.from(ca.certificate).toString('base64')]);
  t.is(x[0].kid, undefined);
  t.is(x[0].kty, 'EC');
  t.truthy(x[0].x && x[0].y && x[0].crv);
});

test('encodes jwt-svid keys with kid and use, and the sequence and refresh hint', async (t) => {
  const { bundle } = await sample();
  const doc = bundle.toJwks();
  t.is(doc.spiffe_sequence, 7);
  t.is(doc.spiffe_refresh_hint, 300);
  const j = doc.keys.filter((k) => k.use === 'jwt-svid');
  t.deepEqual(j.map((k) => k.kid), ['kid-1', 'kid-2']);
  t.deepEqual(j.map((k) => k.kty), ['EC', 'RSA']);
  t.false(j.some((k) => 'd' in k));
});

test('round-trips through JSON', async (t) => {
  const { ca, k, r, bundle } = await sample();
  const back = SpiffeBundle.parseJwks(td, bundle.toJson());
  t.deepEqual(back.x509Authorities.map((a) => Buffer.from(a)), [Buffer.from(ca.certificate)]);
  t.true(back.jwtAuthorities.get('kid-1')!.equals(k.publicKey));
  t.true(back.jwtAuthorities.get('kid-2')!.equals(r.publicKey));
  t.is(back.sequence, 7);
  t.is(back.refreshHint, 300);
  t.is(back.jwtBundle().trustDomain, td);
  t.is(back.x509Bundle().authorities.length, 1);
});

test('ignores keys with unknown or missing use, and unknown kty', async (t) => {
  const { bundle } = await sample();
  const doc = bundle.toJwks();
  doc.keys.push({ kty: 'EC', use: 'wit-svid', kid: 'w', crv: 'P-256', x: 'AA', y: 'AA' });
  doc.keys.push({ kty: 'EC', kid: 'nouse', crv: 'P-256', x: 'AA', y: 'AA' });
  doc.keys.push({ kty: 'oct', use: 'jwt-svid', kid: 'sym', k: 'AAAA' });
  doc.keys.push({ kty: 'ML-DSA', use: 'x509-svid', x5c: ['AAAA'] });
  const back = SpiffeBundle.parseJwks(td, JSON.stringify(doc));
  t.is(back.x509Authorities.length, 1);
  t.deepEqual([...back.jwtAuthorities.keys()], ['kid-1', 'kid-2']);
});

test('ignores an x509-svid entry without x5c and uses only the first x5c value', async (t) => {
  const { ca, bundle } = await sample();
  const other = await makeRootCa();
  const doc = bundle.toJwks();
  doc.keys[0].x5c = [Buffer.from(ca.certificate).toString('base64'), Buffer.from(other.certificate).toString('base64')];
  doc.keys.push({ kty: 'EC', use: 'x509-svid' });
  doc.keys.push({ kty: 'EC', use: 'x509-svid', x5c: [] });
  const back = SpiffeBundle.parseJwks(td, JSON.stringify(doc));
  t.deepEqual(back.x509Authorities.map((a) => Buffer.from(a)), [Buffer.from(ca.certificate)]);
});

test('rejects a jwt-svid key without kid, a duplicate kid, and a private key', async (t) => {
  const { bundle } = await sample();
  const base = bundle.toJwks();
  const noKid = { ...base, keys: [...base.keys, { ...base.keys[1], kid: undefined }] };
  t.is(t.throws(() => SpiffeBundle.parseJwks(td, JSON.stringify(noKid)), { instanceOf: BundleError })!.code, 'ERR_BUNDLE_INVALID');
  const dup = { ...base, keys: [...base.keys, base.keys[1]] };
  t.throws(() => SpiffeBundle.parseJwks(td, JSON.stringify(dup)), { instanceOf: BundleError });
  const priv = { ...base, keys: [{ ...base.keys[1], kid: 'p', d: 'AAAA' }] };
  t.throws(() => SpiffeBundle.parseJwks(td, JSON.stringify(priv)), { instanceOf: BundleError });
});

test('rejects a document that is not a SPIFFE JWKS', (t) => {
  for (const bad of ['nope', '[]', '{}', '{"keys":{}}', '{"keys":[],"spiffe_sequence":-1}', '{"keys":[],"spiffe_refresh_hint":"5"}', '{"keys":[{"kty":"EC","use":"x509-svid","x5c":["!!"]}]}', '{"keys":[{"kty":"EC","use":"x509-svid","x5c":["AAAA"]}]}']) {
    t.throws(() => SpiffeBundle.parseJwks(td, bad), { instanceOf: BundleError }, bad);
  }
});

test('an empty keys array is a valid (revoked) bundle', (t) => {
  const b = SpiffeBundle.parseJwks(td, Buffer.from('{"keys":[]}'));
  t.is(b.x509Authorities.length, 0);
  t.is(b.jwtAuthorities.size, 0);
});

test('an X.509 bundle round-trips through concatenated DER', async (t) => {
  const a = await makeRootCa();
  const b = await makeRootCa();
  const x = new X509Bundle(td, [a.certificate, b.certificate]);
  const back = X509Bundle.parseDer(td, x.toDer());
  t.is(back.authorities.length, 2);
  t.true(back.hasAuthority(b.certificate));
  t.throws(() => X509Bundle.parseDer(td, Uint8Array.of(0x30, 0x05, 0)), { instanceOf: BundleError });
});
