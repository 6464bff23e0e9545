import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import type { Authorizer } from './authorizers.ts';
import { bundlesOf, svidSecureContext, type MtlsSources } from './context.ts';
import { acceptPeer, certificateChain, verifyChain } from './verify-peer.ts';

/** node:tls client options the SDK leaves to you. */
export type ExtraClientTlsOptions = Omit<tls.ConnectionOptions,
  'key' | 'cert' | 'pfx' | 'ca' | 'secureContext' | 'rejectUnauthorized' | 'checkServerIdentity' | 'socket' | 'host' | 'port' | 'path'>;

export interface MtlsClientOptions extends MtlsSources {
  /** Which server IDs we talk to, decided after the server's SVID is verified. */
  authorize: Authorizer;
  tls?: ExtraClientTlsOptions;
}

export type ConnectTarget = { host?: string; port: number; servername?: string } | { socket: Duplex; servername?: string };

/**
 * One SPIFFE mTLS client connection. Our SVID is read from the source at connect
 * time, so every new connection presents the latest one (contexts are cached per
 * SVID, so a rotation means a fresh context). The server's chain is verified
 * against the bundle of the server's own trust domain and `authorize` decides,
 * before the socket is handed back: nothing is written to an unverified server.
 * Resolves with the socket; getPeer(socket) is the server.
 */
export function connectMtls(o: MtlsClientOptions & ConnectTarget): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    let socket: tls.TLSSocket;
    try {
      const bundles = bundlesOf(o);
      const ctx = svidSecureContext(o.source.getX509Svid());
      const target: tls.ConnectionOptions = 'socket' in o
        ? { socket: o.socket }
        : { host: o.host ?? '127.0.0.1', port: o.port };
      socket = tls.connect({
        ...o.tls, ...target,
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        secureContext: ctx,
        // Node's own verification knows neither SPIFFE bundles nor URI SANs: ours runs below.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
      });
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        socket.removeListener('error', onError);
        try {
          acceptPeer(socket, bundles, o.authorize);
          resolve(socket);
        } catch (err) {
          socket.destroy();
          reject(err);
        }
      });
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * An https.Agent whose connections are SPIFFE mTLS: each new connection presents
 * our latest SVID and is handed to the request only after the server is verified
 * and authorized. Keep-alive connections stay up across rotations.
 *
 *   const agent = createMtlsAgent({ source, authorize: authorizeID('spiffe://example.org/billing') });
 *   https.get('https://127.0.0.1:8443/', { agent }, ...)
 */
export function createMtlsAgent(o: MtlsClientOptions & { agent?: https.AgentOptions }): https.Agent {
  return new MtlsAgent(o);
}

class MtlsAgent extends https.Agent {
  private readonly mtls: MtlsClientOptions;
  constructor(o: MtlsClientOptions & { agent?: https.AgentOptions }) {
    super(o.agent);
    this.mtls = o;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const servername = (options as tls.ConnectionOptions).servername;
    connectMtls({
      ...this.mtls,
      host: options.host ?? options.hostname ?? '127.0.0.1',
      port: Number(options.port ?? 443),
      ...(servername ? { servername } : {}),
    }).then((s) => callback?.(null, s), (err: Error) => callback?.(err, undefined as unknown as Duplex));
    return undefined;
  }
}

/**
 * For node:tls clients you configure yourself with `ca` = the server's trust bundle
 * (PEM) and rejectUnauthorized: a checkServerIdentity that checks the server's
 * SPIFFE ID (Node only checks DNS/IP SANs) after verifying the chain against the
 * bundle of that ID's own trust domain.
 */
export function spiffeCheckServerIdentity(bundles: X509BundleSource, authorize: Authorizer): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    try {
      verifyChain(certificateChain(cert as tls.DetailedPeerCertificate), bundles, authorize);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  };
}
