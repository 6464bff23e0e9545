import * as grpc from '@grpc/grpc-js';
import { TesseraError, type ErrorKind } from '../../common/errors.ts';

/**
 * The agent's client-side transport edge: a gRPC status from the server becomes a
 * TesseraError, keeping the server's stable error code (metadata `tessera-error-code`,
 * set by common/grpc-status.ts) so the agent's loops branch on kinds and codes.
 */
const STATUS_TO_KIND: Partial<Record<number, ErrorKind>> = {
  [grpc.status.INVALID_ARGUMENT]: 'invalid_argument',
  [grpc.status.NOT_FOUND]: 'not_found',
  [grpc.status.ALREADY_EXISTS]: 'already_exists',
  [grpc.status.PERMISSION_DENIED]: 'permission_denied',
  [grpc.status.UNAUTHENTICATED]: 'unauthenticated',
  [grpc.status.FAILED_PRECONDITION]: 'failed_precondition',
  [grpc.status.RESOURCE_EXHAUSTED]: 'resource_exhausted',
  [grpc.status.UNAVAILABLE]: 'unavailable',
  [grpc.status.DEADLINE_EXCEEDED]: 'deadline_exceeded',
  [grpc.status.UNIMPLEMENTED]: 'unimplemented',
  [grpc.status.CANCELLED]: 'unavailable',
};

export function fromGrpcError(err: unknown, what: string): TesseraError {
  if (err instanceof TesseraError) return err;
  const e = err as Partial<grpc.ServiceError> | undefined;
  if (typeof e?.code !== 'number') {
    return new TesseraError('internal', 'ERR_SERVER_CALL', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  const kind = STATUS_TO_KIND[e.code] ?? 'internal';
  const code = e.metadata?.get('tessera-error-code')[0];
  return new TesseraError(kind, typeof code === 'string' ? code : `ERR_SERVER_${grpc.status[e.code] ?? e.code}`,
    `${what}: ${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`, { cause: err });
}

/** Refusals that mean this agent is no longer trusted (banned or evicted): retrying cannot help. */
export function isAgentRevoked(err: TesseraError): boolean {
  return err.kind === 'permission_denied' || err.kind === 'unauthenticated';
}
