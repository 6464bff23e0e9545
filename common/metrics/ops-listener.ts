import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { renameSync, writeFileSync } from 'node:fs';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/**
 * The operations listener of a server or agent process (config `metrics.listen`):
 *   GET /metrics  Prometheus text format, from this process's own registry
 *   GET /live     200 while the process answers at all (liveness probe)
 *   GET /ready    200 when every readiness check passes, else 503; JSON names each check
 * Plain HTTP without authentication: it serves counts and states, never an identity or
 * a secret. Bind it to localhost, or to the pod IP for Kubernetes probes.
 */

/** A readiness condition: undefined when met, else what is missing (shown in /ready and `healthcheck`). */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface ReadyReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** A check slower than this counts as failed: a probe must answer in time. */
export const CHECK_TIMEOUT_MS = 2_000;

export async function evaluateReadiness(checks: Record<string, ReadinessCheck>, timeoutMs = CHECK_TIMEOUT_MS): Promise<ReadyReport> {
  const entries = await Promise.all(Object.entries(checks).map(async ([name, check]) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs); });
    try {
      const problem = await Promise.race([Promise.resolve().then(check), late]);
      return [name, problem === undefined ? { ok: true } : { ok: false, detail: problem }] as const;
    } catch (e) {
      return [name, { ok: false, detail: e instanceof Error ? e.message : String(e) }] as const;
    } finally { clearTimeout(timer); }
  }));
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
}

export interface OpsListener {
  /** host:port actually bound (the real port when configured as 0). */
  readonly address: string;
  close(): Promise<void>;
}

export interface OpsListenerOptions {
  /** host:port; [v6]:port for IPv6. */
  listen: string;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  logger: Logger;
  /** Written with the bound address (0644), for probes and tests when the port is 0. */
  addressFile?: string;
}

export async function startOpsListener(o: OpsListenerOptions): Promise<OpsListener> {
  const cut = o.listen.lastIndexOf(':');
  const host = o.listen.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  const port = Number(o.listen.slice(cut + 1));
  // Process metrics (CPU, memory, event loop lag, handles) next to ours, in the same registry.
  collectDefaultMetrics({ register: o.registry });
  const server = createServer((req, res) => {
    handle(req, res, o).catch((e: unknown) => {
      o.logger.error('metrics listener request failed', { err: e as Error, path: req.url });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Probes keep no connections open: idle keep-alive sockets must not delay a stop.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new ConfigError(`config: metrics.listen: cannot listen on ${o.listen}: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { address: string; port: number };
  const address = `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`;
  if (o.addressFile) {
    writeFileSync(`${o.addressFile}.tmp`, address + '\n', { mode: 0o644 });
    renameSync(`${o.addressFile}.tmp`, o.addressFile);
  }
  o.logger.info('metrics and health listener started', { address, endpoints: ['/metrics', '/live', '/ready'] });
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, o: OpsListenerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    return;
  }
  switch (path) {
    case '/metrics':
      send(res, 200, o.registry.contentType, await o.registry.metrics());
      return;
    case '/live':
      send(res, 200, 'application/json', JSON.stringify({ live: true }) + '\n');
      return;
    case '/ready': {
      const report = await evaluateReadiness(o.checks);
      send(res, report.ready ? 200 : 503, 'application/json', JSON.stringify(report) + '\n');
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /live or /ready\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
