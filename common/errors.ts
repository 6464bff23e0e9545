/**
 * Tessera's typed errors. Each carries a stable `code` (callers and tests branch on
 * it) and a `kind` that the transport edge (common/grpc-status.ts) maps to a gRPC
 * status, once. Messages say what was wrong, naming the field or value.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'unimplemented'
  | 'internal';

export class TesseraError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.code = code;
    this.name = new.target.name;
  }
}

export const invalidArgument = (code: string, msg: string, cause?: unknown) =>
  new TesseraError('invalid_argument', code, msg, { cause });
export const notFound = (code: string, msg: string) => new TesseraError('not_found', code, msg);
export const alreadyExists = (code: string, msg: string) => new TesseraError('already_exists', code, msg);
export const permissionDenied = (code: string, msg: string) => new TesseraError('permission_denied', code, msg);
export const unauthenticated = (code: string, msg: string) => new TesseraError('unauthenticated', code, msg);
export const failedPrecondition = (code: string, msg: string) => new TesseraError('failed_precondition', code, msg);
export const unavailable = (code: string, msg: string, cause?: unknown) => new TesseraError('unavailable', code, msg, { cause });
export const internal = (code: string, msg: string, cause?: unknown) => new TesseraError('internal', code, msg, { cause });

/** Node attestation failures: evidence malformed, forged, replayed or expired. */
export class AttestationError extends TesseraError {
  constructor(kind: 'invalid_argument' | 'permission_denied' | 'unavailable' | 'internal', code: string, message: string, options?: { cause?: unknown }) {
    super(kind, code, message, options);
  }
}

/** Config file problems: the message names the key. */
export class ConfigError extends TesseraError {
  constructor(message: string) { super('invalid_argument', 'ERR_CONFIG', message); }
}
