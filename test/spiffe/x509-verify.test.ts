import test from 'ava';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { concatDer } from '../../spiffe/der.ts';
import { X509SvidError } from '../../spiffe/errors.ts';
import { TrustDomain } from '../../spiffe/id.ts';
import { parseX509Svid, spiffeIdFromCertificate } from '../../spiffe/x509svid/parse.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import { bundleSetOf, keyPair, makeCustomCertificate, makeIntermediateCa, makeRootCa, makeSvid, x509, type TestCa } from '../helpers/pki.ts';

const KU = x509.KeyUsageFlags;
const LEAF_KU = KU.digitalSignature | KU.keyEncipherment;
const SERVER_CLIENT = ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];

function rejects(t: import('ava').ExecutionContext, f: () => unknown, code: string, reason: string): void {
  const err = t.throws(f, { instanceOf: X509SvidError }) as X509SvidError;
  t.is(err.code as string, code, err.message);
  t.is(err.reason as string, reason, err.message);
}

/** A leaf outside the template: every property chosen by the test. */
async function customLeaf(ca: TestCa, o: Partial<Parameters<typeof makeCustomCertificate>[0]>) {
  return makeCustomCertificate({
    issuer: { certificate: ca.certificate, privateKey: ca.privateKey },
    uris: ['spiffe://example.org/workload'], ca: false, keyUsage: LEAF_KU, extKeyUsage: SERVER_CLIENT, ...o,
  });
}

test('verifies a root-signed leaf against the bundle of its own trust domain', async (t) => {
  const ca = await makeRootCa();
  const svid = makeSvid(ca, 'spiffe://example.org/w', { claims: { agent_model: 'm1' } });
  const r = verifyX509Svid(svid.certificates, bundleSetOf([ca]));
  t.is(r.id.toString(), 'spiffe://example.org/w');
  t.deepEqual(r.claims, { agent_model: 'm1' });
  t.deepEqual(r.verifiedChain, [svid.leaf, ca.certificate]);
});

test('verifies an intermediate-signed leaf when the chain carries the intermediate', async (t) => {
  const root = await makeRootCa();
  const inter = await makeIntermediateCa(root);
  const svid = makeSvid(inter, 'spiffe://example.org/w');
  t.deepEqual(verifyX509Svid(svid.certificates, bundleSetOf([root])).verifiedChain, [svid.leaf, inter.certificate, root.certificate]);
  rejects(t, () => verifyX509Svid([svid.leaf], bundleSetOf([root])), 'ERR_X509SVID_UNTRUSTED', 'unauthorized_chain');
});

test('picks the right authority among several (CA rotation)', async (t) => {
  const old = await makeRootCa();
  const next = await makeRootCa();
  const svid = makeSvid(next, 'spiffe://example.org/w');
  t.notThrows(() => verifyX509Svid(svid.certificates, bundleSetOf([old, next])));
});

test('rejects a leaf signed by another trust domain even when that bundle is present (no merged pool)', async (t) => {
  const mine = await makeRootCa('example.org');
  const theirs = await makeRootCa('other.org');
  // The other trust domain's CA issues an ID in example.org.
  const forged = makeSvid(theirs, 'spiffe://example.org/w');
  rejects(t, () => verifyX509Svid(forged.certificates, bundleSetOf([mine, theirs])), 'ERR_X509SVID_UNTRUSTED', 'unauthorized_chain');
  // And its own ID validates only against its own bundle.
  const legit = makeSvid(theirs, 'spiffe://other.org/w');
  t.is(verifyX509Svid(legit.certificates, bundleSetOf([mine, theirs])).id.trustDomain.name, 'other.org');
});

test('rejects when there is no bundle for the leaf trust domain', async (t) => {
  const ca = await makeRootCa('other.org');
  const svid = makeSvid(ca, 'spiffe://other.org/w');
  const onlyExampleOrg = bundleSetOf([await makeRootCa('example.org')]);
  rejects(t, () => verifyX509Svid(svid.certificates, onlyExampleOrg), 'ERR_BUNDLE_NOT_FOUND', 'bundle_not_found');
});

test('rejects a source that answers with another trust domain bundle', async (t) => {
  const ca = await makeRootCa('example.org');
  const svid = makeSvid(ca, 'spiffe://example.org/w');
  const lying = { getX509BundleForTrustDomain: () => new X509Bundle(TrustDomain.parse('other.org'), [ca.certificate]) };
  rejects(t, () => verifyX509Svid(svid.certificates, lying), 'ERR_BUNDLE_NOT_FOUND', 'bundle_not_found');
});

