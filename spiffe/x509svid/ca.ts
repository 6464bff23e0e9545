import type { KeyObject } from 'node:crypto';
import { X509SvidError } from '../errors.ts';
import type { TrustDomain } from '../id.ts';
import { KeyUsage, hasKeyUsage, readCertificate } from './certificate.ts';
import { encodeName } from './name.ts';
import { keyIdentifier, privateKeyMatches, spkiPublicKeyBits } from './spki.ts';
import { DEFAULT_ORGANIZATION, randomSerial } from './template.ts';
import { toCryptoKey, webAlgorithms, x509 } from './peculiar.ts';

/**
 * CA certificates (X509-SVID 3.2, 4.1, 4.3): cA=true critical, keyCertSign|cRLSign
 * critical, URI SAN spiffe://<td> (no path), SKI, AKI. Built with @peculiar/x509:
 * rare (once per CA rotation), so clarity beats speed, and it gives tests an
 * independent encoder to check the leaf template against.
 */
export interface CaParams {
  trustDomain: TrustDomain;
  /** The new CA's public key. */
  publicKey: KeyObject;
  /** The new CA's private key: signs the certificate itself when there is no parent. */
  privateKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Default O=Tessera plus a random serialNumber attribute, so successive CAs never share a subject. */
  subject?: { organization?: string; commonName?: string };
  /** Upstream CA that signs this one (intermediate); absent = self-signed root. */
  parent?: { certificate: Uint8Array; privateKey: KeyObject };
  /** basicConstraints pathLenConstraint; absent = unlimited. */
  pathLen?: number;
}

export async function createCaCertificate(p: CaParams): Promise<Uint8Array> {
  if (!(p.notAfter.getTime() > p.notBefore.getTime())) {
    throw new X509SvidError('ERR_X509SVID_INVALID', 'invalid_parameter', 'notAfter must be after notBefore');
  }
  const spki = p.publicKey.export({ type: 'spki', format: 'der' });
  if (!privateKeyMatches(p.privateKey, spki)) {
    throw new X509SvidError('ERR_X509SVID_INVALID', 'private_key_mismatch', 'CA private key does not match its public key');
  }
  const serialHex = Buffer.from(randomSerial()).toString('hex');
  const subject = encodeName({
    organization: p.subject ? p.subject.organization : DEFAULT_ORGANIZATION,
    commonName: p.subject?.commonName,
    serialNumber: serialHex,
  });

  let issuer = subject;
  let signer = p.privateKey;
  let authorityKeyId = Buffer.from(keyIdentifier(spkiPublicKeyBits(spki)));
  if (p.parent) {
    const parent = readCertificate(p.parent.certificate);
    if (!parent.basicConstraints?.ca || !hasKeyUsage(parent, KeyUsage.keyCertSign)) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'issuer_not_ca', 'parent certificate lacks cA=true or keyCertSign');
    }
    if (parent.basicConstraints.pathLen === 0) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'path_length_exceeded', 'parent certificate has pathLenConstraint 0');
    }
    if (!privateKeyMatches(p.parent.privateKey, parent.spki)) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'private_key_mismatch', 'parent private key does not match the parent certificate');
    }
    issuer = parent.subject;
    signer = p.parent.privateKey;
    authorityKeyId = Buffer.from(parent.subjectKeyId ?? keyIdentifier(parent.publicKeyBits));
  }

  const publicKey = await toCryptoKey(p.publicKey);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: new x509.Name(Uint8Array.from(subject)),
    issuer: new x509.Name(Uint8Array.from(issuer)),
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey,
    signingKey: await toCryptoKey(signer),
    signingAlgorithm: webAlgorithms(signer).signAlg,
    extensions: [
      new x509.BasicConstraintsExtension(true, p.pathLen, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: p.trustDomain.idString }], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString('hex')),
    ],
  });
  return new Uint8Array(cert.rawData);
}
