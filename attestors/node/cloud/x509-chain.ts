import type { X509Certificate } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';

/**
 * Path validation for the Azure attested-document signer: leaf → (intermediates) →
 * one of the configured roots, each link checked for name chaining, signature,
 * validity at `now` and the CA flag on issuers. Trust comes only from `roots`;
 * intermediates (embedded or configured) are just candidates for the path.
 */

const MAX_DEPTH = 6;

const untrusted = (msg: string) => new AttestationError('permission_denied', 'ERR_CHAIN_UNTRUSTED', msg);

function subjectCn(c: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? c.subject.replace(/\n/g, ', ');
}

function checkValidity(c: X509Certificate, now: Date): void {
  const from = Date.parse(c.validFrom), to = Date.parse(c.validTo);
  if (now.getTime() < from) throw untrusted(`certificate "${subjectCn(c)}" is not valid before ${new Date(from).toISOString()}`);
  if (now.getTime() > to) throw untrusted(`certificate "${subjectCn(c)}" expired at ${new Date(to).toISOString()}`);
}

function issues(parent: X509Certificate, child: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Returns the path leaf-first, ending with the root; throws ERR_CHAIN_UNTRUSTED with the reason. */
export function verifyChain(leaf: X509Certificate, intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[], now: Date): X509Certificate[] {
  checkValidity(leaf, now);
  const walk = (cert: X509Certificate, path: X509Certificate[]): X509Certificate[] | undefined => {
    if (roots.some((r) => r.raw.equals(cert.raw))) return path;
    if (path.length > MAX_DEPTH) return undefined;
    for (const root of roots) {
      if (issues(root, cert)) {
        if (!root.ca) continue;
        checkValidity(root, now);
        return [...path, root];
      }
    }
    for (const ca of intermediates) {
      if (path.some((p) => p.raw.equals(ca.raw)) || !ca.ca || !issues(ca, cert)) continue;
      checkValidity(ca, now);
      const found = walk(ca, [...path, ca]);
      if (found) return found;
    }
    return undefined;
  };
  const path = walk(leaf, [leaf]);
  if (!path) {
    throw untrusted(`certificate "${subjectCn(leaf)}" (issuer "${leaf.issuer.replace(/\n/g, ', ')}") does not chain to a configured root`);
  }
  return path;
}

/** DNS names a certificate is for: its DNS SANs, else its subject CN. */
export function certificateDnsNames(c: X509Certificate): string[] {
  const sans = (c.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  if (sans.length > 0) return sans;
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** True when `name` is `base` itself or a host under it (eastus.metadata.azure.com under metadata.azure.com). */
export function nameUnder(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/^\*\./, ''), b = base.toLowerCase();
  return n === b || n.endsWith('.' + b);
}
