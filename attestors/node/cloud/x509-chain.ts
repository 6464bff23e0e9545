import type { X509Certificate } from 'node:crypto';
import { AttestationError } from '../../../common/errors.ts';

/**
 * Path validation to configured trust anchors, shared by the Azure attested-document
 * signer and the TPM EK certificate: leaf → (intermediates) → one of the `roots`,
 * each link checked for name chaining, signature, validity at `now` and the CA flag on
 * issuers. Trust comes only from `roots`; intermediates (embedded or configured) are
 * just candidates for the path. The leaf is never its own anchor: a root must issue it
 * (directly or through intermediates).
 */

export interface ChainOptions {
  /** Builds the rejection; default `ERR_CHAIN_UNTRUSTED` (permission_denied). */
  untrusted?: (msg: string) => AttestationError;
  /** Names the leaf in messages, e.g. "EK certificate"; default "certificate". */
  leafLabel?: string;
  /** Names the roots in messages, e.g. "manufacturer CA"; default "root". */
  rootLabel?: string;
  /** Most certificates in a path, leaf and root included; default 7. */
  maxPath?: number;
}

const chainUntrusted = (msg: string) => new AttestationError('permission_denied', 'ERR_CHAIN_UNTRUSTED', msg);

/**
 * A distinguished name on one line ("CN=a, O=b"). Node gives `undefined` for an empty
 * name, which TPM EK certificates routinely have (TCG puts the identity in the SAN).
 */
export const oneLine = (dn: string | undefined): string => (dn ?? '').replace(/\n/g, ', ');

/** The subject's common name, else the whole subject on one line. */
function subjectCn(c: X509Certificate): string {
  return commonName(c) ?? (oneLine(c.subject) || '(empty subject)');
}

function commonName(c: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(c.subject ?? '')?.[1];
}

function issues(parent: X509Certificate, child: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Returns the path leaf-first, ending with the root; throws (default ERR_CHAIN_UNTRUSTED) with the reason. */
export function verifyChain(leaf: X509Certificate, intermediates: readonly X509Certificate[],
  roots: readonly X509Certificate[], now: Date, opts: ChainOptions = {}): X509Certificate[] {
  const untrusted = opts.untrusted ?? chainUntrusted;
  const leafLabel = opts.leafLabel ?? 'certificate';
  const maxPath = opts.maxPath ?? 7;
  const checkValidity = (c: X509Certificate): void => {
    const what = `${c === leaf ? leafLabel : 'CA certificate'} "${subjectCn(c)}"`;
    const from = Date.parse(c.validFrom), to = Date.parse(c.validTo);
    if (now.getTime() < from) throw untrusted(`${what} is not valid before ${new Date(from).toISOString()}`);
    if (now.getTime() > to) throw untrusted(`${what} expired at ${new Date(to).toISOString()}`);
  };

  checkValidity(leaf);
  const walk = (cert: X509Certificate, path: X509Certificate[]): X509Certificate[] | undefined => {
    if (path.length >= maxPath) return undefined;
    // Roots first: an intermediate that is also a configured root is found here.
    for (const root of roots) {
      if (!root.ca || !issues(root, cert)) continue;
      checkValidity(root);
      return [...path, root];
    }
    for (const ca of intermediates) {
      if (path.some((p) => p.raw.equals(ca.raw)) || !ca.ca || !issues(ca, cert)) continue;
      checkValidity(ca);
      const found = walk(ca, [...path, ca]);
      if (found) return found;
    }
    return undefined;
  };
  const path = walk(leaf, [leaf]);
  if (!path) {
    throw untrusted(`${leafLabel} "${subjectCn(leaf)}" (issuer "${oneLine(leaf.issuer)}") does not chain to a configured ${opts.rootLabel ?? 'root'}`);
  }
  return path;
}

/** DNS names a certificate is for: its DNS SANs, else its subject CN. */
export function certificateDnsNames(c: X509Certificate): string[] {
  const sans = (c.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  if (sans.length > 0) return sans;
  const cn = commonName(c);
  return cn ? [cn.toLowerCase()] : [];
}

/** True when `name` is `base` itself or a host under it (eastus.metadata.azure.com under metadata.azure.com). */
export function nameUnder(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/^\*\./, ''), b = base.toLowerCase();
  return n === b || n.endsWith('.' + b);
}
