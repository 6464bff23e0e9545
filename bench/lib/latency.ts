/**
 * What the Workload API, entry → SVID and agent memory benches share: percentiles,
 * line-oriented child processes, the per-call peer check cost, and /proc readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnixWorkloadAttestor } from '../../attestors/workload/unix.ts';
import { PeerProcess } from '../../node-agent/peercred/peer-process.ts';

/** The p-th percentile (nearest rank) of xs. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: number[]) => pct(xs, 50);

/** A child process whose stdout is read line by line; stderr goes to ours. */
export function spawnLines(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { child: ChildProcess; next(): Promise<string> } {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: env ? { ...process.env, ...env } : process.env });
  const lines: string[] = [];
  const waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let rl = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    rl += d;
    for (let i = rl.indexOf('\n'); i >= 0; i = rl.indexOf('\n')) {
      const l = rl.slice(0, i);
      rl = rl.slice(i + 1);
      const w = waiters.shift();
      if (w) w.resolve(l); else lines.push(l);
    }
  });
  child.once('exit', (code) => { for (const w of waiters.splice(0)) w.reject(new Error(`${args.join(' ')} exited (${code})`)); });
  return {
    child,
    next: () => (lines.length ? Promise.resolve(lines.shift()!) : child.exitCode !== null
      ? Promise.reject(new Error('child exited')) : new Promise((resolve, reject) => waiters.push({ resolve, reject }))),
  };
}

export interface PeerCheckCost {
  /** Seconds per PeerProcess.verify(): the pid-reuse and exec check every call makes. */
  verify: number;
  /** Seconds per uncached unix attestation (reused by the agent for 1 s per process instance). */
  attest: number;
}

/**
 * The kernel work a Workload API call does that an echo does not, measured with the
 * agent's own code on a real Unix connection from this process to itself (the pid is
 * ours: /proc reads cost the same for any pid of this user).
 */
export async function peerCheckCost(n = 400): Promise<PeerCheckCost> {
  const dir = mkdtempSync(join(tmpdir(), 'peer-'));
  const path = join(dir, 's.sock');
  let peer: PeerProcess | undefined;
  const server = net.createServer((sock) => { peer = PeerProcess.capture(sock); });
  await new Promise<void>((r) => server.listen(path, r));
  const conn = net.connect(path);
  while (!peer) await new Promise((r) => setTimeout(r, 5));
  const attestor = new UnixWorkloadAttestor();
  const p = peer;
  const time = async (fn: () => unknown | Promise<unknown>): Promise<number> => {
    const rounds: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n / 7; i++) await fn();
      rounds.push((performance.now() - t0) / 1000 / Math.floor(n / 7));
    }
    return median(rounds);
  };
  await time(() => p.verify()); // warm-up
  const verify = await time(() => p.verify());
  const attest = await time(() => attestor.attest(p.process));
  conn.destroy();
  p.close();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
  return { verify, attest };
}

/** RSS of a process in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
