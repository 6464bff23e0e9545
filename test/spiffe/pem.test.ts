import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { certificatesToPem, derToPem, pemToDer } from '../../spiffe/pem.ts';
import { makeRootCa } from '../helpers/pki.ts';

test('PEM written for DER certificates is what node:crypto reads, and reads back to the same DER', async (t) => {
  const a = (await makeRootCa()).certificate;
  const b = (await makeRootCa()).certificate;
  const pem = certificatesToPem([a, b]);
  t.deepEqual(pemToDer(pem).map((d) => Buffer.from(d)), [Buffer.from(a), Buffer.from(b)]);
  t.is(new X509Certificate(derToPem(a)).raw.compare(Buffer.from(a)), 0);
  for (const line of pem.split('\n')) t.true(line.length <= 64, 'lines wrap at 64 characters (RFC 7468)');
});

test('pemToDer takes only blocks of the asked label, in order', (t) => {
  const text = derToPem(Uint8Array.of(1, 2), 'PRIVATE KEY') + 'junk\n' + derToPem(Uint8Array.of(3)) + derToPem(Uint8Array.of(4));
  t.deepEqual(pemToDer(text).map((d) => [...d]), [[3], [4]]);
  t.deepEqual(pemToDer(text, 'PRIVATE KEY').map((d) => [...d]), [[1, 2]]);
  t.deepEqual(pemToDer('no pem here'), []);
});
