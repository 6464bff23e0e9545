/**
 * Start-up cost of the compiled bins (dist/, `npm run build`) against the TypeScript
 * sources through tsx (what bin/*.js ran before the build step), measured in the same
 * run and interleaved, so machine load cancels out in the ratios:
 *   - `tessera-server entry list` against a running server: process start to exit;
 *   - agent start (resuming from its data dir) until the Workload API socket accepts.
 *
 *   npm run build && npm run bench:cli-startup [-- ROUNDS]
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, sharedScope } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';
import { createEntry } from '../test/helpers/agent-e2e.ts';
import { ROOT } from '../test/helpers/proc.ts';

const ROUNDS = Number(process.argv[2] ?? 7);
const GOAL = 0.8; // compiled / tsx, for each measure: clearly faster, with room for a loaded machine
const scope = sharedScope();

type Variant = 'tsx' | 'compiled';
const launch = (v: Variant, cli: 'server' | 'agent'): string[] => v === 'tsx'
  ? ['--import', 'tsx', cli === 'server' ? 'server/cli/main.ts' : 'node-agent/cli/main.ts']
  : [cli === 'server' ? 'bin/tessera-server.js' : 'bin/tessera-agent.js'];

const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, NODE_OPTIONS: '', ...extra });

function timeRun(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: env(extraEnv), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    child.on('close', (code) => code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
  });
}

const accepts = (socket: string) => new Promise<boolean>((resolve) => {
  const s = connect(socket, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

/** Agent process start until its socket accepts a connection; then SIGTERM and wait for exit. */
async function timeAgentStart(args: string[], socket: string): Promise<number> {
  rmSync(socket, { force: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  let ms = -1;
  while (child.exitCode === null) {
    if (existsSync(socket) && await accepts(socket)) { ms = performance.now() - t0; break; }
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGTERM');
  await exited;
  if (ms < 0) throw new Error(`agent exited before its socket was ready: ${err.slice(-2000)}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/tessera-server.mjs'))) throw new Error('dist/ is missing: run `npm run build` first');
  const srv = await startServer(scope);
  // The agent attests once here; the measured starts resume from its data dir.
  const agent = await startAgent(scope, { server: srv, logLevel: 'info' });
  await createEntry(srv, agent.spiffeId, 'spiffe://example.org/bench', ['unix:uid:4242']);
  await agent.stop();

  const list = { tsx: [] as number[], compiled: [] as number[] };
  const start = { tsx: [] as number[], compiled: [] as number[] };
  const order: Variant[][] = [['tsx', 'compiled'], ['compiled', 'tsx']];
  for (let r = 0; r <= ROUNDS; r++) {
    for (const v of order[r % 2]!) {
      const l = await timeRun([...launch(v, 'server'), 'entry', 'list', '--output', 'json'], { TESSERA_ADMIN_SOCKET: srv.adminSocket });
      const s = await timeAgentStart([...launch(v, 'agent'), 'run', '--config', agent.configPath], agent.socketPath);
      if (r > 0) { list[v].push(l); start[v].push(s); } // round 0 warms the disk cache
    }
  }

  console.log(`CLI start-up, median of ${ROUNDS} interleaved runs (Node ${process.version})`);
  const row = (what: string, m: { tsx: number[]; compiled: number[] }) => {
    const a = median(m.tsx), b = median(m.compiled);
    console.log(`  ${what.padEnd(42)} tsx ${a.toFixed(0).padStart(5)} ms   compiled ${b.toFixed(0).padStart(5)} ms   ratio ${(b / a).toFixed(2)} (goal <= ${GOAL})`);
    return b / a;
  };
  const r1 = row('tessera-server entry list (wall)', list);
  const r2 = row('agent start -> Workload API socket accepts', start);
  if (r1 > GOAL || r2 > GOAL) process.exitCode = 1;
}

main().then(() => scope.cleanup(), async (e) => { console.error(e); await scope.cleanup(); process.exitCode = 1; });
