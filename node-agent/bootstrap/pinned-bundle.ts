import { connect, type DetailedPeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { serverId, type TrustDomain } from '../../spiffe/id.ts';
import { permissionDenied, unavailable } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { fingerprintOf } from '../../spiffe/fingerprint.ts';
import { chainsTo, certInfo } from './cert-info.ts';
import type { TrustBundle } from './bundle.ts';

/**
 * First contact by CA fingerprint: open one TLS connection without validation, read
 * the chain the server presents, and trust it only if a CA certificate in it has the
 * pinned SHA-256 fingerprint, the server's certificate chains to that CA, and the
 * certificate names the server's SPIFFE ID. Nothing secret (the join token) is sent
 * before this succeeds; the pinned CA then validates every later connection.
 */
export async function fetchPinnedBundle(p: { address: string; trustDomain: TrustDomain; fingerprint: string; logger: Logger; timeoutMs?: number }): Promise<TrustBundle> {
  const chain = await presentedChain(p.address, p.timeoutMs ?? 10_000);
  const pinned = chain.find((d) => fingerprintOf(d) === p.fingerprint);
  if (!pinned) {
    const seen = chain.map((d) => `${new X509Certificate(d).subject.replace(/\n/g, ',')} sha256:${fingerprintOf(d)}`);
    throw permissionDenied('ERR_CA_FINGERPRINT_MISMATCH',
      `no certificate presented by ${p.address} has the pinned CA fingerprint sha256:${p.fingerprint} (presented: ${seen.join('; ') || 'none'}${chain.length === 1 ? '; the server sent only its leaf, so use a trust bundle file' : ''})`);
  }
  if (!new X509Certificate(pinned).ca) {
    throw permissionDenied('ERR_CA_FINGERPRINT_NOT_CA', `the certificate with fingerprint sha256:${p.fingerprint} is not a CA certificate`);
  }
  const leaf = chain[0]!;
  if (!chainsTo(chain, [pinned])) {
    throw permissionDenied('ERR_CA_FINGERPRINT_CHAIN', `the server certificate of ${p.address} does not chain to the pinned CA`);
  }
  const want = serverId(p.trustDomain).toString();
  const got = certInfo(leaf).spiffeId;
  if (got !== want) throw permissionDenied('ERR_SERVER_ID_MISMATCH', `server at ${p.address} presented ${got ?? 'no SPIFFE ID'}, expected ${want}`);
  p.logger.info('server CA matched pinned fingerprint', { fingerprint: `sha256:${p.fingerprint}`, server: p.address });
  return { trustDomain: p.trustDomain, x509Authorities: [pinned], jwtAuthorities: [], sequence: 0, refreshHint: 0 };
}

function presentedChain(address: string, timeoutMs: number): Promise<Uint8Array[]> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    // Validation is done by hand above, against the pinned fingerprint.
    const sock = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => { sock.destroy(); reject(unavailable('ERR_SERVER_UNREACHABLE', `no TLS handshake with ${address} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const out: Uint8Array[] = [];
      const seen = new Set<string>();
      let c: DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
      while (c && c.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        out.push(new Uint8Array(c.raw));
        c = c.issuerCertificate;
      }
      sock.end();
      resolve(out);
    });
    sock.once('error', (e) => { clearTimeout(timer); reject(unavailable('ERR_SERVER_UNREACHABLE', `cannot reach server ${address}: ${e.message}`, e)); });
  });
}
