import { X509Certificate } from 'node:crypto';
import type { AgentClaims } from '../agent-claims.ts';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { X509SvidError, type X509SvidReason } from '../errors.ts';
import type { SpiffeId } from '../id.ts';
import { readCertificate, type CertificateFields } from './certificate.ts';
import { agentClaimsOf } from './claims-extension.ts';
import { checkLeaf, checkSigningCertificate } from './parse.ts';

/**
 * X.509-SVID validation (X509-SVID 5): RFC 5280 path building from the leaf to an
 * authority of the bundle of the leaf's own trust domain (never a merged pool),
 * then the SPIFFE leaf rules. Signatures and issuer matching use node:crypto
 * X509Certificate (OpenSSL); the extension rules use our DER reader.
 */

export interface VerifiedX509Svid {
  id: SpiffeId;
  claims: AgentClaims;
  /** Leaf, intermediates, then the bundle authority that anchored the path. */
  verifiedChain: Uint8Array[];
}

const MAX_PATH = 8;

interface Node {
  der: Uint8Array;
  fields: CertificateFields;
  x509: X509Certificate;
  selfIssued: boolean;
}

// Bundle authorities are long-lived objects checked on every handshake: parse once.
const anchorCache = new WeakMap<Uint8Array, Node>();

function node(der: Uint8Array): Node {
  const fields = readCertificate(der);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', 'certificate is not parseable', { cause: err });
  }
  return { der, fields, x509, selfIssued: Buffer.compare(fields.issuer, fields.subject) === 0 };
}

function anchor(der: Uint8Array): Node {
  let n = anchorCache.get(der);
  if (!n) { n = node(der); anchorCache.set(der, n); }
  return n;
}

function outsideValidity(f: CertificateFields, now: Date): X509SvidReason | undefined {
  if (now.getTime() < f.notBefore.getTime()) return 'not_yet_valid';
  if (now.getTime() > f.notAfter.getTime()) return 'expired';
  return undefined;
}

/** Did `issuer` sign `child`? Name chaining (OpenSSL's checkIssued, incl. AKI/SKI) plus the signature. */
function signed(issuer: Node, child: Node): boolean {
  if (Buffer.compare(child.fields.issuer, issuer.fields.subject) !== 0 && !child.x509.checkIssued(issuer.x509)) return false;
  try { return child.x509.verify(issuer.x509.publicKey); } catch { return false; }
}

export function verifyX509Svid(chain: Uint8Array[], bundles: X509BundleSource, opts: { now?: Date } = {}): VerifiedX509Svid {
  if (chain.length === 0) throw new X509SvidError('ERR_X509SVID_INVALID', 'malformed', 'certificate chain is empty');
  if (chain.length > MAX_PATH) throw new X509SvidError('ERR_X509SVID_INVALID', 'path_length_exceeded', `chain has more than ${MAX_PATH} certificates`);
  const now = opts.now ?? new Date();
  const leaf = node(chain[0]);
  const id = checkLeaf(leaf.fields);
  const claims = agentClaimsOf(leaf.fields);

  const bundle = bundles.getX509BundleForTrustDomain(id.trustDomain);
  if (!bundle || !bundle.trustDomain.equals(id.trustDomain)) {
    throw new X509SvidError('ERR_BUNDLE_NOT_FOUND', 'bundle_not_found', `no X.509 bundle for trust domain ${id.trustDomain}`);
  }
  const leafTime = outsideValidity(leaf.fields, now);
  if (leafTime) throw new X509SvidError('ERR_X509SVID_EXPIRED', leafTime, `leaf certificate is ${leafTime.replace(/_/g, ' ')} at ${now.toISOString()}`);

  const anchors = bundle.authorities.map(anchor);
  const intermediates = chain.slice(1).map(node);

  // The most specific reason a candidate issuer was refused, reported if no path is found.
  let refusal: { code: 'ERR_X509SVID_UNTRUSTED' | 'ERR_X509SVID_EXPIRED'; reason: X509SvidReason; message: string } | undefined;
  const refuse = (code: 'ERR_X509SVID_UNTRUSTED' | 'ERR_X509SVID_EXPIRED', reason: X509SvidReason, message: string) => {
    if (!refusal) refusal = { code, reason, message };
  };

  /** Checks a would-be issuer at depth `below` (non-self-issued intermediates beneath it). */
  const usableIssuer = (n: Node, below: number): boolean => {
    try {
      checkSigningCertificate(n.fields);
    } catch (err) {
      if (err instanceof X509SvidError) { refuse('ERR_X509SVID_UNTRUSTED', err.reason, err.message); return false; }
      throw err;
    }
    const pathLen = n.fields.basicConstraints?.pathLen;
    if (pathLen !== undefined && below > pathLen) {
      refuse('ERR_X509SVID_UNTRUSTED', 'path_length_exceeded', `pathLenConstraint ${pathLen} exceeded`);
      return false;
    }
    const t = outsideValidity(n.fields, now);
    if (t) { refuse('ERR_X509SVID_EXPIRED', t, `signing certificate is ${t.replace(/_/g, ' ')} at ${now.toISOString()}`); return false; }
    return true;
  };

  // Depth-first search: anchors first at every step, then each unused intermediate.
  const extend = (path: Node[], below: number): Node[] | undefined => {
    const cur = path[path.length - 1];
    for (const a of anchors) {
      if (signed(a, cur) && usableIssuer(a, below)) return [...path, a];
    }
    if (path.length >= MAX_PATH) return undefined;
    for (const i of intermediates) {
      if (path.includes(i) || !signed(i, cur) || !usableIssuer(i, below)) continue;
      const found = extend([...path, i], below + (i.selfIssued ? 0 : 1));
      if (found) return found;
    }
    return undefined;
  };

  const path = extend([leaf], 0);
  if (!path) {
    if (refusal) throw new X509SvidError(refusal.code, refusal.reason, refusal.message);
    throw new X509SvidError('ERR_X509SVID_UNTRUSTED', 'unauthorized_chain',
      `leaf ${id} does not chain to an authority of trust domain ${id.trustDomain}`);
  }
  return { id, claims, verifiedChain: path.map((n) => n.der) };
}
