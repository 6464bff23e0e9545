import * as grpc from '@grpc/grpc-js';
import { type Command, type CommandContext } from '../../common/cli.ts';
import { WorkloadApiError } from '../../spiffe/workloadapi/client.ts';
import { printReadiness, readyAddressOf } from '../../common/metrics/probe.ts';
import { agentMetricsTarget } from '../config.ts';
import { socketOption, timeoutMs, withClient } from './socket.ts';

/**
 * With a health listener (--metrics-address, or `metrics.listen` in --config): healthy
 * = /ready answers 200 (attested, agent SVID valid, entries synced); anything else, no
 * answer included, is exit 1. Without one: healthy = the agent answers on its Workload
 * API socket; any gRPC answer counts, PermissionDenied included (the checking process
 * may simply have no identity); no answer (Unavailable, timeout) is unhealthy, exit 1.
 */
export const healthcheckCommand: Command = {
  name: 'healthcheck',
  summary: 'check that the agent is ready (exit 0 healthy, 1 not)',
  details: 'With a health listener (--metrics-address, or metrics.listen in --config) /ready is asked: attested,\n'
    + 'agent SVID valid, entries synced. Otherwise any answer on the Workload API socket counts.',
  options: {
    ...socketOption,
    config: { type: 'string', short: 'c', value: 'FILE', description: 'agent config file: with metrics.listen set, /ready is asked' },
    'metrics-address': { type: 'string', value: 'HOST:PORT', description: 'the metrics and health listener to ask /ready (overrides --config)' },
  },
  async run(ctx) {
    const address = readyAddressOf(ctx, agentMetricsTarget);
    return address ? printReadiness(ctx, address, timeoutMs(ctx.options)) : viaWorkloadApi(ctx);
  },
};



async function viaWorkloadApi(ctx: CommandContext): Promise<number> {
  const started = Date.now();
  const answer = await withClient(ctx.options, ctx.io.env, (c) => c.fetchX509Bundles({ timeoutMs: timeoutMs(ctx.options) })
    .then(() => 'OK', (e: unknown) => e));
  const ms = Date.now() - started;
  const healthy = answer === 'OK' || (answer instanceof WorkloadApiError
    && answer.grpcCode !== grpc.status.UNAVAILABLE && answer.grpcCode !== grpc.status.DEADLINE_EXCEEDED);
  const detail = answer === 'OK' ? 'bundles served' : (answer as Error).message;
  ctx.print({ healthy, latency_ms: ms, detail, via: 'workload_api' }, () => `${healthy ? 'healthy' : 'unhealthy'}: ${detail} (${ms} ms)`);
  return healthy ? 0 : 1;
}