test('rejects an unauthorized chain (self-signed leaf, unrelated CA)', async (t) => {
  const ca = await makeRootCa();
  const stranger = await makeRootCa();
  const svid = makeSvid(stranger, 'spiffe://example.org/w');
  rejects(t, () => verifyX509Svid(svid.certificates, bundleSetOf([ca])), 'ERR_X509SVID_UNTRUSTED', 'unauthorized_chain');
  const self = await makeCustomCertificate({ issuer: 'self', uris: ['spiffe://example.org/w'], ca: false, keyUsage: LEAF_KU });
  rejects(t, () => verifyX509Svid([self.certificate], bundleSetOf([ca])), 'ERR_X509SVID_UNTRUSTED', 'unauthorized_chain');
});

test('rejects a leaf that is a CA', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { ca: true, keyUsage: KU.digitalSignature });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'leaf_is_ca');
});

test('rejects a leaf with two URI SANs', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { uris: ['spiffe://example.org/a', 'spiffe://example.org/b'] });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'multiple_uri_sans');
  rejects(t, () => spiffeIdFromCertificate(leaf.certificate), 'ERR_X509SVID_INVALID', 'multiple_uri_sans');
});

test('rejects a leaf with no URI SAN (DNS SANs alone are not an SVID)', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { uris: [], dnsNames: ['a.example'], subject: 'CN=a' });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'no_uri_san');
});

test('rejects a leaf whose URI SAN is not a SPIFFE ID', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { uris: ['https://example.org/w'] });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'not_spiffe_id');
});

test('rejects a leaf whose SPIFFE ID has no path', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { uris: ['spiffe://example.org'] });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'leaf_id_no_path');
});

