import * as grpc from '@grpc/grpc-js';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { Status } from '../../proto/gen/tessera-api/tessera/v1/Status.ts';

/** Per-item batch status for the API adapters (entry/agent/bundle messages: server/entries/wire.ts). */
export const OK_STATUS: Status = { code: grpc.status.OK, message: 'OK' };

/** A typed error as a per-item batch status (same mapping as whole-call errors). */
export function errorToStatus(e: unknown): Status {
  const g = toGrpcError(e);
  return { code: g.code, message: g.details };
}

