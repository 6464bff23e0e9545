/**
 * What the token-endpoint benches (bench/token-exchange.ts, bench/oauth-grants.ts)
 * share: the per-core limit they compare against, measured in the same run (node:crypto
 * ECDSA P-256 verify and sign, CPU time, this process pinned to CPU 0), and a real
 * tessera-server process (SQLite) pinned with taskset to CPU 1, whose CPU time
 * (utime + stime of all its threads, /proc/<pid>/stat) is what "per core" divides by.
 * The machine is shared, so rates per CPU-second, not wall rates, are the figures.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startServer, type Scope, type TestServer } from '../../test/helpers/server.ts';

/** `--name value` from the command line, or `dflt`. */
export const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const cpuSeconds = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6; };

/** Pins every thread of `pid` to `cpu` (false when the machine has one CPU or taskset fails). */
export function pin(pid: number, cpu: number): boolean {
  if (cpus().length < 2) return false;
  try { execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' }); return true; } catch { return false; }
}

export interface SignatureCosts {
  /** CPU seconds per ECDSA P-256 verification of `verifyInput`. */
  tVerify: number;
  /** CPU seconds per ECDSA P-256 signature over `signInput`. */
  tSign: number;
  /** Whether this process (the client) is pinned to CPU 0. */
  clientPinned: boolean;
}

/**
 * Pins this process to CPU 0, then measures the median CPU time of one verification and
 * one signature (9 rounds of `n`) over inputs the size of what the server verifies and signs.
 */
export function measureSignatureCosts(o: { verifyInput: Buffer; signInput: Buffer; n?: number }): SignatureCosts {
  const clientPinned = pin(process.pid, 0);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = sign('sha256', o.verifyInput, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const perOp = (fn: () => void, n = o.n ?? 2000): number => {
    const rounds: number[] = [];
    for (let r = 0; r < 9; r++) { const t0 = process.cpuUsage(); for (let i = 0; i < n; i++) fn(); rounds.push(cpuSeconds(t0) / n); }
    return median(rounds);
  };
  const check = () => { if (!verify('sha256', o.verifyInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('verify'); };
  perOp(check, 200); // warm-up
  return { tVerify: perOp(check), tSign: perOp(() => sign('sha256', o.signInput, { key: privateKey, dsaEncoding: 'ieee-p1363' })), clientPinned };
}

export interface PinnedServer {
  srv: TestServer;
  pid: number;
  pinned: boolean;
  /** host:port of the OAuth listener, and its parts. */
  address: string;
  host: string;
  port: number;
  /** https://host:port (the default `iss`). */
  issuer: string;
  /** The trust bundle (PEM): the CA of the listener's certificate. */
  ca: string;
  /** CPU seconds the server process has spent so far, and how much of it in the kernel. */
  cpu(): { total: number; sys: number };
}

/** A real tessera-server with `config` merged in (it must have an `oauth` section), pinned to CPU 1. */
export async function startPinnedServer(scope: Scope, config: Record<string, unknown>): Promise<PinnedServer> {
  const srv = await startServer(scope, { config });
  const pid = srv.proc.child.pid!;
  const pinned = pin(pid, 1);
  const address = readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim();
  const host = address.slice(0, address.lastIndexOf(':'));
  const port = Number(address.split(':').pop());
  return {
    srv, pid, pinned, address, host, port, issuer: `https://${address}`, ca: srv.readBundle().pem,
    cpu() {
      // Fields after the ")" of comm: utime and stime are the 12th and 13th, in clock ticks (all threads).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { total: (Number(f[11]) + Number(f[12])) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
    },
  };
}

/** POSTs a form to the server's token endpoint; resolves with the body of a 200, rejects otherwise. */
export function postForm(s: Pick<PinnedServer, 'host' | 'port'>, agent: https.Agent, body: string, onSocket?: (socket: TLSSocket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: s.host, port: s.port, method: 'POST', path: '/oauth2/token', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
    });
    if (onSocket) req.once('socket', (sock) => sock.once('secureConnect', () => onSocket(sock as TLSSocket)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The report's first lines: the machine and its load, and how server and client are placed. */
export function describeSetup(s: PinnedServer, costs: SignatureCosts, load: string): string {
  return [
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}); node ${process.version}`,
    `server: a separate tessera-server process (SQLite) ${s.pinned ? 'pinned to CPU 1' : 'NOT pinned (taskset failed)'}; `
      + `client: this process ${costs.clientPinned ? 'pinned to CPU 0' : 'not pinned'}; ${load}`,
  ].join('\n');
}