test('rejects keyCertSign or cRLSign on a leaf', async (t) => {
  const ca = await makeRootCa();
  const a = await customLeaf(ca, { keyUsage: KU.digitalSignature | KU.keyCertSign });
  rejects(t, () => verifyX509Svid([a.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'leaf_key_cert_sign');
  const b = await customLeaf(ca, { keyUsage: KU.digitalSignature | KU.cRLSign });
  rejects(t, () => verifyX509Svid([b.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'leaf_crl_sign');
});

test('rejects a leaf without digitalSignature, without keyUsage, or with a non-critical keyUsage', async (t) => {
  const ca = await makeRootCa();
  const a = await customLeaf(ca, { keyUsage: KU.keyEncipherment });
  rejects(t, () => verifyX509Svid([a.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'no_digital_signature');
  const b = await customLeaf(ca, { keyUsage: undefined });
  rejects(t, () => verifyX509Svid([b.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'key_usage_missing');
  const c = await customLeaf(ca, { keyUsageCritical: false });
  rejects(t, () => verifyX509Svid([c.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'key_usage_not_critical');
});

test('accepts a leaf without extKeyUsage but rejects one whose extKeyUsage lacks clientAuth', async (t) => {
  const ca = await makeRootCa();
  const none = await customLeaf(ca, { extKeyUsage: undefined });
  t.notThrows(() => verifyX509Svid([none.certificate], bundleSetOf([ca])));
  const serverOnly = await customLeaf(ca, { extKeyUsage: [SERVER_CLIENT[0]] });
  rejects(t, () => verifyX509Svid([serverOnly.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'eku_missing_auth');
});

test('rejects a leaf with an unknown critical extension', async (t) => {
  const ca = await makeRootCa();
  const leaf = await customLeaf(ca, { extraExtensions: [{ oid: '1.2.3.4.5', critical: true, value: Uint8Array.of(5, 0) }] });
  rejects(t, () => verifyX509Svid([leaf.certificate], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'unsupported_critical_extension');
});

test('rejects an expired or not yet valid leaf at the given time', async (t) => {
  const ca = await makeRootCa();
  const svid = makeSvid(ca, 'spiffe://example.org/w');
  const b = bundleSetOf([ca]);
  rejects(t, () => verifyX509Svid(svid.certificates, b, { now: new Date(Date.now() + 2 * 3_600_000) }), 'ERR_X509SVID_EXPIRED', 'expired');
  rejects(t, () => verifyX509Svid(svid.certificates, b, { now: new Date(Date.now() - 3_600_000) }), 'ERR_X509SVID_EXPIRED', 'not_yet_valid');
});

test('rejects a chain through an expired intermediate', async (t) => {
  const root = await makeRootCa();
  const inter = await makeIntermediateCa(root, { notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() + 1_000) });
  const svid = makeSvid(inter, 'spiffe://example.org/w', { notAfter: new Date(Date.now() + 3_600_000) });
  rejects(t, () => verifyX509Svid(svid.certificates, bundleSetOf([root]), { now: new Date(Date.now() + 60_000) }), 'ERR_X509SVID_EXPIRED', 'expired');
});

test('rejects an intermediate that is not a CA', async (t) => {
  const root = await makeRootCa();
  const notCa = await makeCustomCertificate({ issuer: { certificate: root.certificate, privateKey: root.privateKey }, subject: 'O=NotCa', ca: false, keyUsage: KU.keyCertSign | KU.digitalSignature, uris: ['spiffe://example.org'] });
  const fakeCa: TestCa = { ...root, certificate: notCa.certificate, privateKey: notCa.privateKey, publicKey: notCa.publicKey, chain: [notCa.certificate] };
  const leaf = await customLeaf(fakeCa, {});
  rejects(t, () => verifyX509Svid([leaf.certificate, notCa.certificate], bundleSetOf([root])), 'ERR_X509SVID_UNTRUSTED', 'issuer_not_ca');
});

test('rejects a signing certificate whose SPIFFE ID has a path', async (t) => {
  const root = await makeRootCa();
  const inter = await makeCustomCertificate({ issuer: { certificate: root.certificate, privateKey: root.privateKey }, subject: 'O=Inter', ca: true, keyUsage: KU.keyCertSign, uris: ['spiffe://example.org/ca'] });
  const leaf = await customLeaf({ ...root, certificate: inter.certificate, privateKey: inter.privateKey }, {});
  rejects(t, () => verifyX509Svid([leaf.certificate, inter.certificate], bundleSetOf([root])), 'ERR_X509SVID_UNTRUSTED', 'ca_id_has_path');
});

test('enforces pathLenConstraint', async (t) => {
  const root = await makeRootCa('example.org', { pathLen: 0 });
  const inter = await makeCustomCertificate({ issuer: { certificate: root.certificate, privateKey: root.privateKey }, subject: 'O=Inter', ca: true, keyUsage: KU.keyCertSign, uris: ['spiffe://example.org'] });
  const leaf = await customLeaf({ ...root, certificate: inter.certificate, privateKey: inter.privateKey }, {});
  rejects(t, () => verifyX509Svid([leaf.certificate, inter.certificate], bundleSetOf([root])), 'ERR_X509SVID_UNTRUSTED', 'path_length_exceeded');
  const ok = await makeRootCa('example.org', { pathLen: 1 });
  const okInter = await makeIntermediateCa(ok);
  t.notThrows(() => verifyX509Svid(makeSvid(okInter, 'spiffe://example.org/w').certificates, bundleSetOf([ok])));
});

test('rejects a leaf whose signature was tampered with', async (t) => {
  const ca = await makeRootCa();
  const svid = makeSvid(ca, 'spiffe://example.org/w');
  const bad = Buffer.from(svid.leaf);
  bad[bad.length - 3] ^= 1;
  t.throws(() => verifyX509Svid([bad], bundleSetOf([ca])), { instanceOf: X509SvidError });
});

test('rejects an empty chain and non-DER input', async (t) => {
  const ca = await makeRootCa();
  rejects(t, () => verifyX509Svid([], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'malformed');
  rejects(t, () => verifyX509Svid([Uint8Array.of(1, 2, 3)], bundleSetOf([ca])), 'ERR_X509SVID_INVALID', 'malformed');
});

test('parseX509Svid reads concatenated DER, the claims and the matching PKCS#8 key', async (t) => {
  const root = await makeRootCa();
  const inter = await makeIntermediateCa(root);
  const svid = makeSvid(inter, 'spiffe://example.org/w', { claims: { agent_instance_id: 'inst_1' } });
  const parsed = parseX509Svid(concatDer(svid.certificates), svid.pkcs8);
  t.is(parsed.id.toString(), 'spiffe://example.org/w');
  t.is(parsed.certificates.length, 2);
  t.deepEqual(parsed.claims, { agent_instance_id: 'inst_1' });
  t.true(parsed.privateKey!.asymmetricKeyType === 'ec');
  t.is(parsed.notAfter.getTime(), Math.floor(parsed.notAfter.getTime() / 1000) * 1000);
  const other = new Uint8Array(keyPair().privateKey.export({ type: 'pkcs8', format: 'der' }));
  rejects(t, () => parseX509Svid(svid.certificates, other), 'ERR_X509SVID_INVALID', 'private_key_mismatch');
});

test('parseX509Svid rejects a chain whose second certificate is not a CA', async (t) => {
  const ca = await makeRootCa();
  const a = makeSvid(ca, 'spiffe://example.org/a');
  const b = makeSvid(ca, 'spiffe://example.org/b');
  rejects(t, () => parseX509Svid([a.leaf, b.leaf]), 'ERR_X509SVID_INVALID', 'issuer_not_ca');
});

test('BundleSet lookups never fall back to another trust domain', async (t) => {
  const set = new BundleSet([new SpiffeBundle(TrustDomain.parse('a.org'), { x509Authorities: [(await makeRootCa('a.org')).certificate] })]);
  t.truthy(set.getX509BundleForTrustDomain(TrustDomain.parse('a.org')));
  t.is(set.getX509BundleForTrustDomain(TrustDomain.parse('b.org')), undefined);
});
