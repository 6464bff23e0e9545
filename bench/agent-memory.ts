/**
 * Agent memory: a real tessera-server and tessera-agent; this process creates entries
 * through the admin API and, as the workload, holds one FetchX509SVID stream so the
 * agent mints and caches an X.509-SVID per matching entry. After each stage the agent
 * collects garbage (bench/lib/memory-probe.mjs, preloaded through NODE_OPTIONS) and
 * reports its heap; RSS is read from /proc right after.
 *
 *   stage        entries   cached SVIDs
 *   baseline         0          0
 *   entries       1,000         0       (selectors no caller has: synced, never minted)
 *   svids-1k      2,000     1,000
 *   svids-10k    11,000    10,000
 *
 * Bytes per SVID are the difference between the last two stages over 9,000 SVIDs, less
 * the per-entry cost measured by the "entries" stage. The floor it is compared with is
 * what must be kept per SVID: its certificate chain and PKCS#8 key (DER).
 *
 * The agent is the compiled one (dist/, plain node) when `npm run build` has been run,
 * else the sources through tsx (--tsx forces that); the first line says which.
 *
 *   node --import tsx bench/agent-memory.ts [--snapshot FILE] [--tsx]   FILE: heap snapshot of the last stage
 */
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkloadApiClient, type X509SvidUpdate } from '../spiffe/workloadapi/client.ts';
import { startServer, sharedScope } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';
import { entryCreator } from './lib/entry-admin.ts';
import type { Entry } from '../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { rssBytes } from './lib/latency.ts';

const UID = process.getuid?.() ?? 0;
const RSS_BUDGET = 100 * 1024 * 1024;
const MB = (b: number) => (b / 1024 / 1024).toFixed(1);
const snapIdx = process.argv.indexOf('--snapshot');
const snapshot = snapIdx > 0 ? process.argv[snapIdx + 1] : undefined;

interface Memory { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }

