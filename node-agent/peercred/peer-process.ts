import { closeSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { WorkloadProcess } from '../../attestors/workload/types.ts';
import { PeerCredentialsError } from '../../common/peercred/errors.ts';
import { kernelPeerCredentials, socketFd, type PeerCredentials, type PeerCredentialSource } from '../../common/peercred/peer-credentials.ts';
import { pidfdExited } from '../../common/peercred/pidfd.ts';
import { readProcStat, readStartTime } from './proc.ts';

export { kernelPeerCredentials, type PeerCredentialSource };

/** What attestation receives: the process plus, when readable, its executable's identity. */
export interface PinnedWorkloadProcess extends WorkloadProcess {
  /** dev:ino of /proc/<pid>/exe at accept time; undefined when it could not be read. */
  exeId?: string;
}

/**
 * The process at the other end of one accepted connection, pinned at accept time:
 * kernel credentials, a pidfd where the kernel has one, the process start time and
 * the identity of the program it runs. `verify()` proves the pid still names that
 * same process (no pid reuse), running the same program (no execve since accept),
 * and is called after workload attestation has read /proc for it.
 *
 * Limits (as in SPIRE): an exec between connect() and our accept is not seen, and a
 * process can hand its connected socket to another (fork, SCM_RIGHTS); that other
 * process is then served as the original for as long as the original lives.
 */
export class PeerProcess {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  readonly startTime: bigint;
  readonly pidfd: number | undefined;
  readonly exeId: string | undefined;
  private readonly procRoot: string;
  private closed = false;

  private constructor(c: PeerCredentials, startTime: bigint, pidfd: number | undefined, procRoot: string) {
    this.pid = c.pid; this.uid = c.uid; this.gid = c.gid;
    this.startTime = startTime; this.pidfd = pidfd; this.procRoot = procRoot;
    this.exeId = exeIdOf(c.pid, procRoot);
  }

  /**
   * Reads everything synchronously (the fd is only safe to use inside the
   * 'connection' callback). Throws PeerCredentialsError: the caller drops the socket.
   */
  static capture(sock: Socket, source: PeerCredentialSource = kernelPeerCredentials, procRoot = '/proc'): PeerProcess {
    const fd = socketFd(sock);
    const cred = source.credentials(fd);
    // pidfd first, start time second, then check the pidfd has not exited: the start
    // time we read then provably belongs to the process that connected (see verify()).
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

  get process(): PinnedWorkloadProcess {
    return { pid: this.pid, uid: this.uid, gid: this.gid, startTime: this.startTime, exeId: this.exeId };
  }

  /**
   * Throws ERR_PEERCRED_PID_REUSED if the process exited (zombies included) or its pid
   * now names another one, ERR_PEERCRED_EXEC if it has exec'd another program since
   * accept (its /proc facts would describe a program that did not connect).
   *
   * With a pidfd, "not exited" is all pid reuse needs, and /proc/<pid>/stat is not
   * re-read: the pidfd holds the struct pid of the process that connected, and the
   * kernel frees a pid number only when that process is reaped. A process never comes
   * back from exit, so a pidfd that has not exited now has not exited at any moment
   * since it was taken: the number named this process throughout, and every /proc/<pid>
   * read made since (the start time at capture, attestation) described it. Without a
   * pidfd (a kernel without SO_PEERPIDFD) the start time is the only proof against
   * reuse, so /proc/<pid>/stat is read on every check.
   */
  verify(): void {
    if (this.closed) throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `connection of pid ${this.pid} is closed`);
    if (this.pidfd !== undefined) {
      if (pidfdExited(this.pidfd)) throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `process ${this.pid} has exited (pidfd)`);
    } else {
      this.verifyStartTime();
    }
    if (this.exeId !== undefined && exeIdOf(this.pid, this.procRoot) !== this.exeId) {
      throw new PeerCredentialsError('ERR_PEERCRED_EXEC', `process ${this.pid} has executed another program since it connected`);
    }
  }

  private verifyStartTime(): void {
    let now: { state: string; startTime: bigint };
    try {
      now = readProcStat(this.pid, this.procRoot);
    } catch (e) {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `process ${this.pid} has exited`, undefined, e);
    }
    if (now.startTime !== this.startTime) {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED',
        `pid ${this.pid} was reused: start time ${now.startTime} differs from ${this.startTime} seen at connect`);
    }
    if (now.state === 'Z' || now.state === 'X') {
      throw new PeerCredentialsError('ERR_PEERCRED_PID_REUSED', `process ${this.pid} has exited (${now.state === 'Z' ? 'zombie' : 'dead'})`);
    }
  }

  /** Releases the pidfd; called when the connection closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pidfd !== undefined) closeQuietly(this.pidfd);
  }
}

/**
 * dev:ino of the running executable (stat through the /proc magic link). undefined
 * when unreadable (a non-root agent and another user's process, kernel threads): the
 * exec check is then skipped, and the unix attestor, which reads the same link, denies.
 */
function exeIdOf(pid: number, procRoot: string): string | undefined {
  try {
    const st = statSync(`${procRoot}/${pid}/exe`, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}

export { PeerCredentialsError };
