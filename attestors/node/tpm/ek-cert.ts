import 'reflect-metadata'; // @peculiar/x509 (tsyringe) throws at load without it
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AttestationError } from '../../../common/errors.ts';

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

const MAX_DEPTH = 8;
const untrusted = (msg: string) => new AttestationError('permission_denied', 'ERR_TPM_EK_CERT_UNTRUSTED', msg);

/**
 * Checks an EK certificate: it parses, carries the EK EKU, is valid at `now`, and chains
 * (signature, issuer name, CA flag, validity at each step) to one of the trusted roots.
 */
export function verifyEkCertificate(der: Uint8Array, trust: EkTrust, now: number): VerifiedEkCertificate {
  let cert: X509Certificate;
  try { cert = new X509Certificate(der); } catch (e) {
    throw new AttestationError('invalid_argument', 'ERR_TPM_EK_CERT_MALFORMED', `EK certificate does not parse as X.509 DER: ${(e as Error).message}`, { cause: e });
  }
  // Node 20 exposes the extended key usage list as `keyUsage`.
  const eku = cert.keyUsage ?? [];
  if (!eku.includes(EK_CERTIFICATE_EKU)) {
    throw new AttestationError('permission_denied', 'ERR_TPM_EK_CERT_EKU',
      `EK certificate lacks the EK extended key usage ${EK_CERTIFICATE_EKU} (has: ${eku.join(', ') || 'none'})`);
  }

  const rootPrints = new Set(trust.roots.map((r) => r.fingerprint256));
  const pool = [...trust.intermediates, ...trust.roots];
  const path = [cert.subject.replace(/\n/g, ', ') || '(empty subject)'];
  let cur = cert;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    checkValidity(cur, now, depth === 0 ? 'EK certificate' : `CA certificate "${oneLine(cur.subject)}"`);
    if (depth > 0 && rootPrints.has(cur.fingerprint256)) {
      return { cert, issuerCn: issuerCommonName(der), path };
    }
    const issuer = pool.find((c) => c.ca && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!issuer) {
      throw untrusted(depth === 0
        ? `EK certificate issued by "${oneLine(cur.issuer)}" does not chain to a configured manufacturer CA`
        : `no configured CA certificate issued "${oneLine(cur.subject)}" (issuer "${oneLine(cur.issuer)}"); add the intermediate or root`);
    }
    path.push(oneLine(issuer.subject));
    cur = issuer;
  }
  throw untrusted(`EK certificate chain is longer than ${MAX_DEPTH}`);
}

function checkValidity(c: X509Certificate, now: number, what: string): void {
  const from = Date.parse(c.validFrom), to = Date.parse(c.validTo);
  if (now < from) throw untrusted(`${what} is not valid before ${new Date(from).toISOString()}`);
  if (now > to) throw untrusted(`${what} expired at ${new Date(to).toISOString()}`);
}

function issuerCommonName(der: Uint8Array): string | undefined {
  const cn = new x509.X509Certificate(der).issuerName.getField('CN')[0];
  return cn && cn.length > 0 ? cn : undefined;
}

const oneLine = (dn: string) => dn.replace(/\n/g, ', ');
