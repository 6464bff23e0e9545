import type { X509Certificate } from 'node:crypto';
import { x509 } from '../../../spiffe/x509svid/peculiar.ts';
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
  return { cert, issuerCn: issuerCommonName(cert.raw), path };
}

function issuerCommonName(der: Uint8Array): string | undefined {
  const cn = new x509.X509Certificate(der).issuerName.getField('CN')[0];
  return cn && cn.length > 0 ? cn : undefined;
}
