import type * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../../common/errors.ts';
import { toGrpcError } from '../../common/grpc-status.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * Adapts an async unary handler to grpc-js: a typed error becomes its status (via
 * common/grpc-status.ts), anything else is logged here and sent as INTERNAL.
 */
export function unary<Req, Res>(log: Logger, name: string, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    fn(call).then((res) => cb(null, res), (e) => {
      if (e instanceof TesseraError || typeof (e as { code?: unknown })?.code === 'string') log.info(`${name} rejected`, { err: e });
      else log.error(`${name} failed`, { err: e });
      cb(toGrpcError(e));
    });
  };
}
