import { readCertificate } from '../../spiffe/x509svid/certificate.ts';

/**
 * Authorities an operator tainted (the server's bundle carries their IDs): every SVID
 * they signed is replaced at once instead of at its half-life. An X.509 authority is
 * named by its subject key ID, which a leaf carries as its authority key ID, so the
 * check needs no chain building and no signature check.
 */
export class TaintedAuthorities {
  private x509 = new Set<string>();
  private jwt = new Set<string>();

  /** Replaces the sets; returns the IDs that are newly tainted (nothing to do when both are empty). */
  update(x509Ids: readonly string[], jwtKids: readonly string[]): { x509: string[]; jwt: string[] } {
    const added = { x509: x509Ids.filter((id) => !this.x509.has(id)), jwt: jwtKids.filter((k) => !this.jwt.has(k)) };
    this.x509 = new Set(x509Ids);
    this.jwt = new Set(jwtKids);
    return added;
  }

  x509Tainted(issuerKeyId: string): boolean { return issuerKeyId !== '' && this.x509.has(issuerKeyId); }
  jwtTainted(kid: string): boolean { return kid !== '' && this.jwt.has(kid); }
}

/** Hex authority key ID of a certificate ('' when it has none). */
export function issuerKeyId(certDer: Uint8Array): string {
  try {
    const aki = readCertificate(certDer).authorityKeyId;
    return aki ? Buffer.from(aki).toString('hex') : '';
  } catch { return ''; }
}

/** The kid of a compact JWS header ('' when unreadable). */
export function jwtKid(token: string): string {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : '';
  } catch { return ''; }
}
