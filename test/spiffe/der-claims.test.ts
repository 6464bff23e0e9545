import test from 'ava';
import { concatDer, DerError, decodeTime, expectWhole, readTlv, splitDerCertificates, TAG, time } from '../../spiffe/der.ts';
import { X509SvidError } from '../../spiffe/errors.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { decodeAgentClaimsExtension, encodeAgentClaimsExtension } from '../../spiffe/x509svid/claims-extension.ts';
import { makeRootCa, makeSvid } from '../helpers/pki.ts';

test('splits concatenated DER certificates and concatenates them back', async (t) => {
  const ca = await makeRootCa();
  const a = makeSvid(ca, 'spiffe://example.org/a').leaf;
  const list = [a, ca.certificate];
  const joined = concatDer(list);
  t.is(joined.length, a.length + ca.certificate.length);
  t.deepEqual(splitDerCertificates(joined).map((x) => Buffer.from(x)), list.map((x) => Buffer.from(x)));
  t.deepEqual(splitDerCertificates(new Uint8Array(0)), []);
});

test('splitting rejects truncated or non-SEQUENCE input', async (t) => {
  const ca = await makeRootCa();
  t.throws(() => splitDerCertificates(ca.certificate.subarray(0, ca.certificate.length - 1)), { instanceOf: DerError });
  t.throws(() => splitDerCertificates(Uint8Array.of(0x04, 0x01, 0x00)), { instanceOf: DerError });
});

test('the DER reader rejects indefinite and non-minimal lengths', (t) => {
  t.throws(() => readTlv(Uint8Array.of(0x30, 0x80, 0, 0), 0), { instanceOf: DerError });
  t.throws(() => readTlv(Uint8Array.of(0x04, 0x81, 0x01, 0x00), 0), { instanceOf: DerError });
});

test('a whole DER document must fill its buffer: a trailing byte after a certificate is malformed', async (t) => {
  t.is(expectWhole(Uint8Array.of(0x30, 0x00), TAG.SEQUENCE, 'doc').end, 2);
  t.throws(() => expectWhole(Uint8Array.of(0x30, 0x00, 0x00), TAG.SEQUENCE, 'doc'), { instanceOf: DerError, message: /trailing bytes after doc/ });
  const ca = await makeRootCa();
  t.notThrows(() => readCertificate(ca.certificate));
  const err = t.throws(() => readCertificate(concatDer([ca.certificate, Uint8Array.of(0)])), { instanceOf: X509SvidError });
  t.is(err?.reason, 'malformed');
});

test('times round-trip as UTCTime before 2050 and GeneralizedTime after', (t) => {
  for (const iso of ['1999-12-31T23:59:59.000Z', '2049-06-01T00:00:00.000Z', '2050-01-01T00:00:00.000Z', '9999-12-31T23:59:59.000Z']) {
    const der = time(new Date(iso));
    t.is(der[0], new Date(iso).getUTCFullYear() < 2050 ? 0x17 : 0x18);
    t.is(decodeTime(der, readTlv(der, 0)).toISOString(), iso);
  }
});

test('agent claims encode as a SEQUENCE of [n] IMPLICIT UTF8String and decode back', (t) => {
  const claims = { agent_model: 'm', agent_provider: 'p', agent_version: 'v', agent_instance_id: 'inst_é' };
  const der = encodeAgentClaimsExtension(claims);
  t.is(Buffer.from(der).toString('hex'), '30' + '12' + '80016d' + '810170' + '820176' + '8307' + Buffer.from('inst_é').toString('hex'));
  t.deepEqual(decodeAgentClaimsExtension(der), claims);
});

test('agent claims omit absent and empty claims', (t) => {
  const der = encodeAgentClaimsExtension({ agent_model: '', agent_version: '2' });
  t.is(Buffer.from(der).toString('hex'), '3003820132');
  t.deepEqual(decodeAgentClaimsExtension(der), { agent_version: '2' });
  t.deepEqual(decodeAgentClaimsExtension(encodeAgentClaimsExtension({})), {});
});

test('agent claims decoding skips unknown higher tags but rejects disorder, bad UTF-8 and non-DER', (t) => {
  t.deepEqual(decodeAgentClaimsExtension(Uint8Array.of(0x30, 0x06, 0x80, 0x01, 0x6d, 0x89, 0x01, 0x78)), { agent_model: 'm' });
  for (const bad of [
    Uint8Array.of(0x30, 0x06, 0x81, 0x01, 0x70, 0x80, 0x01, 0x6d), // out of order
    Uint8Array.of(0x30, 0x06, 0x80, 0x01, 0x6d, 0x80, 0x01, 0x6d), // repeated
    Uint8Array.of(0x30, 0x03, 0x80, 0x01, 0xff),                   // invalid UTF-8
    Uint8Array.of(0x30, 0x03, 0x0c, 0x01, 0x6d),                   // universal tag, not [n]
    Uint8Array.of(0x30, 0x03, 0x80, 0x01, 0x6d, 0x00),             // trailing byte
  ]) {
    t.throws(() => decodeAgentClaimsExtension(bad), { instanceOf: X509SvidError });
  }
});
