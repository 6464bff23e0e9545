import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyPair, makeCustomCertificate, makeRootCa, toPem, x509 } from './pki.ts';

/**
 * A WebPKI-style server certificate for 127.0.0.1 (oauth.tls), as a browser needs it:
 * Chromium will not take Tessera's SPIFFE X.509-SVID (URI SAN only) for a page. Returns
 * the config block, the CA's PEM for Node clients, and the SPKI hash Chromium is told
 * to accept (--ignore-certificate-errors-spki-list).
 */
export async function browserTls(scope: { teardown(fn: () => unknown): void }): Promise<{ tls: { cert_file: string; key_file: string }; caPem: string; spki: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'webpki-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await makeRootCa('browser.test', { commonName: 'Test WebPKI CA' });
  const keys = keyPair('P-256');
  const san = new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }], false);
  const { certificate } = await makeCustomCertificate({
    issuer: { certificate: ca.certificate, privateKey: ca.privateKey }, keys, subject: 'CN=127.0.0.1',
    ca: false, keyUsage: x509.KeyUsageFlags.digitalSignature, extKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    extraExtensions: [{ oid: san.type, critical: false, value: new Uint8Array(san.value) }],
  });
  const tls = { cert_file: join(dir, 'tls.pem'), key_file: join(dir, 'tls.key') };
  writeFileSync(tls.cert_file, toPem(certificate));
  writeFileSync(tls.key_file, String(keys.privateKey.export({ type: 'pkcs8', format: 'pem' })));
  const spki = createHash('sha256').update(keys.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { tls, caPem: toPem(ca.certificate), spki };
}
