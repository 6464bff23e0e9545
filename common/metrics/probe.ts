import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { optString, type CommandContext } from '../cli.ts';
import type { ReadyReport } from './ops-listener.ts';

/**
 * The client side of /ready, for the `healthcheck` verbs (exec probes, systemd
 * watchdogs, scripts): ready only on 200 with a report saying so.
 */
export interface ProbeResult {
  ready: boolean;
  /** HTTP status, when the listener answered. */
  status?: number;
  report?: ReadyReport;
  /** What is not ready, or why there was no answer. */
  detail: string;
}

export const METRICS_ADDRESS_FILE = 'metrics.addr';

/**
 * Where to reach a process's listener from its config: `metrics.listen`, with a
 * wildcard host asked on loopback and port 0 read from <data_dir>/metrics.addr.
 */
export function probeAddress(listen: string, dataDir: string): string {
  let address = listen;
  if (/:0$/.test(listen)) {
    try { address = readFileSync(join(dataDir, METRICS_ADDRESS_FILE), 'utf8').trim(); } catch (e) {
      throw new Error(`metrics.listen has port 0 and ${join(dataDir, METRICS_ADDRESS_FILE)} cannot be read (is the process running?): ${(e as Error).message}`);
    }
  }
  return address.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
}

/**
 * The listener a `healthcheck` verb asks: --metrics-address, else `metrics.listen` of
 * --config (read by `target`), else undefined (the verb's fallback check).
 */
export function readyAddressOf(ctx: CommandContext, target: (file: string) => { listen: string; dataDir: string } | undefined): string | undefined {
  const flag = optString(ctx.options, 'metrics-address');
  if (flag) return flag;
  const file = optString(ctx.options, 'config');
  const t = file ? target(file) : undefined;
  return t ? probeAddress(t.listen, t.dataDir) : undefined;
}

export function probeReady(address: string, timeoutMs: number): Promise<ProbeResult> {
  const cut = address.lastIndexOf(':');
  const host = address.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(cut + 1));
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/ready', method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 65_536) body += d; });
      res.on('end', () => {
        let report: ReadyReport | undefined;
        try { report = JSON.parse(body) as ReadyReport; } catch { /* not ours: reported below */ }
        const failing = Object.entries(report?.checks ?? {}).filter(([, c]) => !c.ok).map(([n, c]) => `${n}: ${c.detail ?? 'failing'}`);
        const ready = res.statusCode === 200 && report?.ready === true;
        resolve({
          ready, status: res.statusCode, report,
          detail: ready ? `ready (${Object.keys(report!.checks).join(', ')})`
            : report ? `not ready: ${failing.join('; ') || `HTTP ${res.statusCode}`}` : `HTTP ${res.statusCode} from http://${address}/ready is not a readiness report`,
        });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from http://${address}/ready within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ready: false, detail: `cannot reach http://${address}/ready: ${e.message}` }));
    req.end();
  });
}

/** The `healthcheck` verbs' answer from /ready: prints the result, returns the exit status (0 ready, 1 not). */
export async function printReadiness(ctx: CommandContext, address: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const r = await probeReady(address, timeoutMs);
  const ms = Date.now() - started;
  ctx.print({ healthy: r.ready, latency_ms: ms, detail: r.detail, via: `http://${address}/ready`, ...(r.report ? { checks: r.report.checks } : {}) },
    () => `${r.ready ? 'healthy' : 'unhealthy'}: ${r.detail} (${ms} ms)`);
  return r.ready ? 0 : 1;
}
