import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Proc {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when a stdout/stderr line matches, rejects on exit or timeout (default 60 s: a bound for a stuck process, not an expected time). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `node --import tsx <script> ...args` as a real separate process, ended by
 * its own pid when the test finishes.
 */
export function spawnTs(t: ExecutionContext | undefined, script: string, args: string[] = [], opts: SpawnOptions = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '', err = '';
  const waiters = new Set<() => void>();
  const poke = () => { for (const w of waiters) w(); };
  child.stdout?.on('data', (d) => { out += d; poke(); });
  child.stderr?.on('data', (d) => { err += d; poke(); });
  let done = false;
  // 'close' (not 'exit'): by then stdout/stderr are fully read, so waiters see the last lines.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => { done = true; poke(); resolve({ code, signal }); }));
  const proc: Proc = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out) ?? pattern.exec(err);
          if (m) { cleanup(); resolve(m[0]); return; }
          if (done) { cleanup(); reject(new Error(`process exited before ${pattern}; stderr:\n${err.slice(-4000)}`)); }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-4000)}`)); }, timeoutMs);
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (done || child.pid === undefined) return;
      try { process.kill(child.pid, signal); } catch { return; }
      const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      // 'close' also waits for every holder of its stdout/stderr: a grandchild that
      // outlives it must not hang the teardown, so once it has exited, stop reading.
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      clearTimeout(timer);
      const drained = setTimeout(() => { child.stdout?.destroy(); child.stderr?.destroy(); }, 5000);
      await exited;
      clearTimeout(drained);
    },
  };
  t?.teardown(() => proc.stop());
  return proc;
}

/** A free TCP port on 127.0.0.1 (prefer listening on port 0 directly where the code allows). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
