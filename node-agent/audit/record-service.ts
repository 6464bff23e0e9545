import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument, permissionDenied } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { Logger } from '../../common/logger.ts';
import { LOADER_OPTIONS } from '../../common/proto.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { ProtoGrpcType as AuditProto } from '../../proto/gen/tessera-api/audit.ts';
import type { AuditHandlers } from '../../proto/gen/tessera-api/tessera/agent/v1/Audit.ts';
import type { RecordActionResponse } from '../../proto/gen/tessera-api/tessera/agent/v1/RecordActionResponse.ts';
import type { AgentRecordActionRequest } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionRequest.ts';
import type { AgentRecordActionResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AgentRecordActionResponse.ts';
import type { IdentityProvider } from '../workload-api/provider.ts';
import type { CallerResolver } from '../workload-api/caller.ts';

/**
 * tessera.agent.v1.Audit (proto/tessera/audit.proto) on the Workload API socket: a
 * workload's action receipt, forwarded to the server's transparency log under the
 * identity this agent attested for the caller (docs/audit.md "Receipts"). The caller
 * picks at most which of its own SPIFFE IDs records; pid, uid and agent_instance_id come
 * from the kernel and the attestation, never from the request.
 */
export const AUDIT_PREFIX = '/tessera.agent.v1.Audit/';

/** The server call (ServerApi.recordAction). */
export interface AuditForwarder {
  recordAction(req: AgentRecordActionRequest): Promise<AgentRecordActionResponse__Output>;
}

export interface AuditServiceDeps {
  provider: IdentityProvider;
  callers: CallerResolver;
  logger: Logger;
  /** Absent: the RPC answers FAILED_PRECONDITION. */
  forwarder?: AuditForwarder;
}

let loaded: { grpc: AuditProto; packageDefinition: protoLoader.PackageDefinition } | undefined;
function loadAuditProto() {
  if (!loaded) {
    const packageDefinition = protoLoader.loadSync('tessera/audit.proto', LOADER_OPTIONS);
    loaded = { grpc: grpc.loadPackageDefinition(packageDefinition) as unknown as AuditProto, packageDefinition };
  }
  return loaded;
}

/** Registers the service; returns its package definition for the socket's reflection service. */
export function addAuditService(server: grpc.Server, deps: AuditServiceDeps): protoLoader.PackageDefinition {
  const proto = loadAuditProto();
  server.addService(proto.grpc.tessera.agent.v1.Audit.service, auditHandlers(deps));
  return proto.packageDefinition;
}

export function auditHandlers(d: AuditServiceDeps): AuditHandlers {
  const log = d.logger.child({ component: 'audit' });
  return {
    RecordAction(call, callback) {
      const run = async (): Promise<RecordActionResponse> => {
        const w = d.callers.callerOf(call);
        if (!d.forwarder) throw failedPrecondition('ERR_AUDIT_NOT_CONFIGURED', 'this agent does not forward action receipts');
        const r = call.request;
        if (!d.provider.hasIdentity(w)) throw permissionDenied('ERR_WORKLOADAPI_PERMISSION_DENIED', 'caller has no identity: no registration entry matches its selectors');
        let wanted: string | undefined;
        if (r.spiffe_id) {
          try { wanted = SpiffeId.parse(r.spiffe_id).toString(); } catch (e) {
            throw invalidArgument('ERR_AUDIT_RECORD', `spiffe_id "${r.spiffe_id.slice(0, 256)}" is not a valid SPIFFE ID: ${(e as Error).message.slice(0, 256)}`, e);
          }
        }
        const ids = (await d.provider.x509Svids(w)).map((s) => s.spiffeId);
        const id = wanted ?? ids[0];
        if (!id) throw permissionDenied('ERR_WORKLOADAPI_PERMISSION_DENIED', 'caller has no identity');
        if (!ids.includes(id)) throw permissionDenied('ERR_AUDIT_NOT_YOUR_IDENTITY', `spiffe_id ${id} is not an identity of this caller (it holds ${ids.join(', ')})`);
        // The pid must still be the process attested when the call arrived (pid reuse).
        d.callers.verifierOf(call)();
        const res = await d.forwarder.recordAction({
          spiffe_id: id, instance_id: w.instanceId, pid: w.pid, uid: w.uid,
          subject: r.subject, tool: r.tool, action: r.action, arguments_digest: r.arguments_digest, result_digest: r.result_digest,
          decision: r.decision, correlation_id: r.correlation_id, jws: r.jws, wait: r.wait, wait_timeout_ms: r.wait_timeout_ms,
        });
        return {
          index: res.index, leaf: res.leaf,
          proof: res.tree_size ? {
            index: res.index, tree_size: res.tree_size, hashes: res.proof, checkpoint: res.checkpoint,
            leaf_hash: Buffer.from(leafHashOf(res.leaf)),
          } : null,
        };
      };
      run().then((res) => {
        log.debug('action recorded', { index: res.index });
        callback(null, res);
      }, (e: unknown) => {
        log.info('action not recorded', { err: e as Error });
        callback(toGrpcError(e));
      });
    },
  };
}

/** RFC 9162 leaf hash of the logged bytes: SHA-256(0x00 || leaf). */
function leafHashOf(leaf: Uint8Array): Uint8Array {
  return createHash('sha256').update(Buffer.from([0])).update(leaf).digest();
}
