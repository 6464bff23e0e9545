import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { WorkloadProcess } from '../../attestors/workload/types.ts';
import { PeerCredentialsError } from './errors.ts';
import { readPeerCredentials, readPeerPidfd, socketFd, type PeerCredentials } from './peer-credentials.ts';
import { pidOfPidfd, readStartTime } from './proc.ts';

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
 * The process at the other end of one accepted connection, pinned at accept time:
 * kernel credentials, a pidfd where the kernel has one, and the process start time.
 * `verify()` proves the pid still names that same process (no pid reuse), and is
 * called after workload attestation has read /proc for it.
 */
export class PeerProcess {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly startTime: bigint;
  readonly pidfd: number | undefined;
  private readonly procRoot: string;
  private closed = false;

  private constructor(c: PeerCredentials, startTime: bigint, pidfd: number | undefined, procRoot: string) {
    this.pid = c.pid; this.uid = c.uid; this.gid = c.gid;
    this.startTime = startTime; this.pidfd = pidfd; this.procRoot = procRoot;
  }

  /**
   * Reads everything synchronously (the fd is only safe to use inside the
   * 'connection' callback). Throws PeerCredentialsError: the caller drops the socket.
   */
  static capture(sock: Socket, source: PeerCredentialSource = kernelPeerCredentials, procRoot = '/proc'): PeerProcess {
    const fd = socketFd(sock);
    const cred = source.credentials(fd);
    // pidfd first, start time second, then check the pidfd is still that pid: the
    // start time we read then provably belongs to the process that connected.
    const pidfd = source.pidfd(fd);
    try {
      const startTime = readStartTime(cred.pid, procRoot);
      const peer = new PeerProcess(cred, startTime, pidfd, procRoot);
      peer.verify();
      return peer;
    } catch (e) {
      if (pidfd !== undefined) closeQuietly(pidfd);
      throw e;
    }
  }

  get process(): WorkloadProcess {
    return { pid: this.pid, uid: this.uid, gid: this.gid, startTime: this.startTime };
  }

  /** Throws ERR_PEERCRED_PID_REUSED if the process exited or its pid now names another one. */
  verify(): void {
    if (this.closed) throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `connection of pid ${this.pid} is closed`);
    if (this.pidfd !== undefined && pidOfPidfd(this.pidfd) !== this.pid) {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `process ${this.pid} has exited (pidfd)`);
    }
    let now: bigint;
    try {
      now = readStartTime(this.pid, this.procRoot);
    } catch (e) {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `process ${this.pid} has exited`, undefined, e);
    }
    if (now !== this.startTime) {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED',
        `pid ${this.pid} was reused: start time ${now} differs from ${this.startTime} seen at connect`);
    }
  }

  /** Releases the pidfd; called when the connection closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pidfd !== undefined) closeQuietly(this.pidfd);
  }
}

function closeQuietly(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}

export { PeerCredentialsError };
