import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { SpiffeError } from '../errors.ts';
import { verifyX509Svid } from '../x509svid/verify.ts';
import type { Authorizer } from './authorizers.ts';
import { setPeer, type Peer } from './peer.ts';

/**
 * The certificates a TLS peer presented, leaf first, as DER. Node's detailed peer
 * certificate links each certificate to its issuer; the walk stops at a repeat.
 */
export function peerChain(socket: TLSSocket): Uint8Array[] {
  const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  if (!leaf || !leaf.raw) {
    throw new SpiffeError('ERR_PEER_NO_CERTIFICATE', 'the TLS peer presented no certificate');
  }
  return certificateChain(leaf);
}

/** The DER chain linked from a detailed peer certificate, leaf first, stopping at a repeat. */
export function certificateChain(leaf: DetailedPeerCertificate): Uint8Array[] {
  const chain: Uint8Array[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  for (let c: DetailedPeerCertificate | undefined = leaf; c && c.raw && !seen.has(c); c = c.issuerCertificate) {
    seen.add(c);
    chain.push(c.raw);
  }
  return chain;
}

/**
 * SPIFFE verification of a TLS peer: the presented chain is verified against the
 * X.509 bundle of the leaf's own trust domain (never a merged pool), the leaf must
 * be an X.509-SVID (one URI SAN, not a CA, ...), then the authorizer decides.
 * Throws X509SvidError / AuthorizationError / ERR_PEER_NO_CERTIFICATE.
 */
export function verifyPeer(socket: TLSSocket, bundles: X509BundleSource, authorize: Authorizer, now?: Date): Peer {
  return verifyChain(peerChain(socket), bundles, authorize, now);
}

/** verifyPeer for a chain already in hand (leaf first). */
export function verifyChain(chain: Uint8Array[], bundles: X509BundleSource, authorize: Authorizer, now?: Date): Peer {
  const v = verifyX509Svid(chain, bundles, now ? { now } : {});
  const peer: Peer = { id: v.id, claims: v.claims, verifiedChain: v.verifiedChain };
  authorize(peer);
  return peer;
}

/**
 * verifyPeer, then records the peer (getPeer(socket)) and marks the socket authorized:
 * our SPIFFE verification is the authorization, so socket consumers (grpc-js
 * getAuthContext, http frameworks) see an authorized peer. Throws like verifyPeer.
 */
export function acceptPeer(socket: TLSSocket, bundles: X509BundleSource, authorize: Authorizer): Peer {
  const peer = verifyPeer(socket, bundles, authorize);
  setPeer(socket, peer);
  (socket as { authorized: boolean }).authorized = true;
  return peer;
}
