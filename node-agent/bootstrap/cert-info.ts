import { X509Certificate } from 'node:crypto';
import { uriSans } from './server-identity.ts';

/** What the agent needs to know about a certificate it holds: its ID and lifetime (ms). */
export interface CertInfo { spiffeId: string | undefined; notBefore: number; notAfter: number; serial: string }

export function certInfo(der: Uint8Array): CertInfo {
  const x = new X509Certificate(der);
  const uris = uriSans({ subjectaltname: x.subjectAltName });
  return {
    spiffeId: uris.length === 1 ? uris[0] : undefined,
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    serial: x.serialNumber.toLowerCase(),
  };
}

/** True when `chain` (leaf first) verifies up to one of `roots` (signatures and CA flags; times are checked by callers). */
export function chainsTo(chain: readonly Uint8Array[], roots: readonly Uint8Array[]): boolean {
  const certs = chain.map((d) => new X509Certificate(d));
  const anchors = roots.map((d) => new X509Certificate(d));
  let cur = certs[0];
  if (!cur) return false;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = anchors.find((a) => cur!.checkIssued(a) && cur!.verify(a.publicKey));
    if (anchor) return true;
    const next = certs.slice(1).find((c) => c.ca && cur!.checkIssued(c) && cur!.verify(c.publicKey));
    if (!next || next === cur) return false;
    cur = next;
  }
  return false;
}
