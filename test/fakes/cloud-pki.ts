import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, X509Certificate, webcrypto } from 'node:crypto';

/**
 * Test PKI made at test time: RSA-2048 keys and certificates standing in for the
 * clouds' signing certificates (AWS region certs, the Azure metadata CA chain).
 */
x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

export interface TestCert {
  cert: X509Certificate;
  der: Uint8Array;
  pem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keys: webcrypto.CryptoKeyPair;
  x509: x509.X509Certificate;
}

export interface CertOptions {
  subject: string;
  issuer?: TestCert;
  ca?: boolean;
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

let serial = 1;

export async function makeCert(o: CertOptions): Promise<TestCert> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = o.notAfter ?? new Date(Date.now() + 86400_000);
  const extensions: x509.Extension[] = [];
  if (o.ca) {
    extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  } else {
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  }
  if (o.dnsNames?.length) extensions.push(new x509.SubjectAlternativeNameExtension(o.dnsNames.map((value) => ({ type: 'dns' as const, value }))));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const serialHex = (serial++).toString(16).padStart(4, '0');
  const cert = o.issuer
    ? await x509.X509CertificateGenerator.create({
      serialNumber: serialHex, subject: o.subject, issuer: o.issuer.x509.subjectName,
      notBefore, notAfter, signingAlgorithm: ALG, publicKey: keys.publicKey, signingKey: o.issuer.keys.privateKey, extensions,
    })
    : await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: serialHex, name: o.subject, notBefore, notAfter, signingAlgorithm: ALG, keys, extensions });
  const der = new Uint8Array(cert.rawData);
  const node = new X509Certificate(der);
  return { cert: node, der, pem: node.toString(), privateKey: KeyObject.from(keys.privateKey), publicKey: KeyObject.from(keys.publicKey), keys, x509: cert };
}
