import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as tls from 'node:tls';
import { isUpdateNotifier } from '../source/types.ts';
import type { X509Svid } from '../x509svid/parse.ts';
import type { Authorizer } from './authorizers.ts';
import { bundlesOf, svidContextOptions, type MtlsSources } from './context.ts';
import { getPeer, type Peer } from './peer.ts';
import { acceptPeer } from './verify-peer.ts';

/** node:tls server options the SDK leaves to you (it owns key/cert/ca and peer verification). */
export type ExtraServerTlsOptions = Omit<tls.TlsOptions, 'key' | 'cert' | 'pfx' | 'ca' | 'requestCert' | 'rejectUnauthorized' | 'secureContext' | 'SNICallback'>;

export interface MtlsServerOptions extends MtlsSources {
  /** Who may connect, decided after the peer's SVID is verified. */
  authorize: Authorizer;
  tls?: ExtraServerTlsOptions;
  /** A peer was refused (bad chain, wrong trust domain, unauthorized ID, no certificate). */
  onReject?: (err: Error, socket: tls.TLSSocket) => void;
  /** Our SVID could not be (re)loaded; the previous certificate stays in use. */
  onError?: (err: Error) => void;
}

/**
 * Makes any node:tls server (tls.Server, https.Server, http2 secure server) a SPIFFE
 * mTLS server:
 *  - requestCert at the TLS layer, rejectUnauthorized false: OpenSSL only proves the
 *    peer holds the key; the chain is verified by verifyPeer (bundle of the peer's own
 *    trust domain, X.509-SVID leaf rules) and then `authorize`, in the handshake's
 *    'secureConnection' event, before any listener sees the socket: a refused peer is
 *    destroyed before the application reads a byte;
 *  - our SVID from `source`; when it changes (rotation) the next accepted connection
 *    gets a fresh context via setSecureContext (also eagerly on the source's update
 *    event). Established connections keep their session.
 *  - the verified peer is available as getPeer(socket) / getPeer(req).
 */
export function secureServer<S extends tls.Server>(server: S, o: MtlsServerOptions): S {
  const bundles = bundlesOf(o);
  let current: X509Svid | undefined;
  const refresh = () => {
    try {
      const svid = o.source.getX509Svid();
      if (svid === current) return;
      server.setSecureContext(svidContextOptions(svid));
      current = svid;
    } catch (err) {
      o.onError?.(err as Error);
    }
  };
  refresh();
  if (!current) throw new Error('mTLS server: the source has no usable X.509-SVID');
  // Runs before tls.Server's own connection listener wraps the socket with the shared context.
  server.prependListener('connection', refresh);
  if (isUpdateNotifier(o.source)) {
    const off = o.source.onUpdate(refresh);
    server.once('close', off);
  }

  // Gate 'secureConnection' itself, so every listener (also ones added later, and
  // the http/http2 connection listeners) only ever sees verified peers.
  const emit = server.emit;
  server.emit = function gatedEmit(this: S, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'secureConnection') {
      const socket = args[0] as tls.TLSSocket;
      try {
        acceptPeer(socket, bundles, o.authorize);
      } catch (err) {
        socket.destroy();
        o.onReject?.(err as Error, socket);
        return false;
      }
    }
    return (emit as (this: S, e: string | symbol, ...a: unknown[]) => boolean).call(this, event, ...args);
  } as S['emit'];
  return server;
}

/** A node:tls mTLS server; `listener` gets only verified, authorized peers. */
export function createMtlsServer(o: MtlsServerOptions, listener?: (socket: tls.TLSSocket, peer: Peer) => void): tls.Server {
  const server = tls.createServer({ ...o.tls, requestCert: true, rejectUnauthorized: false });
  secureServer(server, o);
  if (listener) {
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      listener(socket, getPeer(socket)!);
    });
  }
  return server;
}

/** An HTTPS server with SPIFFE mTLS; in handlers, getPeer(req) is the caller. */
export function createMtlsHttpsServer(
  o: MtlsServerOptions & { https?: Omit<https.ServerOptions, keyof tls.TlsOptions> },
  requestListener?: (req: IncomingMessage, res: ServerResponse) => void,
): https.Server {
  const server = https.createServer({ ...o.https, ...o.tls, requestCert: true, rejectUnauthorized: false }, requestListener);
  return secureServer(server, o);
}
