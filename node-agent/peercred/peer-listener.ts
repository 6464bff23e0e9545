import net from 'node:net';
import { chmodSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { kernelPeerCredentials, PeerProcess, type PeerCredentialSource } from './peer-process.ts';

/** What grpc-js `Server#createConnectionInjector` returns (the part we use). */
export interface ConnectionSink { injectConnection(connection: Duplex): void }

export interface PeerListenerOptions {
  socketPath: string;
  sink: ConnectionSink;
  logger?: Logger;
  /** Default: SO_PEERCRED/SO_PEERPIDFD from the kernel. */
  source?: PeerCredentialSource;
  procRoot?: string;
  /** Socket file mode; default 0777 (the Workload API is for every local user). */
  mode?: number;
}

const TOKEN_PREFIX = 'peercred:';

/**
 * Accepts Unix connections on our own net.Server, pins each one to the kernel's
 * credentials for its peer, and hands it to grpc-js. The connection is tagged by
 * shadowing `remoteAddress` with an own property: grpc-js builds `call.getPeer()`
 * and `getConnectionInfo().remoteAddress` from it (through http2's socket proxy),
 * so every call maps back to exactly its own connection. A connection whose
 * credentials cannot be read is dropped before grpc-js ever sees it.
 */
export class PeerCredentialListener {
  private readonly opts: PeerListenerOptions;
  private readonly logger: Logger;
  private readonly server: net.Server;
  private readonly peers = new Map<string, { peer: PeerProcess; sock: net.Socket }>();
  private seq = 0;
  private dropped = 0;

  constructor(opts: PeerListenerOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? silentLogger;
    this.server = net.createServer({ pauseOnConnect: false }, (sock) => this.accept(sock));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.socketPath, () => {
        this.server.off('error', reject);
        this.server.on('error', (e) => this.logger.error('workload socket error', { err: e }));
        try { chmodSync(this.opts.socketPath, this.opts.mode ?? 0o777); } catch (e) { reject(e); return; }
        resolve();
      });
    });
  }

  /** The pinned peer of the connection a call arrived on, by the token grpc-js reports. */
  lookup(remoteAddress: string | undefined): PeerProcess | undefined {
    if (!remoteAddress?.startsWith(TOKEN_PREFIX)) return undefined;
    return this.peers.get(remoteAddress)?.peer;
  }

  get connections(): number { return this.peers.size; }
  /** Connections refused because their credentials could not be read. */
  get droppedConnections(): number { return this.dropped; }

  /** Stops accepting; open connections stay (grpc-js drains them). */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Ends every connection still open (after the drain grace period). */
  destroyAll(): void {
    for (const { sock } of this.peers.values()) sock.destroy();
  }

  private accept(sock: net.Socket): void {
    let peer: PeerProcess;
    try {
      // Synchronously, first thing: the fd is only safe to use here.
      peer = PeerProcess.capture(sock, this.opts.source ?? kernelPeerCredentials, this.opts.procRoot);
    } catch (e) {
      this.dropped++;
      this.logger.warn('dropping workload connection: peer credentials unreadable', { err: e as Error });
      sock.destroy();
      return;
    }
    const token = `${TOKEN_PREFIX}${++this.seq}`;
    this.peers.set(token, { peer, sock });
    sock.once('close', () => {
      this.peers.delete(token);
      peer.close();
    });
    Object.defineProperty(sock, 'remoteAddress', { value: token, configurable: false, enumerable: true });
    this.opts.sink.injectConnection(sock);
  }
}
