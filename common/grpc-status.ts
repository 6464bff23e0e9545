import * as grpc from '@grpc/grpc-js';
import { TesseraError, type ErrorKind } from './errors.ts';
import { SpiffeError } from '../spiffe/errors.ts';

/** The one place typed errors become gRPC statuses (transport edge). */
const KIND_TO_STATUS: Record<ErrorKind, grpc.status> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  already_exists: grpc.status.ALREADY_EXISTS,
  permission_denied: grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
  unimplemented: grpc.status.UNIMPLEMENTED,
  internal: grpc.status.INTERNAL,
};

/** SPIFFE domain errors (spiffe/errors.ts) are about bad input unless they say otherwise. */
const SPIFFE_CODE_TO_STATUS: Record<string, grpc.status> = {
  ERR_AUTHORIZATION: grpc.status.PERMISSION_DENIED,
  ERR_X509SVID_UNTRUSTED: grpc.status.PERMISSION_DENIED,
  ERR_X509SVID_EXPIRED: grpc.status.PERMISSION_DENIED,
  ERR_JWTSVID_UNTRUSTED: grpc.status.INVALID_ARGUMENT,
  ERR_BUNDLE_NOT_FOUND: grpc.status.INVALID_ARGUMENT,
};

export interface GrpcError extends Partial<grpc.StatusObject> {
  code: grpc.status;
  details: string;
  message: string;
}

export function toGrpcError(err: unknown): GrpcError {
  if (isGrpcError(err)) return err;
  if (err instanceof TesseraError) return make(KIND_TO_STATUS[err.kind], err.message, err.code);
  // Only our own SPIFFE domain errors pass their message on: Node's and OpenSSL's errors
  // also carry ERR_* codes, and their messages are internals.
  if (err instanceof SpiffeError) {
    return make(SPIFFE_CODE_TO_STATUS[err.code] ?? grpc.status.INVALID_ARGUMENT, err.message, err.code);
  }
  // Unknown failures: do not leak internals to callers; the caller's log has the detail.
  return make(grpc.status.INTERNAL, 'internal error');
}

function make(code: grpc.status, details: string, errCode?: string): GrpcError {
  const metadata = new grpc.Metadata();
  if (errCode) metadata.set('tessera-error-code', errCode);
  return { code, details, message: details, metadata };
}

function isGrpcError(err: unknown): err is GrpcError {
  return typeof err === 'object' && err !== null && typeof (err as GrpcError).code === 'number'
    && typeof (err as GrpcError).details === 'string';
}

/** A status error built at the edge itself (e.g. a missing header). */
export function grpcError(code: grpc.status, details: string): GrpcError {
  return make(code, details);
}
