import * as grpc from '@grpc/grpc-js';
import type { Command } from '../../common/cli.ts';
import { WorkloadApiError } from '../../spiffe/workloadapi/client.ts';
import { socketOption, timeoutMs, withClient } from './socket.ts';

/**
 * Healthy = the agent answers on its Workload API socket. Any gRPC answer counts,
 * PermissionDenied included (the checking process may simply have no identity);
 * no answer (Unavailable, timeout) is unhealthy, exit 1.
 */
export const healthcheckCommand: Command = {
  name: 'healthcheck',
  summary: 'check that the agent is serving the Workload API (exit 0 healthy, 1 not)',
  options: { ...socketOption },
  async run(ctx) {
    const started = Date.now();
    const answer = await withClient(ctx.options, ctx.io.env, (c) => c.fetchX509Bundles({ timeoutMs: timeoutMs(ctx.options) })
      .then(() => 'OK', (e: unknown) => e));
    const ms = Date.now() - started;
    const healthy = answer === 'OK' || (answer instanceof WorkloadApiError
      && answer.grpcCode !== grpc.status.UNAVAILABLE && answer.grpcCode !== grpc.status.DEADLINE_EXCEEDED);
    const detail = answer === 'OK' ? 'bundles served' : (answer as Error).message;
    ctx.print({ healthy, latency_ms: ms, detail }, () => `${healthy ? 'healthy' : 'unhealthy'}: ${detail} (${ms} ms)`);
    return healthy ? 0 : 1;
  },
};
