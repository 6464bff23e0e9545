import { closeSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from '../../common/logger.ts';
import { TesseraError } from '../../common/errors.ts';
import { PeerProcess, type PeerCredentialSource } from '../peercred/peer-process.ts';
import { agentInstanceId } from '../attestation/instance-id.ts';
import type { WorkloadAttestationSource } from '../workload-api/caller.ts';
import type { AttestedWorkload } from '../workload-api/provider.ts';
import { workloadNotEntitled, workloadNotFound } from './errors.ts';
import { openPidfd } from './pidfd.ts';

/** A referenced workload while one RPC serves it. */
export interface ResolvedWorkload {
  workload: AttestedWorkload;
  /** Throws WORKLOAD_NOT_FOUND once the workload is gone (or its pid names another process). */
  verify(): void;
  /** Releases what pins it (the pidfd); called when the RPC ends. */
  release(): void;
}

export interface PidResolverOptions {
  attestation: WorkloadAttestationSource;
  agentId: () => string;
  logger: Logger;
  procRoot?: string;
}

/**
 * Resolves a WorkloadPIDReference exactly as the Workload API resolves a caller with
 * that pid: the process is pinned (pidfd, start time, executable) through the same
 * PeerProcess the Workload API uses, attested by the same composer, and re-verified
 * after attestation and before every message. Only the pid comes from the broker;
 * uid and gid are the kernel's (/proc/<pid>/status, effective ids, as SO_PEERCRED).
 */
export class PidResolver {
  constructor(private readonly o: PidResolverOptions) {}

  async resolve(pid: number): Promise<ResolvedWorkload> {
    const procRoot = this.o.procRoot ?? '/proc';
    const meta = { pid: String(pid) };
    const pidfd = openPidfd(pid);
    if (pidfd === 'gone') throw workloadNotFound(`no process with pid ${pid} on this node`, meta);
    let peer: PeerProcess;
    try {
      // PeerProcess pins a connection's peer from what a credential source says about
      // the socket; here the "credentials" are the referenced process's own, read after
      // the pidfd was opened, and capture() proves that pidfd still names that pid.
      const source: PeerCredentialSource = { credentials: () => ({ pid, ...effectiveIds(pid, procRoot) }), pidfd: () => pidfd };
      peer = PeerProcess.capture(NO_SOCKET, source, procRoot);
    } catch (e) {
      if (pidfd !== undefined) closeQuietly(pidfd);
      throw workloadNotFound(`process ${pid} is gone: ${(e as Error).message}`, meta, e);
    }
    const verify = () => {
      try { peer.verify(); } catch (e) { throw workloadNotFound(`process ${pid} is gone: ${(e as Error).message}`, meta, e); }
    };
    try {
      let att;
      try {
        att = await this.o.attestation.attest(peer.process);
      } catch (e) {
        verify(); // a process that exited during attestation is not found, not unentitled
        throw workloadNotEntitled(`process ${pid} cannot be attested: ${(e as Error).message}`, meta, e);
      }
      // Attestation read /proc/<pid>: prove that pid still is the process pinned above.
      verify();
      if (!att.instance) throw workloadNotEntitled(`no instance claim for process ${pid}`, meta);
      const workload: AttestedWorkload = {
        selectors: att.selectors, instanceId: agentInstanceId(this.o.agentId(), att.instance), pid, uid: peer.uid, gid: peer.gid,
      };
      return { workload, verify, release: () => peer.close() };
    } catch (e) {
      peer.close();
      throw e;
    }
  }
}

/** capture() only passes the fd to the credential source, which ignores it here. */
const NO_SOCKET = { _handle: { fd: 0 } } as unknown as Socket;

function effectiveIds(pid: number, procRoot: string): { uid: number; gid: number } {
  let text: string;
  try { text = readFileSync(`${procRoot}/${pid}/status`, 'utf8'); } catch (e) {
    throw new TesseraError('not_found', 'ERR_BROKER_PROC', `cannot read ${procRoot}/${pid}/status: ${(e as Error).message}`, { cause: e });
  }
  const second = (key: string) => Number(new RegExp(`^${key}:\\s*\\d+\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const uid = second('Uid'), gid = second('Gid');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new TesseraError('not_found', 'ERR_BROKER_PROC', `${procRoot}/${pid}/status has no Uid/Gid lines`);
  return { uid, gid };
}

function closeQuietly(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}
