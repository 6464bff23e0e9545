import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { createCsr, parseCsr, parseCsrAsync } from '../../spiffe/x509svid/csr.ts';
import { KeyUsage } from '../../spiffe/x509svid/oids.ts';
import { keyPair, makeIntermediateCa, makeRootCa, x509 } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const reasonOf = (e: unknown) => (e as { reason?: string }).reason;

test('a root CA has cA=true and keyCertSign|cRLSign (both critical), URI SAN spiffe://<td>, SKI = AKI', async (t) => {
  const ca = await makeRootCa('Example.org');
  const c = new x509.X509Certificate(Uint8Array.from(ca.certificate));
  const bc = c.getExtension(x509.BasicConstraintsExtension)!;
  t.true(bc.ca); t.true(bc.critical); t.is(bc.pathLength, undefined);
  const ku = c.getExtension(x509.KeyUsagesExtension)!;
  t.true(ku.critical);
  t.is(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  t.deepEqual(c.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON(), [{ type: 'url', value: 'spiffe://example.org' }]);
  const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  t.is(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, ski);
  t.is(c.subject, c.issuer);
  t.true(await c.isSelfSigned());
  t.true(new X509Certificate(ca.certificate).ca);
});

test('an intermediate CA is signed by its parent and carries the parent SKI as AKI', async (t) => {
  const root = await makeRootCa();
  const inter = await makeIntermediateCa(root, { pathLen: 0 });
  const c = new X509Certificate(inter.certificate);
  t.true(c.verify(new X509Certificate(root.certificate).publicKey));
  t.true(c.checkIssued(new X509Certificate(root.certificate)));
  const f = readCertificate(inter.certificate);
  t.deepEqual(f.authorityKeyId, readCertificate(root.certificate).subjectKeyId);
  t.deepEqual(f.basicConstraints, { ca: true, pathLen: 0 });
  t.is(f.keyUsage, KeyUsage.keyCertSign | KeyUsage.cRLSign);
  t.notDeepEqual(Buffer.from(f.subject), Buffer.from(f.issuer), 'successive CAs never share a subject');
  const dir = tempDir(t);
  writeFileSync(join(dir, 'root.pem'), new X509Certificate(root.certificate).toString());
  writeFileSync(join(dir, 'inter.pem'), c.toString());
  t.regex(execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'root.pem'), join(dir, 'inter.pem')], { encoding: 'utf8' }), /OK/);
});

test('refuses to create a CA under a parent with pathLen 0, or with a mismatched key pair', async (t) => {
  const root = await makeRootCa('example.org', { pathLen: 0 });
  const k = keyPair();
  const now = new Date();
  const later = new Date(Date.now() + 3_600_000);
  const td = TrustDomain.parse('example.org');
  t.is(reasonOf(await t.throwsAsync(createCaCertificate({ trustDomain: td, ...k, notBefore: now, notAfter: later, parent: { certificate: root.certificate, privateKey: root.privateKey } }))), 'path_length_exceeded');
  t.is(reasonOf(await t.throwsAsync(createCaCertificate({ trustDomain: td, publicKey: k.publicKey, privateKey: keyPair().privateKey, notBefore: now, notAfter: later }))), 'private_key_mismatch');
});

for (const kind of ['P-256', 'P-384', 'RSA'] as const) {
  test(`createCsr/parseCsr round-trip the key and URI SAN (${kind})`, async (t) => {
    const k = keyPair(kind);
    const id = SpiffeId.parse('spiffe://example.org/tessera/agent/join_token/abc');
    const csr = await createCsr(k.privateKey, k.publicKey, id);
    const parsed = parseCsr(csr);
    t.true(parsed.publicKey.equals(k.publicKey));
    t.deepEqual(parsed.uriSans, [id.toString()]);
    t.deepEqual(Buffer.from(parsed.spki), k.publicKey.export({ type: 'spki', format: 'der' }));
    const pc = new x509.Pkcs10CertificateRequest(Uint8Array.from(csr));
    t.true(await pc.verify());
    t.deepEqual((await parseCsrAsync(csr)).uriSans, [id.toString()]);
  });
}

test('openssl accepts the CSR self-signature', async (t) => {
  const k = keyPair();
  const csr = await createCsr(k.privateKey, k.publicKey, SpiffeId.parse('spiffe://example.org/w'));
  const dir = tempDir(t);
  writeFileSync(join(dir, 'csr.der'), csr);
  const out = execFileSync('openssl', ['req', '-inform', 'DER', '-in', join(dir, 'csr.der'), '-verify', '-noout', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.regex(out, /URI:spiffe:\/\/example.org\/w/);
});

test('a CSR without a SPIFFE ID has no URI SANs', async (t) => {
  const k = keyPair();
  t.deepEqual(parseCsr(await createCsr(k.privateKey, k.publicKey)).uriSans, []);
});

test('parseCsr rejects a CSR whose signature does not verify', async (t) => {
  const k = keyPair();
  const csr = Buffer.from(await createCsr(k.privateKey, k.publicKey, SpiffeId.parse('spiffe://example.org/w')));
  csr[csr.length - 5] ^= 0x01; // inside the signature
  t.is(reasonOf(t.throws(() => parseCsr(csr))), 'bad_signature');
  t.is(reasonOf(await t.throwsAsync(parseCsrAsync(csr))), 'bad_signature');
});

test('parseCsr rejects a CSR signed by a key other than the one it carries', async (t) => {
  const k = keyPair();
  const other = keyPair();
  const csr = await createCsr(other.privateKey, k.publicKey);
  t.is(reasonOf(t.throws(() => parseCsr(csr))), 'bad_signature');
});

test('parseCsr rejects garbage and truncated input as malformed', async (t) => {
  const k = keyPair();
  const csr = await createCsr(k.privateKey, k.publicKey);
  for (const bad of [new Uint8Array(0), Uint8Array.of(0x30, 0x03, 1, 2), csr.subarray(0, csr.length - 1), Buffer.concat([csr, Uint8Array.of(0)])]) {
    const err = t.throws(() => parseCsr(bad));
    t.is((err as { code?: string }).code, 'ERR_X509SVID_INVALID');
    t.is(reasonOf(err), 'malformed');
  }
});
