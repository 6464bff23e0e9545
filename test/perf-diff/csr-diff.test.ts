import test from 'ava';
import { randomInt, webcrypto } from 'node:crypto';
import { parseCsr, parseCsrAsync } from '../../spiffe/x509svid/csr.ts';
import { x509 } from '../../spiffe/x509svid/peculiar.ts';

/**
 * Differential test of the CSR walker (spiffe/x509svid/csr.ts) against @peculiar/x509:
 * random PKCS#10 requests (subjects, SAN mixes, extra extensions, P-256/P-384/RSA keys)
 * must give the same key and URI SANs and the same signature verdict; after random
 * byte corruption, whatever the walker still accepts must be a request @peculiar/x509
 * parses to the same key and SANs with a valid signature.
 */

const ALPHA = 'abcdefghijklmnopqrstuvwxyz0123456789';
const word = (n: number) => Array.from({ length: n }, () => ALPHA[randomInt(ALPHA.length)]).join('');

type Kind = 'P-256' | 'P-384' | 'RSA';
type KeyPair = webcrypto.CryptoKeyPair;
const ALGS: Record<Kind, { gen: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: webcrypto.Algorithm & { hash?: string } }> = {
  'P-256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'P-384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  RSA: { gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
};

async function randomCsr(keys: KeyPair, kind: Kind): Promise<Uint8Array> {
  const names: x509.JsonGeneralName[] = [];
  for (let i = randomInt(0, 3); i > 0; i--) names.push({ type: 'url', value: `spiffe://${word(5)}.org/${word(randomInt(1, 40))}` });
  for (let i = randomInt(0, 3); i > 0; i--) names.push({ type: 'dns', value: `${word(6)}.example` });
  if (randomInt(3) === 0) names.push({ type: 'ip', value: `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}` });
  if (randomInt(4) === 0) names.push({ type: 'email', value: `${word(4)}@example.org` });
  names.sort(() => randomInt(3) - 1);
  const extensions: x509.Extension[] = [];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, randomInt(2) === 0));
  if (randomInt(2)) extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  if (randomInt(2)) extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
  const subject = [randomInt(2) ? `CN=${word(randomInt(1, 60))}` : '', randomInt(2) ? `O=${word(8)}` : ''].filter(Boolean).join(', ');
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject || undefined, keys, signingAlgorithm: ALGS[kind].sign, extensions,
  });
  return new Uint8Array(csr.rawData);
}

/** What @peculiar/x509 reads from a CSR: SPKI bytes, URI SANs, and whether the signature verifies. */
async function reference(der: Uint8Array): Promise<{ spki: Buffer; uriSans: string[]; valid: boolean }> {
  const csr = new x509.Pkcs10CertificateRequest(Uint8Array.from(der));
  const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  const uriSans = (san?.names.toJSON() ?? []).filter((n) => n.type === 'url').map((n) => n.value);
  return { spki: Buffer.from(csr.publicKey.rawData), uriSans, valid: await csr.verify() };
}

for (const kind of ['P-256', 'P-384', 'RSA'] as Kind[]) {
  test(`parseCsr reads the key and URI SANs @peculiar/x509 reads from random CSRs (${kind})`, async (t) => {
    const pairs = await Promise.all(Array.from({ length: kind === 'RSA' ? 2 : 6 }, () =>
      webcrypto.subtle.generateKey(ALGS[kind].gen, true, ['sign', 'verify']) as Promise<KeyPair>));
    for (let i = 0; i < 60; i++) {
      const der = await randomCsr(pairs[i % pairs.length]!, kind);
      const want = await reference(der);
      t.true(want.valid);
      const got = parseCsr(der);
      t.deepEqual(Buffer.from(got.spki), want.spki, `case ${i}`);
      t.deepEqual(got.uriSans, want.uriSans, `case ${i}`);
      t.deepEqual(Buffer.from(got.publicKey.export({ type: 'spki', format: 'der' })), want.spki);
      t.deepEqual((await parseCsrAsync(der)).uriSans, want.uriSans);
    }
  });
}

test('whatever parseCsr accepts after random corruption, @peculiar/x509 reads the same way with a valid signature', async (t) => {
  const keys = await Promise.all((['P-256', 'P-384'] as Kind[]).map(async (k) => ({ k, pair: await webcrypto.subtle.generateKey(ALGS[k].gen, true, ['sign', 'verify']) as KeyPair })));
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const { k, pair } = keys[i % keys.length]!;
    const der = Uint8Array.from(await randomCsr(pair, k));
    for (let flips = randomInt(1, 3); flips > 0; flips--) der[randomInt(der.length)] ^= 1 << randomInt(8);
    let got;
    try { got = parseCsr(der); } catch { rejected++; continue; }
    accepted++;
    const want = await reference(der);
    t.true(want.valid, `case ${i}: accepted a CSR whose signature @peculiar/x509 rejects`);
    t.deepEqual(Buffer.from(got.spki), want.spki);
    t.deepEqual(got.uriSans, want.uriSans);
  }
  // Flips inside the signed bytes or the signature must be caught by the signature check.
  t.true(rejected > 300, `only ${rejected} of 400 corrupted CSRs were refused`);
  t.log(`${accepted} corrupted CSRs still valid (flips in ignored bits), ${rejected} refused`);
});
