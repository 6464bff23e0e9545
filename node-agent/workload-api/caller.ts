import * as grpc from '@grpc/grpc-js';
import { grpcError, toGrpcError } from '../../common/grpc-status.ts';
import { internal } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { WorkloadAttestation } from '../../attestors/workload/types.ts';
import type { PeerProcess, PinnedWorkloadProcess } from '../peercred/peer-process.ts';
import { agentInstanceId } from '../attestation/instance-id.ts';
import type { AttestedWorkload } from './provider.ts';
import { SECURITY_HEADER, SECURITY_HEADER_VALUE, WORKLOAD_API_PREFIX } from './proto.ts';

/** Attests a process into selectors + instance claim (the composer, or a test double). */
export interface WorkloadAttestationSource {
  attest(proc: PinnedWorkloadProcess): Promise<WorkloadAttestation>;
}

export interface CallerResolverOptions {
  /** Finds the pinned peer of the connection a call arrived on. */
  peers: { lookup(remoteAddress: string | undefined): PeerProcess | undefined };
  attestation: WorkloadAttestationSource;
  /** The agent's own SPIFFE ID (hashed into agent_instance_id). */
  agentId: () => string;
  logger: Logger;
  /** Method path prefixes attested besides the Workload API's (other services on the socket, e.g. Delegation). */
  attestedPrefixes?: string[];
}

/**
 * The one server interceptor that turns a Workload API call into an attested
 * caller: security header first (InvalidArgument), then the connection's kernel
 * credentials, workload attestation, and a re-check that the pid still names the
 * process that connected (pid reuse → PermissionDenied). Handlers read the result
 * with `callerOf(call)`; it is keyed by the call's own Metadata object, which
 * grpc-js hands from the interceptor to the handler unchanged, so a caller cannot
 * name or forge it. Other services on the socket (reflection) pass through.
 */
export class CallerResolver {
  private readonly opts: CallerResolverOptions;
  private readonly callers = new WeakMap<grpc.Metadata, { workload: AttestedWorkload; peer: PeerProcess }>();

  private readonly prefixes: string[];

  constructor(opts: CallerResolverOptions) {
    this.opts = opts;
    this.prefixes = [WORKLOAD_API_PREFIX, ...opts.attestedPrefixes ?? []];
  }

  readonly interceptor: grpc.ServerInterceptor = (method, call) => new grpc.ServerInterceptingCall(call, {
    start: (next) => next({
      onReceiveMetadata: (md, mdNext) => {
        if (!this.prefixes.some((p) => method.path.startsWith(p))) return mdNext(md);
        const header = md.get(SECURITY_HEADER);
        if (header.length !== 1 || header[0] !== SECURITY_HEADER_VALUE) {
          call.sendStatus(grpcError(grpc.status.INVALID_ARGUMENT,
            `security header missing from request: "${SECURITY_HEADER}: ${SECURITY_HEADER_VALUE}" is required`));
          return;
        }
        const peer = this.opts.peers.lookup(call.getConnectionInfo().remoteAddress);
        if (!peer) {
          // Cannot happen for connections we accepted; fail closed if it ever does.
          call.sendStatus(grpcError(grpc.status.PERMISSION_DENIED, 'caller has no kernel credentials'));
          return;
        }
        this.resolve(peer).then((w) => {
          this.callers.set(md, { workload: w, peer });
          mdNext(md);
        }, (err) => {
          this.opts.logger.warn('workload call denied', { method: method.path, pid: peer.pid, uid: peer.uid, err: err as Error });
          call.sendStatus(toGrpcError(err));
        });
      },
    }),
  });

  /** The attested caller of a call that went through the interceptor. */
  callerOf(call: { metadata: grpc.Metadata }): AttestedWorkload {
    return this.entry(call).workload;
  }

  /**
   * A check that the call's connection still belongs to the process that was attested
   * (alive, same pid instance, same program); throws PeerCredentialsError (PermissionDenied).
   */
  verifierOf(call: { metadata: grpc.Metadata }): () => void {
    const { peer } = this.entry(call);
    return () => peer.verify();
  }

  private entry(call: { metadata: grpc.Metadata }): { workload: AttestedWorkload; peer: PeerProcess } {
    const e = this.callers.get(call.metadata);
    if (!e) throw internal('ERR_WORKLOAD_CALLER', 'call reached a handler without an attested caller');
    return e;
  }

  private async resolve(peer: PeerProcess): Promise<AttestedWorkload> {
    const att = await this.opts.attestation.attest(peer.process);
    // Attestation read /proc/<pid>; prove that pid still is the process that connected.
    peer.verify();
    if (!att.instance) throw internal('ERR_WORKLOAD_INSTANCE', `no instance claim for pid ${peer.pid}`);
    return {
      selectors: att.selectors,
      instanceId: agentInstanceId(this.opts.agentId(), att.instance),
      pid: peer.pid,
      uid: peer.uid,
      gid: peer.gid,
    };
  }
}
