import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TesseraError, type ErrorKind } from '../../common/errors.ts';
import { toGrpcError, type GrpcError } from '../../common/grpc-status.ts';

/** google.rpc.ErrorInfo reasons of the Broker API (spec §4.8). */
export type BrokerReason = 'WORKLOAD_REFERENCE_INVALID' | 'WORKLOAD_NOT_FOUND' | 'WORKLOAD_NOT_ENTITLED';

const KIND_OF: Record<BrokerReason, ErrorKind> = {
  WORKLOAD_REFERENCE_INVALID: 'invalid_argument',
  WORKLOAD_NOT_FOUND: 'not_found',
  WORKLOAD_NOT_ENTITLED: 'permission_denied',
};

/**
 * A failure about the workload a request references. Its kind follows the spec's
 * table (§4.8), and the transport edge adds the ErrorInfo the spec asks for.
 */
export class WorkloadReferenceError extends TesseraError {
  readonly reason: BrokerReason;
  readonly metadata: Record<string, string>;
  constructor(reason: BrokerReason, code: string, message: string, metadata: Record<string, string> = {}, cause?: unknown) {
    super(KIND_OF[reason], code, message, { cause });
    this.reason = reason;
    this.metadata = metadata;
  }
}

export const referenceInvalid = (message: string, metadata?: Record<string, string>) =>
  new WorkloadReferenceError('WORKLOAD_REFERENCE_INVALID', 'ERR_BROKER_REFERENCE_INVALID', message, metadata);
export const workloadNotFound = (message: string, metadata?: Record<string, string>, cause?: unknown) =>
  new WorkloadReferenceError('WORKLOAD_NOT_FOUND', 'ERR_BROKER_WORKLOAD_NOT_FOUND', message, metadata, cause);
export const workloadNotEntitled = (message: string, metadata?: Record<string, string>, cause?: unknown) =>
  new WorkloadReferenceError('WORKLOAD_NOT_ENTITLED', 'ERR_BROKER_WORKLOAD_NOT_ENTITLED', message, metadata, cause);

/** Not this caller: no verified SVID, or one the broker policy does not allow. */
export class BrokerAuthorizationError extends TesseraError {
  constructor(kind: 'unauthenticated' | 'permission_denied', message: string) {
    super(kind, kind === 'unauthenticated' ? 'ERR_BROKER_UNAUTHENTICATED' : 'ERR_BROKER_NOT_ALLOWED', message);
  }
}

// google.rpc.Status and google.rpc.ErrorInfo, for the standard grpc-status-details-bin trailer.
const rpc = protobuf.Root.fromJSON({
  nested: {
    google: { nested: { rpc: { nested: {
      Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'Any', id: 3 } } },
      Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      ErrorInfo: { fields: { reason: { type: 'string', id: 1 }, domain: { type: 'string', id: 2 }, metadata: { keyType: 'string', type: 'string', id: 3 } as protobuf.IField } },
    } } } },
  },
});
const StatusType = rpc.lookupType('google.rpc.Status');
const ErrorInfoType = rpc.lookupType('google.rpc.ErrorInfo');
export const ERROR_INFO_DOMAIN = 'spiffe.io';
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The one mapping of broker errors to statuses: Tessera's, plus ErrorInfo for reference errors. */
export function toBrokerStatus(err: unknown): GrpcError {
  const status = toGrpcError(err);
  if (!(err instanceof WorkloadReferenceError)) return status;
  const info = ErrorInfoType.encode(ErrorInfoType.fromObject({ reason: err.reason, domain: ERROR_INFO_DOMAIN, metadata: err.metadata })).finish();
  const details = StatusType.encode(StatusType.fromObject({
    code: status.code, message: status.details,
    details: [{ type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: info }],
  })).finish();
  const metadata = status.metadata ?? new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(details));
  return { ...status, metadata };
}

/** Reads the ErrorInfo reason back out of a status (clients, tests). */
export function errorInfoOf(metadata: grpc.Metadata | undefined): { reason: string; domain: string; metadata: Record<string, string> } | undefined {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) return undefined;
  const s = StatusType.toObject(StatusType.decode(raw), { defaults: true }) as { details: { type_url: string; value: Uint8Array }[] };
  const any = s.details.find((d) => d.type_url.endsWith('/google.rpc.ErrorInfo'));
  if (!any) return undefined;
  return ErrorInfoType.toObject(ErrorInfoType.decode(any.value), { defaults: true, objects: true }) as { reason: string; domain: string; metadata: Record<string, string> };
}
