import test from 'ava';
import { generateKeyPairSync, sign } from 'node:crypto';
import { TAG, bitString, ctx, derTrue, octetString, oid, seq, set, tlv } from '../../spiffe/der.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { createCsr, parseCsr } from '../../spiffe/x509svid/csr.ts';

/**
 * CSRs whose extension request is BER (constructed strings): the server compares CSR
 * URI SANs with the caller's ID, so a URI SAN must never be silently skipped.
 */
const keys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ascii = (s: string) => new TextEncoder().encode(s);

/** A signed CSR whose subjectAltName extension value is `extnValue` (any encoding). */
function csrWithSanValue(extnValue: Uint8Array): Uint8Array {
  const { publicKey, privateKey } = keys();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ext = seq(oid('2.5.29.17'), derTrue(), extnValue);
  const attrs = seq(oid('1.2.840.113549.1.9.14'), set(seq(ext)));
  const cri = seq(Uint8Array.of(TAG.INTEGER, 1, 0), seq(), spki, tlv(ctx(0, true), attrs));
  return seq(cri, seq(oid('1.2.840.10045.4.3.2')), bitString(sign('sha256', cri, privateKey)));
}

const uri = 'spiffe://other.org/not-the-caller';

test('a DER URI SAN is read (control for the BER cases below)', (t) => {
  const p = parseCsr(csrWithSanValue(octetString(seq(tlv(ctx(6, false), ascii(uri))))));
  t.deepEqual(p.uriSans, [uri]);
});

test('refuses a URI SAN encoded as a constructed (chunked) string instead of dropping it', (t) => {
  const chunked = tlv(ctx(6, true), tlv(0x16, ascii(uri.slice(0, 10))), tlv(0x16, ascii(uri.slice(10))));
  const err = t.throws(() => parseCsr(csrWithSanValue(octetString(seq(chunked)))), { instanceOf: SpiffeError });
  t.is(err?.code, 'ERR_X509SVID_INVALID');
  t.regex(err!.message, /subjectAltName entry \[6\] is constructed \(BER\)/);
});

test('refuses an extension value sent as a constructed OCTET STRING', (t) => {
  const san = seq(tlv(ctx(6, false), ascii(uri)));
  const chunked = tlv(0x24, tlv(0x04, san.subarray(0, 5)), tlv(0x04, san.subarray(5)));
  const err = t.throws(() => parseCsr(csrWithSanValue(chunked)), { instanceOf: SpiffeError });
  t.regex(err!.message, /extension value has tag 0x24, not a primitive OCTET STRING/);
});

test('CSRs made by createCsr still parse', async (t) => {
  const { publicKey, privateKey } = keys();
  const id = SpiffeId.parse('spiffe://example.org/tessera/agent/x');
  t.deepEqual(parseCsr(await createCsr(privateKey, publicKey, id)).uriSans, [id.toString()]);
  t.deepEqual(parseCsr(await createCsr(privateKey, publicKey)).uriSans, []);
});
