import { optDuration, type Command, type CommandContext } from '../../common/cli.ts';
import { printReadiness, readyAddressOf } from '../../common/metrics/probe.ts';
import { call, connectAdmin, SOCKET_OPTIONS } from './admin-client.ts';
import { serverMetricsTarget } from '../config.ts';

/**
 * With a health listener (--metrics-address, or `metrics.listen` in --config): healthy
 * = /ready answers 200 (datastore reachable, CA active, entry index loaded); anything
 * else, no answer included, is exit 1. Without one: healthy = the server answers on its
 * admin socket with its bundle. A socket this user cannot open is a usage problem, not
 * ill health (exit 2).
 */
export const healthcheckCommand: Command = {
  name: 'healthcheck', summary: 'check that the server is ready (exit 0 healthy, 1 not)',
  details: 'With a health listener (--metrics-address, or metrics.listen in --config) /ready is asked: datastore\n'
    + 'reachable, CA active, entry index loaded. Otherwise the admin socket must serve the bundle.',
  options: {
    ...SOCKET_OPTIONS,
    config: { ...SOCKET_OPTIONS.config!, description: 'server config file: its metrics.listen (then /ready is asked), else its admin socket' },
    'metrics-address': { type: 'string', value: 'HOST:PORT', description: 'the metrics and health listener to ask /ready (overrides --config)' },
    timeout: { type: 'string', value: 'DURATION', description: 'give up after this long, e.g. 5s', default: '10s' },
  },
  async run(ctx) {
    const timeoutMs = (optDuration(ctx.options, 'timeout', { min: 0.001 }) ?? 10) * 1000;
    const address = readyAddressOf(ctx, serverMetricsTarget);
    return address ? printReadiness(ctx, address, timeoutMs) : viaAdminSocket(ctx, timeoutMs);
  },
};



async function viaAdminSocket(ctx: CommandContext, timeoutMs: number): Promise<number> {
  const c = connectAdmin(ctx.options, ctx.io.env);
  const started = Date.now();
  let detail: string;
  let healthy = false;
  try {
    const b = await call<unknown, { trust_domain: string; sequence: number }>(c.bundle, 'GetBundle', {}, timeoutMs);
    healthy = true;
    detail = `bundle of ${b.trust_domain} served (sequence ${b.sequence})`;
  } catch (e) {
    detail = (e as Error).message;
  } finally { c.close(); }
  const ms = Date.now() - started;
  ctx.print({ healthy, latency_ms: ms, detail, via: 'admin_socket' }, () => `${healthy ? 'healthy' : 'unhealthy'}: ${detail} (${ms} ms)`);
  return healthy ? 0 : 1;
}
