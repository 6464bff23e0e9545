import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../helpers/proc.ts';

/**
 * A long-running plain `node` process (no tsx: NODE_OPTIONS cleared), for the built
 * bins. Like test/helpers/proc.ts's spawnTs, ended by its own pid.
 */
export interface NodeProc {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the first stdout/stderr match; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}): NodeProc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '', done = false;
  const waiters = new Set<() => void>();
  const poke = () => { for (const w of waiters) w(); };
  child.stdout!.on('data', (d) => { out += d; poke(); });
  child.stderr!.on('data', (d) => { err += d; poke(); });
  const closed = new Promise<void>((resolve) => child.once('close', () => { done = true; poke(); resolve(); }));
  return {
    child,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${pattern}; stderr:\n${err.slice(-3000)}`)); }, timeoutMs);
        const check = () => {
          const m = pattern.exec(out) ?? pattern.exec(err);
          if (m) { clearTimeout(timer); waiters.delete(check); resolve(m[0]); } else if (done) {
            clearTimeout(timer); waiters.delete(check); reject(new Error(`exited before ${pattern}; stderr:\n${err.slice(-3000)}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (done || child.pid === undefined) return;
      try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
      const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await closed;
      clearTimeout(timer);
    },
  };
}
