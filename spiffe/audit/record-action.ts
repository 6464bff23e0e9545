import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createHash, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../../proto/gen/tessera-api/audit.ts';
import type { RecordActionResponse__Output } from '../../proto/gen/tessera-api/tessera/agent/v1/RecordActionResponse.ts';
import { addressFromEnv, grpcTarget, parseWorkloadApiAddress, type WorkloadApiAddress } from '../workloadapi/address.ts';
import { WORKLOAD_HEADER } from '../workloadapi/proto.ts';
import { signReceipt, type ActionReceipt } from './receipt.ts';

/**
 * Records what this workload did in the server's transparency log, through the local
 * node agent (docs/audit.md "Receipts"). The agent attaches the identity it attested for
 * this process; with `sign`, the receipt is also signed with this workload's own
 * X.509-SVID key, so the record holds even against a compromised agent.
 *
 *   const { index, proof } = await recordAction({
 *     subject: 'alice', tool: 'github.create_issue', action: 'call',
 *     arguments: args, result, sign: svid, wait: true,
 *   });
 */
export interface RecordActionOptions {
  /** The user acted for. */
  subject?: string;
  tool?: string;
  action?: string;
  /** Digested here (SHA-256 of the JSON text, or of the bytes) unless a digest is given. */
  arguments?: unknown;
  result?: unknown;
  argumentsDigest?: Uint8Array;
  resultDigest?: Uint8Array;
  decision?: 'allow' | 'deny';
  correlationId?: string;
  /** Which of this workload's SPIFFE IDs records; default its default identity (and the signer's, when signing). */
  spiffeId?: string;
  /** Sign the receipt with this SVID (e.g. from X509Source.getX509Svid()): chain leaf first, PKCS#8 DER key or KeyObject. */
  sign?: { id: { toString(): string }; certificates: Uint8Array[]; privateKey?: KeyObject | Uint8Array };
  /** Wait for a signed checkpoint covering the record and return its inclusion proof. */
  wait?: boolean;
  waitTimeoutMs?: number;
  /** The Workload API address; default SPIFFE_ENDPOINT_SOCKET. */
  address?: string | WorkloadApiAddress;
  /** Deadline of the whole call. Default 15 s (plus waitTimeoutMs when waiting). */
  timeoutMs?: number;
}

export interface RecordActionResult {
  /** The record's leaf index in the log. */
  index: number;
  /** The leaf as logged (canonical JSON). */
  leaf: Uint8Array;
  /** Present when `wait` was set and a checkpoint covered the record in time. */
  proof?: { treeSize: number; leafHash: Uint8Array; hashes: Uint8Array[]; checkpoint: string };
}

export class RecordActionError extends Error {
  constructor(readonly code: string, message: string, readonly grpcCode?: grpc.status) { super(message); this.name = 'RecordActionError'; }
}

const digest = (v: unknown): Uint8Array | undefined => {
  if (v === undefined) return undefined;
  const bytes = v instanceof Uint8Array ? v : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');
  return createHash('sha256').update(bytes).digest();
};

let proto: ProtoGrpcType | undefined;
function loadProto(): ProtoGrpcType {
  proto ??= grpc.loadPackageDefinition(protoLoader.loadSync('tessera/audit.proto', {
    keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    includeDirs: [fileURLToPath(new URL('../../proto/', import.meta.url))],
  })) as unknown as ProtoGrpcType;
  return proto;
}

export async function recordAction(o: RecordActionOptions): Promise<RecordActionResult> {
  const argumentsDigest = o.argumentsDigest ?? digest(o.arguments);
  const resultDigest = o.resultDigest ?? digest(o.result);
  const spiffeId = o.spiffeId ?? o.sign?.id.toString();
  let jws = '';
  if (o.sign) {
    if (!o.sign.privateKey) throw new TypeError('sign: the SVID has no private key');
    const receipt: ActionReceipt = {
      spiffeId: o.sign.id.toString(), subject: o.subject, tool: o.tool, action: o.action, argumentsDigest, resultDigest,
      decision: o.decision, correlationId: o.correlationId,
    };
    jws = await signReceipt(receipt, { chain: o.sign.certificates, privateKey: o.sign.privateKey });
  }
  const address = typeof o.address === 'string' ? parseWorkloadApiAddress(o.address) : o.address ?? addressFromEnv();
  const client = new (loadProto().tessera.agent.v1.Audit)(grpcTarget(address), grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(WORKLOAD_HEADER.key, WORKLOAD_HEADER.value);
  const request = {
    subject: o.subject ?? '', tool: o.tool ?? '', action: o.action ?? '', arguments_digest: argumentsDigest ?? Buffer.alloc(0),
    result_digest: resultDigest ?? Buffer.alloc(0), decision: o.decision ?? '', correlation_id: o.correlationId ?? '',
    spiffe_id: spiffeId ?? '', jws, wait: o.wait ?? false, wait_timeout_ms: o.waitTimeoutMs ?? 0,
  };
  const deadline = Date.now() + (o.timeoutMs ?? 15_000) + (o.wait ? o.waitTimeoutMs ?? 30_000 : 0);
  return new Promise<RecordActionResult>((resolve, reject) => {
    client.RecordAction(request, md, { deadline }, (err: grpc.ServiceError | null, res?: RecordActionResponse__Output) => {
      client.close();
      if (err || !res) {
        return reject(new RecordActionError(`ERR_RECORD_ACTION_${grpc.status[err?.code ?? grpc.status.UNKNOWN]}`,
          `recording the action through the node agent failed: ${err?.details || err?.message || 'no response'}`, err?.code));
      }
      resolve({
        index: res.index, leaf: new Uint8Array(res.leaf),
        proof: res.proof ? {
          treeSize: res.proof.tree_size, leafHash: new Uint8Array(res.proof.leaf_hash),
          hashes: res.proof.hashes.map((h) => new Uint8Array(h)), checkpoint: res.proof.checkpoint,
        } : undefined,
      });
    });
  });
}
