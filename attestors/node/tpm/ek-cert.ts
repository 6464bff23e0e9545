import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { AttestationError } from '../../../common/errors.ts';
import { oneLine, verifyChain } from '../cloud/x509-chain.ts';

/** TCG EK certificate extended key usage (tcg-kp-EKCertificate). */
export const EK_CERTIFICATE_EKU = '2.23.133.8.1';

/** Trust anchors for EK certificates: manufacturer roots plus intermediates to build paths. */
export interface EkTrust {
  roots: X509Certificate[];
  intermediates: X509Certificate[];
}

export interface VerifiedEkCertificate {
  cert: X509Certificate;
  /** Issuer common name (the manufacturer CA), when the issuer has one. */
  issuerCn?: string;
  /** Subject names from leaf to root, for the audit trail. */
  path: string[];
}

const untrusted = (msg: string) => new AttestationError('permission_denied', 'ERR_TPM_EK_CERT_UNTRUSTED', msg);

/**
 * Checks a parsed EK certificate: it carries the EK EKU, is valid at `now`, and chains
 * (signature, issuer name, CA flag, validity at each step) to one of the trusted roots.
 */
export function verifyEkCertificate(cert: X509Certificate, trust: EkTrust, now: number): VerifiedEkCertificate {
  // Node 20 exposes the extended key usage list as `keyUsage`.
  const eku = cert.keyUsage ?? [];
  if (!eku.includes(EK_CERTIFICATE_EKU)) {
    throw new AttestationError('permission_denied', 'ERR_TPM_EK_CERT_EKU',
      `EK certificate lacks the EK extended key usage ${EK_CERTIFICATE_EKU} (has: ${eku.join(', ') || 'none'})`);
  }
  const chain = verifyChain(cert, trust.intermediates, trust.roots, new Date(now), {
    untrusted, leafLabel: 'EK certificate', rootLabel: 'manufacturer CA', maxPath: 8,
  });
  const path = chain.map((c) => oneLine(c.subject));
  path[0] ||= '(empty subject)';
  return { cert, issuerCn: issuerCommonName(cert), path };
}

const CN = '2.5.4.3';

/**
 * The issuer CN, which becomes a selector. asn1-x509 reads only primitive strings: a
 * BER constructed one (which OpenSSL accepts, and signs over as sent) comes back as
 * `anyValue` and would be rendered as the hex of its encoding. Then the value OpenSSL
 * decoded (Node's `issuer`, RFC 2253-escaped) is used instead.
 */
function issuerCommonName(cert: X509Certificate): string | undefined {
  const issuer = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.issuer;
  const value = issuer.flat().find((a) => a.type === CN)?.value;
  if (!value) return undefined;
  const cn = value.anyValue ? opensslIssuerCn(cert) : value.toString();
  return cn && cn.length > 0 ? cn : undefined;
}

function opensslIssuerCn(cert: X509Certificate): string | undefined {
  const escaped = /(?:^|\n)CN=([^\n]*)/.exec(cert.issuer ?? '')?.[1];
  return escaped?.replace(/\\([0-9A-Fa-f]{2}|.)/g, (_m, c: string) => (c.length === 2 ? String.fromCharCode(parseInt(c, 16)) : c));
}
