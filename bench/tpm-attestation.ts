/**
 * Time of one full TPM 2.0 node attestation against a real software TPM (swtpm), in two forms:
 *
 *   in process: agent half created (worker thread start, EK cert read, EK, AK creation) ->
 *               server half's verified result (MakeCredential, ActivateCredential, quote,
 *               verification). attestors/node/tpm/{agent,server}.ts driven directly, with a
 *               ctx whose challenge() calls the agent half's respond().
 *   processes:  a tessera-server process; tessera-agent process spawn -> "agent ready"
 *               (agent SVID issued). Also shown: the agent's own log span
 *               "attesting to the server" -> "agent attested".
 *
 * Every run gets a fresh copy of the golden swtpm state on its own port (test/helpers/swtpm.ts).
 * Median, min and max of BENCH_RUNS runs (default 10) after one warm-up run. Every swtpm,
 * server and agent process is stopped by pid and temp dirs are removed, also on error/Ctrl-C.
 *
 * Run: node --import tsx bench/tpm-attestation.ts   (optional: BENCH_RUNS=10)
 */
import { existsSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { agentFactory, type TpmAttestorAgent } from '../attestors/node/tpm/agent.ts';
import { serverFactory } from '../attestors/node/tpm/server.ts';
import { goldenTpm, startSwtpm } from '../test/helpers/swtpm.ts';
import { startServer } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const AGENT_ID = /^spiffe:\/\/example\.org\/tessera\/agent\/tpm\/[0-9a-f]{64}$/;

/**
 * Collects teardowns like ava's t.teardown; cleanup() runs all of them, last first, even if
 * one fails. Concurrent callers share one cleanup; a teardown added after cleanup began
 * (a process that finished starting meanwhile) is chained onto it.
 */
class Scope {
  private fns: (() => unknown)[] = [];
  private closing?: Promise<void>;
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
    if (this.closing) this.closing = this.closing.then(() => this.runAll());
  }
  /** For helpers typed with an ava ExecutionContext: they only call teardown(). */
  get t(): ExecutionContext { return this as unknown as ExecutionContext; }
  cleanup(): Promise<void> { return (this.closing ??= this.runAll()); }
  private async runAll(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) {
      try { await fn(); } catch (e) { console.error('cleanup:', (e as Error).message); }
    }
  }
}

const live = new Set<Scope>();
const cleanupAll = async () => { for (const s of [...live].reverse()) await s.cleanup(); };
// Ctrl-C / SIGTERM: stop everything now; the main flow then fails, unwinds and cleans up the rest.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true;
    process.exitCode = 130;
    void cleanupAll();
    setTimeout(() => process.exit(130), 15_000).unref();
  });
}

/** One warm-up run and RUNS timed runs of `run`, each in its own scope (cleaned up after the run). */
async function sample(run: (s: Scope) => Promise<number[]>): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i <= RUNS; i++) {
    if (interrupted) throw new Error('interrupted');
    const s = new Scope();
    live.add(s);
    try {
      const ms = await run(s);
      if (i > 0) out.push(ms);
    } finally {
      await s.cleanup();
      live.delete(s);
    }
  }
  return out;
}

function report(label: string, ms: number[]): void {
  const v = [...ms].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`  ${label.padEnd(60)} median ${f(median).padStart(8)}   min ${f(v[0]!).padStart(8)}   max ${f(v.at(-1)!).padStart(8)}`);
}

const root = new Scope();
live.add(root);
try {
  console.log(`TPM attestation bench: Node ${process.version}, ${availableParallelism()} CPUs, swtpm, ${RUNS} runs after 1 warm-up`);

  // Golden swtpm state (EK + EK cert from a private test CA): provisioned once, removed at the end.
  const runDir = join(tmpdir(), `tessera-swtpm-${process.ppid}`);
  if (!existsSync(runDir)) root.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const golden = await goldenTpm('tpm-a');
  const trust = { ek_ca_certs: [golden.rootCertPath], ek_intermediate_certs: [golden.intermediateCertPath] };

  // (1) In one process.
  const deps = { logger: silentLogger, clock: systemClock, dataDir: '/nonexistent' };
  const server = serverFactory.create(serverFactory.config.parse(trust, 'node_attestors.tpm'), deps);
  const td = TrustDomain.parse('example.org');
  const inProcess = await sample(async (s) => {
    const tpm = await startSwtpm(s.t);
    const t0 = performance.now();
    const agent = agentFactory.create(agentFactory.config.parse({ tcti: tpm.tcti, event_log_path: '' }, 'node_attestor.tpm'), deps) as TpmAttestorAgent;
    s.teardown(() => agent.close());
    const result = await server.attest(await agent.payload(), { trustDomain: td, now: () => Date.now(), challenge: (c) => agent.respond(c) });
    const ms = performance.now() - t0;
    if (!AGENT_ID.test(result.agentId.toString())) throw new Error(`unexpected agent ID ${result.agentId}`);
    return [ms];
  });

  // (2) Real processes: one tessera-server; per run a fresh swtpm and a fresh tessera-agent (empty data dir).
  const srv = await startServer(root.t, { config: { node_attestors: { tpm: trust } } });
  const processes = await sample(async (s) => {
    const tpm = await startSwtpm(s.t);
    const t0 = performance.now(); // startAgent writes its config (sub-ms), then spawns and waits for "agent ready"
    const agent = await startAgent(s.t, {
      server: srv, joinToken: 'unused', logLevel: 'info',
      config: { node_attestor: { method: 'tpm', tpm: { tcti: tpm.tcti, event_log_path: '' } } },
    });
    const ms = performance.now() - t0;
    if (!AGENT_ID.test(agent.spiffeId) || agent.resumed) throw new Error(`unexpected agent start: ${agent.spiffeId} resumed=${agent.resumed}`);
    const at = (msg: string) => {
      const line = agent.proc.stderr().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
      if (!line) throw new Error(`no "${msg}" log line`);
      return Date.parse((JSON.parse(line) as { time: string }).time);
    };
    return [ms, at('agent attested') - at('attesting to the server')];
  });

  console.log('in process (attestors/node/tpm agent.ts + server.ts):');
  report('agent half start -> server half verified result', inProcess.map((r) => r[0]!));
  console.log('real processes (tessera-server + tessera-agent, node_attestor tpm):');
  report('tessera-agent spawn -> "agent ready" (agent SVID issued)', processes.map((r) => r[0]!));
  report('  of that, agent log "attesting to the server" -> "attested"', processes.map((r) => r[1]!));
} catch (e) {
  if (!interrupted) console.error(e);
  process.exitCode ??= 1;
} finally {
  await cleanupAll();
}
