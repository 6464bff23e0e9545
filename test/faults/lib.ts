import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Proc } from '../helpers/proc.ts';
import { adminCall, POSTGRES_ADMIN_URL, postgresTestDatabase, type Scope, type TestServer } from '../helpers/server.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

/**
 * Shared pieces of the fault-injection suite (docs/faults.md): hard kills, JSON log
 * lines after a marker, small filesystems, and figures printed with t.log (never
 * asserted: the machine is shared).
 */

/** kill -9 by pid; resolves once the process is gone (its pipes are drained). */
export async function kill9(proc: Proc): Promise<void> {
  const pid = proc.child.pid;
  if (pid !== undefined && proc.child.exitCode === null && proc.child.signalCode === null) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await proc.exited;
}

export type LogLine = Record<string, unknown> & { msg?: string; time?: string; level?: string };

/** The JSON log lines of `text` (non-JSON lines are skipped). */
export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try { out.push(JSON.parse(l) as LogLine); } catch { /* a line cut by a kill */ }
  }
  return out;
}

/** The log lines a process wrote after `mark` (a stderr length taken earlier). */
export const linesAfter = (proc: Proc, mark = 0): LogLine[] => logLines(proc.stderr().slice(mark));

/** The first line after `mark` with this msg, if any. */
export const findLine = (proc: Proc, msg: string | RegExp, mark = 0): LogLine | undefined =>
  linesAfter(proc, mark).find((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg ?? '')));

/** Prints one figure of the suite (a name and a value with its unit), for docs/faults.md. */
export function figure(t: ExecutionContext, name: string, value: number | string, unit = ''): void {
  t.log(`figure: ${name} = ${typeof value === 'number' ? Math.round(value * 10) / 10 : value}${unit ? ` ${unit}` : ''}`);
}

/** ms since `from` (a Date.now() taken earlier). */
export const elapsed = (from: number) => Date.now() - from;

/** Percentile (0..100) of a list of numbers; NaN when empty. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * A tmpfs of `sizeBytes` mounted on a fresh directory, unmounted (lazily, so a process
 * still holding a file cannot keep it) and removed at teardown. Undefined when this
 * process may not mount (not root, or no CAP_SYS_ADMIN): the caller skips loudly.
 */
export function smallTmpfs(t: Scope, sizeBytes: number): { dir: string; remount(opts: string): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); } catch { /* already unmounted */ }
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    remount: (opts: string) => { execFileSync('mount', ['-o', `remount,${opts}`, dir], { stdio: 'pipe' }); },
  };
}

/** When the test fails, prints the tail of each process's stderr (what the agent or server said). */
export function dumpOnFailure(t: ExecutionContext, procs: Record<string, () => Proc | undefined>, chars = 6000): void {
  t.teardown(() => {
    if (t.passed) return;
    for (const [name, get] of Object.entries(procs)) {
      const p = get();
      if (p) t.log(`--- ${name} stderr (tail) ---\n${p.stderr().slice(-chars)}`);
    }
  });
}

/** SPIFFE IDs of the attested agents, through the admin socket (no CLI process). */
export async function agentIds(srv: TestServer): Promise<string[]> {
  const r = await adminCall<{ agents: { spiffe_id: string }[] }>(srv.admin().agent, 'ListAgents', {});
  return r.agents.map((a) => a.spiffe_id);
}

/**
 * A fresh PostgreSQL test database and a fault proxy in front of the server: `url`
 * goes straight to PostgreSQL, `viaProxy` through the proxy. Undefined without PostgreSQL.
 */
export async function postgresBehindProxy(t: Scope, prefix: string): Promise<{ url: string; viaProxy: string; proxy: TcpProxy } | undefined> {
  const url = await postgresTestDatabase(t, prefix);
  if (!url) return undefined;
  const pg = new URL(POSTGRES_ADMIN_URL);
  const proxy = await startTcpProxy(t, { host: pg.hostname, port: Number(pg.port || 5432) });
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  return { url, viaProxy: via.toString(), proxy };
}
