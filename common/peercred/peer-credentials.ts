import type { Socket } from 'node:net';
import { ENOPROTOOPT, libcSockopt, SO_PEERCRED, SO_PEERPIDFD, SOL_SOCKET, type Ucred } from './libc.ts';
import { PeerCredentialsError } from './errors.ts';

/** Who the kernel says connected: captured at connect(), effective ids. */
export interface PeerCredentials { pid: number; uid: number; gid: number }

/** Reads SO_PEERCRED of a connected Unix socket fd. Throws PeerCredentialsError. */
export function readPeerCredentials(fd: number): PeerCredentials {
  const c = libcSockopt();
  const out: Partial<Ucred> = {};
  const len: [number] = [c.ucredSize];
  if (c.getsockoptUcred(fd, SOL_SOCKET, SO_PEERCRED, out, len) !== 0) {
    const errno = c.errno();
    throw new PeerCredentialsError('ERR_PEERCRED_READ', `getsockopt(SO_PEERCRED) on fd ${fd} failed: errno ${errno}`, errno);
  }
  // pid 0 means "no peer process" (e.g. a socketpair made before fork): nothing to attest.
  if (!out.pid || out.pid <= 0 || out.uid === undefined || out.gid === undefined) {
    throw new PeerCredentialsError('ERR_PEERCRED_READ', `SO_PEERCRED on fd ${fd} returned no peer process (pid ${out.pid})`);
  }
  return { pid: out.pid, uid: out.uid, gid: out.gid };
}

/**
 * Reads SO_PEERPIDFD: a pidfd of the connecting process that keeps pointing at that
 * process even after its pid is reused. Returns undefined when the kernel is older
 * than 6.5 (ENOPROTOOPT); any other failure (peer already gone) throws. The caller
 * owns the fd and must close it.
 */
export function readPeerPidfd(fd: number): number | undefined {
  const c = libcSockopt();
  const out: [number] = [-1];
  const len: [number] = [4];
  if (c.getsockoptInt(fd, SOL_SOCKET, SO_PEERPIDFD, out, len) !== 0) {
    const errno = c.errno();
    if (errno === ENOPROTOOPT) return undefined;
    throw new PeerCredentialsError('ERR_PEERCRED_READ', `getsockopt(SO_PEERPIDFD) on fd ${fd} failed: errno ${errno}`, errno);
  }
  return out[0];
}

/**
 * The OS fd behind a net.Socket. Internal to Node (`_handle.fd`), so read it only
 * synchronously in the 'connection' callback, before anything else can touch it.
 */
export function socketFd(sock: Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new PeerCredentialsError('ERR_PEERCRED_READ', 'accepted socket has no file descriptor');
  }
  return fd;
}

/** Test seam: how a connection's credentials are read (default: the kernel via koffi). */
export interface PeerCredentialSource {
  credentials(fd: number): PeerCredentials;
  /** undefined when the kernel has no SO_PEERPIDFD. */
  pidfd(fd: number): number | undefined;
}

export const kernelPeerCredentials: PeerCredentialSource = {
  credentials: readPeerCredentials,
  pidfd: readPeerPidfd,
};

/**
 * The credentials of an accepted socket's peer, read synchronously (call it in the
 * 'connection' callback). Throws PeerCredentialsError: the caller drops the socket.
 */
export function capturePeerCredentials(sock: Socket, source: PeerCredentialSource = kernelPeerCredentials): PeerCredentials {
  return source.credentials(socketFd(sock));
}
