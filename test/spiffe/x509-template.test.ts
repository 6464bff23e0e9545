import test from 'ava';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SpiffeId } from '../../spiffe/id.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { createAsyncLeafIssuer, createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { agentClaimsFromCertificate } from '../../spiffe/x509svid/claims-extension.ts';
import { AGENT_CLAIMS_OID } from '../../spiffe/agent-claims.ts';
import { OID } from '../../spiffe/x509svid/oids.ts';
import { keyPair, makeIntermediateCa, makeRootCa, makeSvid, writePem, x509 } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/agent');
const nb = new Date('2026-01-02T03:04:05.678Z');
const na = new Date('2026-01-02T04:04:05.999Z');

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('a template leaf parses in @peculiar/x509 with exactly the requested fields', async (t) => {
  const ca = await makeRootCa();
  const leafKeys = keyPair();
  const issue = createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey });
  const serial = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10]);
  const der = issue({ spiffeId: id, publicKey: leafKeys.publicKey, notBefore: nb, notAfter: na, dnsNames: ['svc.local'], serial, subject: { organization: 'Tessera', commonName: 'agent' } });
  const c = new x509.X509Certificate(Uint8Array.from(der));
  const caCert = new x509.X509Certificate(Uint8Array.from(ca.certificate));
  t.is(c.serialNumber, '0102030405060708090a0b0c0d0e0f10');
  t.is(c.subject, 'O=Tessera, CN=agent');
  t.is(c.issuer, caCert.subject);
  t.is(c.notBefore.toISOString(), '2026-01-02T03:04:05.000Z');
  t.is(c.notAfter.toISOString(), '2026-01-02T04:04:05.000Z');
  t.is((c.signatureAlgorithm as unknown as { name: string }).name, 'ECDSA');
  t.deepEqual(Buffer.from(c.publicKey.rawData), leafKeys.publicKey.export({ type: 'spki', format: 'der' }));

  const bc = c.getExtension(x509.BasicConstraintsExtension)!;
  t.true(bc.critical); t.false(bc.ca);
  const ku = c.getExtension(x509.KeyUsagesExtension)!;
  t.true(ku.critical);
  t.is(ku.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement);
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension)!;
  t.false(eku.critical);
  t.deepEqual([...eku.usages], [OID.serverAuth, OID.clientAuth]);
  const san = c.getExtension(x509.SubjectAlternativeNameExtension)!;
  t.false(san.critical, 'SAN is non-critical when the subject is not empty');
  t.deepEqual(san.names.toJSON(), [{ type: 'url', value: id.toString() }, { type: 'dns', value: 'svc.local' }]);
  const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!;
  const expectedSki = await x509.SubjectKeyIdentifierExtension.create(c.publicKey);
  t.is(ski.keyId, expectedSki.keyId);
  const aki = c.getExtension(x509.AuthorityKeyIdentifierExtension)!;
  t.is(aki.keyId, caCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
  t.is(c.extensions.length, 6, 'no agent-claims extension without claims');
  t.true(await c.verify({ publicKey: caCert.publicKey, signatureOnly: true }));
});