async function main(): Promise<void> {
  const scope = sharedScope();
  const dir = mkdtempSync(join(tmpdir(), 'amem-'));
  const memFile = join(dir, 'memory.json');
  try {
    const probe = fileURLToPath(new URL('./lib/memory-probe.mjs', import.meta.url));
    const srv = await startServer(scope, { config: { log_level: 'info' } });
    const agent = await startAgent(scope, {
      server: srv, logLevel: 'info',
      env: { NODE_OPTIONS: `--expose-gc --import ${probe}`, BENCH_MEMORY_FILE: memFile, ...(snapshot ? { BENCH_HEAP_SNAPSHOT: snapshot } : {}) },
    });
    let pid = agent.proc.child.pid!;
    let runtime = 'TypeScript sources through tsx';
    const built = fileURLToPath(new URL('../dist/tessera-agent.mjs', import.meta.url));
    if (!process.argv.includes('--tsx') && existsSync(built)) {
      // What runs in production: the compiled agent with plain node (tsx alone costs tens of MB:
      // its loader thread, esbuild and source maps). Restarted on the same data dir (no re-attestation).
      await agent.stop();
      const env = { ...process.env, NODE_OPTIONS: `--expose-gc --import ${probe}`, BENCH_MEMORY_FILE: memFile, ...(snapshot ? { BENCH_HEAP_SNAPSHOT: snapshot } : {}) };
      const child = spawn(process.execPath, [built, 'run', '--config', agent.configPath], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      scope.teardown(() => { if (child.exitCode === null) child.kill('SIGTERM'); });
      await new Promise<void>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d: Buffer) => { err += d; if (err.includes('"msg":"agent ready"')) resolve(); });
        child.once('exit', (c) => reject(new Error(`dist agent exited (${c}): ${err.slice(-2000)}`)));
      });
      child.stderr!.resume();
      pid = child.pid!;
      runtime = 'dist/tessera-agent.mjs with plain node (npm run build)';
    }
    const create = entryCreator(srv.adminSocket);
    const createMany = async (prefix: string, n: number, uid: number) => {
      for (let i = 0; i < n; i += 1000) {
        await create(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
          spiffe_id: `spiffe://example.org/bench/${prefix}-${i + j}`, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${uid}` }],
        })));
      }
    };
    const measure = async (settleMs: number): Promise<Memory> => {
      // Let the last pushes and rotations finish before collecting (a bench may wait on the clock).
      await new Promise((r) => setTimeout(r, settleMs));
      rmSync(memFile, { force: true });
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; !existsSync(memFile); i++) {
        if (i > 600) throw new Error('the agent never wrote its memory figures (is bench/lib/memory-probe.mjs preloaded?)');
        await new Promise((r) => setTimeout(r, 50));
      }
      const m = JSON.parse(readFileSync(memFile, 'utf8')) as Memory;
      return { ...m, rss: rssBytes(pid) };
    };

    let latest: X509SvidUpdate | undefined;
    const waiters = new Set<() => void>();
    const client = new WorkloadApiClient({ address: agent.endpoint });
    const waitForSvids = (n: number) => new Promise<void>((resolve, reject) => {
      const check = () => { if ((latest?.svids.length ?? 0) >= n) { waiters.delete(check); clearTimeout(timer); resolve(); } };
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${n} SVIDs (have ${latest?.svids.length ?? 0})`)); }, 900_000);
      waiters.add(check);
      check();
    });

    console.log(`agent: ${runtime}`);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const rows: [string, number, number, Memory][] = [];
    rows.push(['baseline', 0, 0, await measure(2000)]);
    await createMany('other', 1000, UID + 54321);
    await new Promise((r) => setTimeout(r, 1000));
    rows.push(['entries', 1000, 0, await measure(2000)]);

    await createMany('svid', 1000, UID);
    const sub = client.watchX509Svids({
      onUpdate(u) { latest = u; for (const w of waiters) w(); },
      onError(e) { console.error('stream error', e.message); },
    });
    await waitForSvids(1000);
    rows.push(['svids-1k', 2000, latest!.svids.length, await measure(3000)]);
    await createMany('svid-more', 9000, UID);
    await waitForSvids(10_000);
    const last = latest!;
    rows.push(['svids-10k', 11_000, last.svids.length, await measure(5000)]);

    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('stage        entries  SVIDs    RSS MB  heap used/total MB  external MB  arrayBuffers MB');
    for (const [name, e, s, m] of rows) {
      console.log(`${name.padEnd(12)} ${String(e).padStart(7)} ${String(s).padStart(6)} ${MB(m.rss).padStart(9)} ${`${MB(m.heapUsed)} / ${MB(m.heapTotal)}`.padStart(19)} ${MB(m.external).padStart(12)} ${MB(m.arrayBuffers).padStart(16)}`);
    }
    const [base, ent, k1, k10] = rows.map((r) => r[3]);
    const perEntry = (ent!.rss - base!.rss) / 1000;
    const perEntryHeap = (ent!.heapUsed - base!.heapUsed) / 1000;
    const perSvid = (k10!.rss - k1!.rss) / 9000 - perEntry;
    const perSvidHeap = (k10!.heapUsed + k10!.arrayBuffers - k1!.heapUsed - k1!.arrayBuffers) / 9000 - perEntryHeap;
    const s0 = last.svids[0]!;
    const floor = s0.certificates.reduce((n, c) => n + c.length, 0) + s0.privateKey.length;
    console.log(`per entry: ${perEntry.toFixed(0)} B RSS, ${perEntryHeap.toFixed(0)} B heap`);
    console.log(`per cached SVID (entry cost removed): ${perSvid.toFixed(0)} B RSS, ${perSvidHeap.toFixed(0)} B heap + array buffers; DER chain + key ${floor} B`);
    console.log(`ratio agent RSS with 10k SVIDs / 100 MB ${(k10!.rss / RSS_BUDGET).toFixed(2)} (goal <= 1)`);
    console.log(`ratio bytes per cached SVID / its DER ${(perSvid / floor).toFixed(2)}`);
    if (snapshot) await writeSnapshot(pid, snapshot);
    sub.close();
    client.close();
    create.close();
  } finally {
    await scope.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asks the probe for a heap snapshot of the agent (SIGWINCH) and waits until it is written. */
async function writeSnapshot(pid: number, file: string): Promise<void> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGWINCH');
  for (let i = 0; !existsSync(file); i++) {
    if (i > 2400) throw new Error('no heap snapshot');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`agent heap snapshot: ${file}`);
}

await main();
