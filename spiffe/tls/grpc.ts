import * as grpc from '@grpc/grpc-js';
import type * as tls from 'node:tls';
import type { Socket } from 'node:net';
import { readCertificate } from '../x509svid/certificate.ts';
import { agentClaimsOf } from '../x509svid/claims-extension.ts';
import { spiffeIdOf } from '../x509svid/parse.ts';
import { connectMtls, type MtlsClientOptions } from './client.ts';
import type { Peer } from './peer.ts';
import { createMtlsServer, type MtlsServerOptions } from './server.ts';

/**
 * grpc-js over SPIFFE mTLS.
 *
 * grpc-js's own TLS credentials cannot do SPIFFE verification: createSsl and the
 * experimental certificate-provider credentials verify against one merged CA pool,
 * check DNS names, and give no per-connection hook before calls run. So:
 *  - client: grpcChannelCredentials() is a ChannelCredentials whose connector is
 *    connectMtls(): every new HTTP/2 connection presents our latest SVID and verifies
 *    the server (its own trust domain's bundle + authorizer). Rotation: new connections
 *    use the new SVID and bundle; open channels keep their connection.
 *  - server: serveGrpcMtls() accepts on an SDK mTLS server (createMtlsServer, verified
 *    before any HTTP/2 frame is read) and injects each verified TLS socket into the
 *    grpc.Server (createConnectionInjector). Rotation: setSecureContext on the listener,
 *    picked up by the next handshake; established connections are untouched.
 *  - handlers: grpcPeer(call) is the caller's SPIFFE ID and agent claims.
 */

type SecureConnectorResult = { socket: Socket; secure: boolean };

class SpiffeChannelCredentials extends grpc.ChannelCredentials {
  constructor(private readonly o: MtlsClientOptions) { super(); }
  _isSecure(): boolean { return true; }
  _equals(other: grpc.ChannelCredentials): boolean { return other === this; }
  _createSecureConnector(_target: unknown, options: grpc.ChannelOptions, callCredentials?: grpc.CallCredentials) {
    const o = this.o;
    const override = options['grpc.ssl_target_name_override'];
    return {
      connect: async (socket: Socket): Promise<SecureConnectorResult> => {
        const s = await connectMtls({
          ...o, socket, tls: { ...o.tls, ALPNProtocols: ['h2'] },
          ...(typeof override === 'string' ? { servername: override } : {}),
        });
        return { socket: s, secure: true };
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials ?? grpc.credentials.createEmpty(),
      destroy: () => {},
    };
  }
}

/** Channel credentials for `new Client(target, grpcChannelCredentials({ source, authorize }))`. */
export function grpcChannelCredentials(o: MtlsClientOptions): grpc.ChannelCredentials {
  return new SpiffeChannelCredentials(o);
}

export interface GrpcMtlsListener {
  port: number;
  /** The SDK mTLS listener (rotation and verification live here). */
  tlsServer: tls.Server;
  /** Stops accepting; with `force`, drops open connections too. */
  close(opts?: { force?: boolean }): Promise<void>;
}

/** Serves `server`'s services on host:port over SPIFFE mTLS. */
export async function serveGrpcMtls(server: grpc.Server, o: MtlsServerOptions & { host?: string; port?: number }): Promise<GrpcMtlsListener> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<tls.TLSSocket>();
  const tlsServer = createMtlsServer({ ...o, tls: { ALPNProtocols: ['h2'], ...o.tls } }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tlsServer.once('error', reject);
    tlsServer.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => { tlsServer.removeListener('error', reject); resolve(); });
  });
  return {
    port: (tlsServer.address() as { port: number }).port,
    tlsServer,
    close: ({ force = false } = {}) => new Promise<void>((resolve) => {
      tlsServer.close(() => resolve());
      if (force) { injector.destroy(); for (const s of sockets) s.destroy(); } else injector.drain(5_000);
    }),
  };
}

/**
 * The caller of a gRPC handler on a serveGrpcMtls server: its SPIFFE ID and agent
 * claims (the connection was verified at the handshake). Undefined for a caller
 * without a verified certificate.
 */
export function grpcPeer(call: { getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } }): Peer | undefined {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (!raw) return undefined;
  const leaf = readCertificate(raw);
  return { id: spiffeIdOf(leaf), claims: agentClaimsOf(leaf) };
}