test('a template leaf parses in node:crypto X509Certificate and verifies with the CA key', async (t) => {
  const ca = await makeRootCa();
  const svid = makeSvid(ca, id, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  const c = new X509Certificate(svid.leaf);
  const caCert = new X509Certificate(ca.certificate);
  t.true(c.verify(caCert.publicKey));
  t.true(c.checkIssued(caCert));
  t.false(c.ca);
  t.is(c.subjectAltName, 'URI:spiffe://example.org/ns/prod/sa/agent, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  t.deepEqual(c.keyUsage, [OID.serverAuth, OID.clientAuth]);
  t.true(c.publicKey.equals(svid.publicKey));
  t.is(c.subject, 'O=Tessera');
  t.is(c.issuer, caCert.subject);
});

test('openssl verify -x509_strict accepts a root-signed and an intermediate-signed template leaf', async (t) => {
  const dir = tempDir(t);
  const root = await makeRootCa();
  const inter = await makeIntermediateCa(root);
  const direct = makeSvid(root, id, { claims: { agent_model: 'm', agent_instance_id: 'inst_1' } });
  const chained = makeSvid(inter, id, { dnsNames: ['a.example'] });
  const caFile = writePem(dir, 'ca.pem', root.certificate);
  const interFile = writePem(dir, 'inter.pem', inter.certificate);
  const at = String(Math.floor(Date.now() / 1000));
  t.regex(openssl(['verify', '-x509_strict', '-attime', at, '-CAfile', caFile, writePem(dir, 'direct.pem', direct.leaf)]), /: OK/);
  t.regex(openssl(['verify', '-x509_strict', '-attime', at, '-CAfile', caFile, '-untrusted', interFile, writePem(dir, 'chained.pem', chained.leaf)]), /: OK/);
  t.regex(openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', caFile, '-untrusted', interFile, join(dir, 'chained.pem')]), /: OK/);
  t.regex(openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caFile, '-untrusted', interFile, join(dir, 'chained.pem')]), /: OK/);
  // Without the intermediate there is no path: the check can fail.
  t.throws(() => openssl(['verify', '-x509_strict', '-CAfile', caFile, join(dir, 'chained.pem')]));
});

test('openssl verify -x509_strict accepts a leaf issued by an RSA CA (sha256WithRSAEncryption)', async (t) => {
  const dir = tempDir(t);
  const root = await makeRootCa('example.org', { key: 'RSA' });
  const svid = makeSvid(root, id);
  t.is((new x509.X509Certificate(Uint8Array.from(svid.leaf)).signatureAlgorithm as unknown as { name: string }).name, 'RSASSA-PKCS1-v1_5');
  t.is(readCertificate(svid.leaf).signatureAlgorithm, OID.sha256WithRsa);
  t.regex(openssl(['verify', '-x509_strict', '-CAfile', writePem(dir, 'ca.pem', root.certificate), writePem(dir, 'l.pem', svid.leaf)]), /: OK/);
  t.regex(openssl(['x509', '-noout', '-text', '-in', join(dir, 'l.pem')]), /Signature Algorithm: sha256WithRSAEncryption/);
});

test('validity uses UTCTime before 2050 and GeneralizedTime from 2050', async (t) => {
  const ca = await makeRootCa('example.org', { notAfter: new Date('2060-01-01T00:00:00Z') });
  const der = makeSvid(ca, id, { notBefore: new Date('2049-12-31T23:59:59Z'), notAfter: new Date('2050-01-01T00:00:00Z') }).leaf;
  const c = new X509Certificate(der);
  t.is(new Date(c.validFrom).toISOString(), '2049-12-31T23:59:59.000Z');
  t.is(new Date(c.validTo).toISOString(), '2050-01-01T00:00:00.000Z');
  const hex = Buffer.from(der).toString('hex');
  t.true(hex.includes('170d' + Buffer.from('491231235959Z').toString('hex')), 'UTCTime for 2049');
  t.true(hex.includes('180f' + Buffer.from('20500101000000Z').toString('hex')), 'GeneralizedTime for 2050');
});

test('random serials are positive and 16 octets', async (t) => {
  const ca = await makeRootCa();
  for (let i = 0; i < 50; i++) {
    const f = readCertificate(makeSvid(ca, id).leaf);
    t.is(f.serial.length, 16);
    t.is(f.serial[0] & 0x80, 0);
    t.not(f.serial[0], 0);
  }
});

test('an empty subject makes the URI SAN critical (RFC 5280 4.2.1.6)', async (t) => {
  const ca = await makeRootCa();
  const der = makeSvid(ca, id, { subject: {} }).leaf;
  const c = new x509.X509Certificate(Uint8Array.from(der));
  t.is(c.subject, '');
  t.true(c.getExtension(x509.SubjectAlternativeNameExtension)!.critical);
  const dir = tempDir(t);
  t.regex(openssl(['verify', '-x509_strict', '-CAfile', writePem(dir, 'ca.pem', ca.certificate), writePem(dir, 'l.pem', der)]), /: OK/);
});

test('agent claims travel in a non-critical extension under AGENT_CLAIMS_OID', async (t) => {
  const ca = await makeRootCa();
  const claims = { agent_model: 'claude-x', agent_provider: 'anthropic', agent_version: '1.2', agent_instance_id: 'inst_abc' };
  const der = makeSvid(ca, id, { claims }).leaf;
  // Read with our reader: @peculiar/x509 (asn1js) cannot print arcs beyond 2^53 in dotted form.
  const ext = readCertificate(der).extensions.get(AGENT_CLAIMS_OID);
  t.truthy(ext);
  t.false(ext!.critical);
  t.deepEqual(agentClaimsFromCertificate(der), claims);
});

test('the async issuer produces the same profile and verifies', async (t) => {
  const ca = await makeIntermediateCa(await makeRootCa());
  const issue = createAsyncLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey, chain: ca.chain });
  const leaves = await Promise.all(Array.from({ length: 20 }, () => issue({ spiffeId: id, publicKey: keyPair().publicKey, notBefore: nb, notAfter: na })));
  const caPub = createPublicKey(ca.privateKey);
  for (const l of leaves) t.true(new X509Certificate(l).verify(caPub));
});

test('a leaf accepts the subject key as SPKI DER', async (t) => {
  const ca = await makeRootCa();
  const k = keyPair();
  const der = createLeafIssuer(ca)({ spiffeId: id, publicKey: k.publicKey.export({ type: 'spki', format: 'der' }), notBefore: nb, notAfter: na });
  t.true(new X509Certificate(der).publicKey.equals(k.publicKey));
});

test('refuses to issue a leaf for a trust domain ID, a reversed validity or a bad DNS name', async (t) => {
  const ca = await makeRootCa();
  const issue = createLeafIssuer(ca);
  const publicKey = keyPair().publicKey;
  t.is((t.throws(() => issue({ spiffeId: SpiffeId.parse('spiffe://example.org'), publicKey, notBefore: nb, notAfter: na })) as { reason?: string }).reason, 'leaf_id_no_path');
  t.is((t.throws(() => issue({ spiffeId: id, publicKey, notBefore: na, notAfter: nb })) as { reason?: string }).reason, 'invalid_parameter');
  t.is((t.throws(() => issue({ spiffeId: id, publicKey, notBefore: nb, notAfter: na, dnsNames: ['bad name'] })) as { reason?: string }).reason, 'invalid_parameter');
});

test('refuses a CA signer whose certificate is not a CA or whose key does not match', async (t) => {
  const ca = await makeRootCa();
  const leaf = makeSvid(ca, id);
  t.is((t.throws(() => createLeafIssuer({ certificate: leaf.leaf, privateKey: leaf.privateKey })) as { reason?: string }).reason, 'issuer_not_ca');
  t.is((t.throws(() => createLeafIssuer({ certificate: ca.certificate, privateKey: keyPair().privateKey })) as { reason?: string }).reason, 'private_key_mismatch');
});

