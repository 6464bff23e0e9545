import test from 'ava';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { bitString, ctx, derNull, octetString, oid, seq, set, smallInteger, time, tlv } from '../../spiffe/der.ts';
import { verifyEkCertificate } from '../../attestors/node/tpm/ek-cert.ts';
import { AttestationError } from '../../common/errors.ts';
import { makeCert, type TestCert } from '../fakes/cloud-pki.ts';

/**
 * EK certificates as manufacturers issue them: an empty subject (TCG puts the TPM's
 * identity in the SAN), and possibly BER strings, which OpenSSL accepts and verifies
 * over the bytes as sent. The issuer CN becomes a selector, so it must be the name.
 */
let root: TestCert, other: TestCert;
test.before(async () => {
  [root, other] = await Promise.all([makeCert({ subject: 'CN=Infineon TPM CA', ca: true }), makeCert({ subject: 'CN=Other TPM CA', ca: true })]);
});

const ascii = (s: string) => new TextEncoder().encode(s);
const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), derNull());

/** An EK certificate (EK EKU, empty subject) whose issuer CN is encoded as `cn`, signed by `signer`. */
function ekCert(cn: Uint8Array, signer: TestCert): X509Certificate {
  const ek = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const eku = seq(oid('2.5.29.37'), octetString(seq(oid('2.23.133.8.1'))));
  const tbs = seq(tlv(ctx(0, true), smallInteger(2)), smallInteger(4242), SHA256_RSA, seq(set(seq(oid('2.5.4.3'), cn))),
    seq(time(new Date(Date.now() - 3600_000)), time(new Date(Date.now() + 3600_000))), seq(),
    ek.export({ type: 'spki', format: 'der' }), tlv(ctx(3, true), seq(eku)));
  return new X509Certificate(seq(tbs, SHA256_RSA, bitString(sign('sha256', tbs, signer.privateKey))));
}

const printable = (s: string) => tlv(0x13, ascii(s));
/** BER: a constructed PrintableString in two chunks. */
const chunkedPrintable = (a: string, b: string) => tlv(0x33, printable(a), printable(b));

test('verifies an EK certificate with an empty subject (the usual manufacturer form)', (t) => {
  const v = verifyEkCertificate(ekCert(printable('Infineon TPM CA'), root), { roots: [root.cert], intermediates: [] }, Date.now());
  t.is(v.issuerCn, 'Infineon TPM CA');
  t.deepEqual(v.path, ['(empty subject)', 'CN=Infineon TPM CA']);
});

test('an issuer CN sent as a BER constructed string yields the name, not the hex of its encoding', (t) => {
  const cert = ekCert(chunkedPrintable('Infineon', ' TPM CA'), root);
  const v = verifyEkCertificate(cert, { roots: [root.cert], intermediates: [] }, Date.now());
  t.is(v.issuerCn, 'Infineon TPM CA');
});

test('an EK certificate with an empty subject from an untrusted CA is refused with a readable message', (t) => {
  const err = t.throws(() => verifyEkCertificate(ekCert(printable('Infineon TPM CA'), other), { roots: [root.cert], intermediates: [] }, Date.now()),
    { instanceOf: AttestationError });
  t.is(err?.code, 'ERR_TPM_EK_CERT_UNTRUSTED');
  t.regex(err!.message, /EK certificate "\(empty subject\)" .* does not chain to a configured manufacturer CA/);
});
