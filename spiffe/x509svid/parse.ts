import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { AgentClaims } from '../agent-claims.ts';
import { DerError, splitDerCertificates } from '../der.ts';
import { SpiffeIdError, X509SvidError } from '../errors.ts';
import { SpiffeId } from '../id.ts';
import { KeyUsage, UNDERSTOOD_EXTENSIONS, hasKeyUsage, readCertificate, type CertificateFields } from './certificate.ts';
import { agentClaimsOf } from './claims-extension.ts';
import { OID } from './oids.ts';
import { privateKeyMatches } from './spki.ts';

/** An X.509-SVID: leaf first, then intermediates; the key when it is our own. */
export interface X509Svid {
  id: SpiffeId;
  certificates: Uint8Array[];
  privateKey?: KeyObject;
  hint?: string;
  claims: AgentClaims;
  notAfter: Date;
}

const invalid = (reason: ConstructorParameters<typeof X509SvidError>[1], message: string) =>
  new X509SvidError('ERR_X509SVID_INVALID', reason, message);

/** The SPIFFE ID in the certificate's single URI SAN (X509-SVID 2). */
export function spiffeIdFromCertificate(certDer: Uint8Array): SpiffeId {
  return spiffeIdOf(readCertificate(certDer));
}

export function spiffeIdOf(f: CertificateFields): SpiffeId {
  if (f.uris.length === 0) throw invalid('no_uri_san', 'certificate has no URI SAN');
  if (f.uris.length > 1) throw invalid('multiple_uri_sans', `certificate has ${f.uris.length} URI SANs; an SVID has exactly one`);
  try {
    return SpiffeId.parse(f.uris[0]);
  } catch (err) {
    if (err instanceof SpiffeIdError) throw new X509SvidError('ERR_X509SVID_INVALID', 'not_spiffe_id', `URI SAN is not a SPIFFE ID: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Any critical extension we do not process makes the certificate unusable (RFC 5280 4.2). */
export function checkCriticalExtensions(f: CertificateFields, extra?: string): void {
  for (const [id, e] of f.extensions) {
    if (e.critical && !UNDERSTOOD_EXTENSIONS.has(id) && id !== extra) {
      throw invalid('unsupported_critical_extension', `certificate has unsupported critical extension ${id}`);
    }
  }
}

/** Leaf rules of X509-SVID 3.1, 4.1, 4.3, 4.4 and 5.2; returns the leaf's SPIFFE ID. */
export function checkLeaf(f: CertificateFields): SpiffeId {
  const id = spiffeIdOf(f);
  if (id.isTrustDomainId) throw invalid('leaf_id_no_path', `leaf SPIFFE ID ${id} has no path`);
  if (f.basicConstraints?.ca) throw invalid('leaf_is_ca', 'leaf certificate has cA=true');
  if (f.keyUsage === undefined) throw invalid('key_usage_missing', 'leaf certificate has no keyUsage extension');
  if (!f.extensions.get(OID.keyUsage)?.critical) throw invalid('key_usage_not_critical', 'leaf keyUsage extension is not critical');
  if (hasKeyUsage(f, KeyUsage.keyCertSign)) throw invalid('leaf_key_cert_sign', 'leaf certificate has keyCertSign');
  if (hasKeyUsage(f, KeyUsage.cRLSign)) throw invalid('leaf_crl_sign', 'leaf certificate has cRLSign');
  if (!hasKeyUsage(f, KeyUsage.digitalSignature)) throw invalid('no_digital_signature', 'leaf certificate lacks digitalSignature');
  if (f.extKeyUsage && !(f.extKeyUsage.includes(OID.serverAuth) && f.extKeyUsage.includes(OID.clientAuth))) {
    throw invalid('eku_missing_auth', 'leaf extKeyUsage must include serverAuth and clientAuth');
  }
  checkCriticalExtensions(f);
  return id;
}

/** Signing-certificate rules (X509-SVID 3.2, 4.1, 4.3; RFC 5280 4.2.1.3/4.2.1.9). */
export function checkSigningCertificate(f: CertificateFields): void {
  if (!f.basicConstraints?.ca) throw invalid('issuer_not_ca', 'signing certificate does not have cA=true');
  if (f.keyUsage !== undefined && !hasKeyUsage(f, KeyUsage.keyCertSign)) {
    throw invalid('issuer_not_ca', 'signing certificate lacks keyCertSign');
  }
  for (const uri of f.uris) {
    if (!uri.toLowerCase().startsWith('spiffe://')) continue;
    let id: SpiffeId;
    try { id = SpiffeId.parse(uri); } catch { throw invalid('not_spiffe_id', `signing certificate URI SAN "${uri}" is not a SPIFFE ID`); }
    if (!id.isTrustDomainId) throw invalid('ca_id_has_path', `signing certificate SPIFFE ID ${id} has a path`);
  }
  checkCriticalExtensions(f);
}

function toList(chain: Uint8Array[] | Uint8Array): Uint8Array[] {
  if (!(chain instanceof Uint8Array)) return chain;
  try {
    return splitDerCertificates(chain);
  } catch (err) {
    if (err instanceof DerError) throw invalid('malformed', `certificate chain is not concatenated DER: ${err.message}`);
    throw err;
  }
}

/**
 * Parses an SVID as received from the Workload API or read from disk, checking
 * the leaf profile and that the rest of the chain are signing certificates. Trust
 * is not established here: that is verifyX509Svid against a bundle.
 */
export function parseX509Svid(chain: Uint8Array[] | Uint8Array, privateKeyPkcs8?: Uint8Array): X509Svid {
  const certificates = toList(chain);
  if (certificates.length === 0) throw invalid('malformed', 'certificate chain is empty');
  const fields = certificates.map(readCertificate);
  const leaf = fields[0];
  const id = checkLeaf(leaf);
  for (const f of fields.slice(1)) checkSigningCertificate(f);
  const svid: X509Svid = { id, certificates, claims: agentClaimsOf(leaf), notAfter: leaf.notAfter };
  if (privateKeyPkcs8) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: Buffer.from(privateKeyPkcs8), format: 'der', type: 'pkcs8' });
    } catch (err) {
      throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', 'private key is not PKCS#8 DER', { cause: err });
    }
    if (!privateKeyMatches(key, leaf.spki)) throw invalid('private_key_mismatch', 'private key does not match the leaf certificate');
    svid.privateKey = key;
  }
  return svid;
}
