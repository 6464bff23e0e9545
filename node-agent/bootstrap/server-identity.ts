import type { PeerCertificate } from 'node:tls';
import { serverId, type TrustDomain } from '../../spiffe/id.ts';

/**
 * Agents authenticate the server by its SPIFFE ID (spiffe://<td>/tessera/server),
 * never by host name: the chain is validated against the bundle by TLS, then this
 * check replaces Node's hostname verification.
 */
export function uriSans(cert: { subjectaltname?: string }): string[] {
  return (cert.subjectaltname ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

export function serverIdentityCheck(td: TrustDomain): (host: string, cert: PeerCertificate) => Error | undefined {
  const want = serverId(td).toString();
  return (_host, cert) => {
    const uris = uriSans(cert);
    if (uris.length === 1 && uris[0] === want) return undefined;
    return new Error(`server presented ${uris.length ? uris.join(', ') : 'no SPIFFE ID'}, expected ${want}`);
  };
}
