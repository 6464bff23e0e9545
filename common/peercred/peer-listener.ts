import net from 'node:net';
import { chmodSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { TesseraError } from '../errors.ts';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../logger.ts';

/** What grpc-js `Server#createConnectionInjector` returns (the part we use). */
export interface ConnectionSink { injectConnection(connection: Duplex): void }

/** What a listener keeps per connection: at least the kernel's pid and uid of the peer. */
export interface Peer {
  readonly pid: number;
  readonly uid: number;
  /** Releases what the capture holds (a pidfd); called when the connection closes. */
  close?(): void;
}

export interface PeerListenerOptions<P extends Peer> {
  socketPath: string;
  sink: ConnectionSink;
  /**
   * Reads the peer of an accepted socket, synchronously: the fd is only safe to use in
   * the 'connection' callback. Throws to have the connection dropped (e.g.
   * `capturePeerCredentials`, or the node agent's pinned PeerProcess).
   */
  capture(sock: net.Socket): P;
  /** Names the socket in log lines ("workload", "admin"). Default "peer". */
  name?: string;
  logger?: Logger;
  /** Socket file mode; default 0600 (the owner only): a socket meant for every local user says so. */
  mode?: number;
  /** Open connections in all; more are closed at accept. Default 4096. */
  maxConnections?: number;
  /**
   * Open connections per caller uid, so one local user cannot use up the process's file
   * descriptors and lock every other user out. Default 1024 (all containers without a
   * user namespace share uid 0).
   */
  maxConnectionsPerUid?: number;
  /**
   * Once the server has ended its side of a connection (e.g. grpc-js closing an idle
   * session: GOAWAY, then FIN), how long the peer has to close its side before the
   * socket is destroyed. A peer that never reads would otherwise never see the FIN and
   * hold the connection half-open forever. Default 2 s.
   */
  closeGraceMs?: number;
  /**
   * A connection that sends nothing for this long after it was accepted is closed
   * (ms). Until its first bytes arrive it is not handed to the sink, so a connection
   * that never sends a request costs a socket and nothing of grpc-js (no HTTP/2
   * session). Default: no limit. (Idle HTTP/2 connections are the sink's business.)
   */
  firstByteTimeoutMs?: number;
}

export const DEFAULT_MAX_CONNECTIONS = 4096;
export const DEFAULT_MAX_CONNECTIONS_PER_UID = 1024;
export const DEFAULT_CLOSE_GRACE_MS = 2_000;

const TOKEN_PREFIX = 'peercred:';

/**
 * Accepts Unix connections on our own net.Server, pins each one to the kernel's
 * credentials for its peer (what `capture` makes of them), and hands it to grpc-js.
 * The connection is tagged by shadowing `remoteAddress` with an own property: grpc-js builds `call.getPeer()`
 * and `getConnectionInfo().remoteAddress` from it (through http2's socket proxy),
 * so every call maps back to exactly its own connection. A connection whose
 * credentials cannot be read is dropped before grpc-js ever sees it.
 */
export class PeerListener<P extends Peer> {
  private readonly opts: PeerListenerOptions<P>;
  private readonly logger: Logger;
  private readonly name: string;
  private readonly server: net.Server;
  private readonly peers = new Map<string, { peer: P; sock: net.Socket }>();
  private readonly perUid = new Map<number, number>();
  private seq = 0;
  private dropped = 0;
  private refused = 0;
  private silent = 0;
  /** dev:ino of the socket file we bound, so close never unlinks someone else's. */
  private boundId: string | undefined;

  constructor(opts: PeerListenerOptions<P>) {
    this.opts = opts;
    this.logger = opts.logger ?? silentLogger;
    this.name = opts.name ?? 'peer';
    this.server = net.createServer({ pauseOnConnect: false }, (sock) => this.accept(sock));
  }

  /**
   * Binds under a temporary name in the same directory, sets the mode, and only then
   * renames the socket into place. So the socket is never reachable with the mode the
   * umask gave it, and libuv (which unlinks the name it bound when the server closes)
   * unlinks only the temporary name, never whatever is at the real path by then:
   * `unlinkSocket()` removes that one only if it is still ours.
   */
  listen(): Promise<void> {
    const final = this.opts.socketPath;
    const temp = join(dirname(final), `.${randomBytes(6).toString('hex')}.sock`);
    if (Buffer.byteLength(temp) > 107) {
      return Promise.reject(new TesseraError('invalid_argument', 'ERR_SOCKET_PATH', `socket directory "${dirname(final)}" is too long for a Unix socket path`));
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(temp, () => {
        this.server.off('error', reject);
        this.server.on('error', (e) => this.logger.error(`${this.name} socket error`, { err: e }));
        try {
          chmodSync(temp, this.opts.mode ?? 0o600);
          const st = lstatSync(temp);
          this.boundId = `${st.dev}:${st.ino}`;
          renameSync(temp, final);
        } catch (e) {
          try { unlinkSync(temp); } catch { /* not there */ }
          this.server.close();
          reject(e);
          return;
        }
        resolve();
      });
    });
  }

  /** The pinned peer of the connection a call arrived on, by the token grpc-js reports. */
  lookup(remoteAddress: string | undefined): P | undefined {
    if (!remoteAddress?.startsWith(TOKEN_PREFIX)) return undefined;
    return this.peers.get(remoteAddress)?.peer;
  }

  get connections(): number { return this.peers.size; }
  /** Connections refused because their credentials could not be read. */
  get droppedConnections(): number { return this.dropped; }
  /** Connections refused because a connection limit was reached. */
  get refusedConnections(): number { return this.refused; }
  /** Connections closed because they sent nothing within firstByteTimeoutMs. */
  get silentConnectionsClosed(): number { return this.silent; }

  /** Removes the socket file if it still is the one we bound (not a replacement). */
  unlinkSocket(): void {
    if (!this.boundId) return;
    try {
      const st = lstatSync(this.opts.socketPath);
      if (st.isSocket() && `${st.dev}:${st.ino}` === this.boundId) unlinkSync(this.opts.socketPath);
    } catch { /* already gone */ }
  }

  /** Stops accepting; open connections stay (grpc-js drains them). */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Ends every connection still open (after the drain grace period). */
  destroyAll(): void {
    for (const { sock } of this.peers.values()) sock.destroy();
  }

  private accept(sock: net.Socket): void {
    if (this.peers.size >= (this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS)) {
      this.refuse(sock, { open: this.peers.size });
      return;
    }
    let peer: P;
    try {
      // Synchronously, first thing: the fd is only safe to use here.
      peer = this.opts.capture(sock);
    } catch (e) {
      this.dropped++;
      // A caller can cause this at will (connect, exit): log the first and every 1000th only.
      if (this.dropped % 1000 === 1) this.logger.warn(`dropping ${this.name} connection: peer credentials unreadable`, { err: e as Error, dropped_total: this.dropped });
      sock.destroy();
      return;
    }
    const uidCount = this.perUid.get(peer.uid) ?? 0;
    if (uidCount >= (this.opts.maxConnectionsPerUid ?? DEFAULT_MAX_CONNECTIONS_PER_UID)) {
      peer.close?.();
      this.refuse(sock, { uid: peer.uid, pid: peer.pid, open_for_uid: uidCount });
      return;
    }
    this.perUid.set(peer.uid, uidCount + 1);
    // Tokens are never reused: a call still in flight on a closed connection finds
    // nothing (PermissionDenied), never a later connection's peer.
    const token = `${TOKEN_PREFIX}${++this.seq}`;
    this.peers.set(token, { peer, sock });
    let linger: NodeJS.Timeout | undefined;
    let silence: NodeJS.Timeout | undefined;
    sock.once('finish', () => {
      linger = setTimeout(() => sock.destroy(), this.opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
      linger.unref();
    });
    sock.once('close', () => {
      clearTimeout(linger);
      clearTimeout(silence);
      this.peers.delete(token);
      const n = (this.perUid.get(peer.uid) ?? 1) - 1;
      if (n > 0) this.perUid.set(peer.uid, n); else this.perUid.delete(peer.uid);
      peer.close?.();
    });
    Object.defineProperty(sock, 'remoteAddress', { value: token, configurable: false, enumerable: true });
    const limit = this.opts.firstByteTimeoutMs;
    if (limit === undefined) { this.opts.sink.injectConnection(sock); return; }
    // Bytes read while waiting stay buffered on the socket; http2 takes them over on injection.
    const onReadable = () => {
      sock.off('readable', onReadable);
      clearTimeout(silence);
      if (sock.readableLength === 0) { sock.destroy(); return; } // closed without a byte
      this.opts.sink.injectConnection(sock);
    };
    sock.on('readable', onReadable);
    silence = setTimeout(() => {
      sock.off('readable', onReadable);
      this.silent++;
      // A caller can cause this at will: the first and every 1000th only.
      if (this.silent % 1000 === 1) this.logger.info(`closing ${this.name} connection: nothing sent within the idle timeout`, { uid: peer.uid, pid: peer.pid, idle_timeout_ms: limit, closed_total: this.silent });
      sock.destroy();
    }, limit);
    silence.unref();
  }

  private refuse(sock: net.Socket, fields: Record<string, number>): void {
    this.refused++;
    // The first and then every 1000th: an operator sees the flood, the flood does not fill the log.
    if (this.refused % 1000 === 1) this.logger.warn(`refusing ${this.name} connection: too many connections`, { ...fields, refused_total: this.refused });
    sock.destroy();
  }
}
