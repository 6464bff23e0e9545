import { optDuration, type Command } from '../../common/cli.ts';
import { call, connectAdmin, SOCKET_OPTIONS } from './admin-client.ts';

/**
 * Healthy = the server answers on its admin socket with its bundle (the CA is loaded
 * and the datastore was read). No answer within --timeout, or an error, is unhealthy
 * (exit 1). A socket this user cannot open is a usage problem, not ill health (exit 2).
 */
export const healthcheckCommand: Command = {
  name: 'healthcheck', summary: 'check that the server is serving (exit 0 healthy, 1 not)',
  options: {
    ...SOCKET_OPTIONS,
    timeout: { type: 'string', value: 'DURATION', description: 'give up after this long, e.g. 5s', default: '10s' },
  },
  async run(ctx) {
    const timeoutMs = (optDuration(ctx.options, 'timeout', { min: 0.001 }) ?? 10) * 1000;
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
    ctx.print({ healthy, latency_ms: ms, detail }, () => `${healthy ? 'healthy' : 'unhealthy'}: ${detail} (${ms} ms)`);
    return healthy ? 0 : 1;
  },
};
