/**
 * Churn on one tessera-server (SQLite) for a while, watching its memory for unbounded
 * growth: simulated agents (bench/scale/sim-agents.ts, real agent API) hold sync
 * streams while, continuously, entries are created and deleted (half under a "hub"
 * entry every agent has, so each of those is fanned out to all streams) and agents
 * drop their connection and come back on a new one. Every 30 s: server heap after a
 * forced GC (inspector) and RSS, with the load average. At the end: the least-squares
 * slope of each over the run (warm-up sample left out).
 *
 *   node --experimental-websocket --import tsx bench/scale/churn.ts [--minutes 10] [--agents 200] [--workers 2]
 *        [--entries-per-tick 20] [--reconnects-per-tick 10] [--tick-ms 2000]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg } from '../lib/pinned-server.ts';
import { adminCall, sharedScope, startServer } from '../../test/helpers/server.ts';
import { rssMiB } from './proc-stats.ts';
import { load, ServerHeap } from './heap.ts';

const MINUTES = arg('minutes', 10), AGENTS = arg('agents', 200), WORKERS = arg('workers', 2);
const PER_TICK = arg('entries-per-tick', 20), RECONNECTS = arg('reconnects-per-tick', 10), TICK_MS = arg('tick-ms', 2000);
const SAMPLE_MS = 30_000;
/** Entries live for this many ticks before they are deleted: the live set stays bounded. */
const LIFETIME_TICKS = 5;
const TD = 'example.org';
const HUB = `spiffe://${TD}/scale/hub`;
const log = (s: string) => console.log(`${s}  [${load()}]`);
type CreateResult = { results: { status: { code: number; message: string }; entry: { id: string } }[] };

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length, mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den ? num / den : NaN;
}

const scope = sharedScope();
const workers: ChildProcess[] = [];
try {
  const srv = await startServer(scope, { config: { log_level: 'info' }, env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' }, startTimeoutMs: 600_000 });
  const pid = srv.proc.child.pid!;
  const heap = new ServerHeap(ServerHeap.urlIn(srv.proc.stderr()));

  // ---- the fleet: attested, one hub entry each, sync streams open
  const tokens = await Promise.all(Array.from({ length: AGENTS }, () => srv.joinToken(3600)));
  const script = fileURLToPath(new URL('./sim-agents.ts', import.meta.url));
  const ids: string[] = [];
  let synced = 0, reconnected = 0, reconnectMs = 0;
  const per = Math.ceil(AGENTS / WORKERS);
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => new Promise<void>((resolve, reject) => {
    const proc = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(proc);
    proc.on('message', (m: { attested?: { index: number; id: string }[]; synced?: unknown[]; reconnected?: number; ms?: number; error?: string }) => {
      if (m.error) { console.error(`worker ${w}: ${m.error}`); reject(new Error(m.error)); }
      if (m.attested) { for (const a of m.attested) ids[w * per + a.index] = a.id; resolve(); }
      if (m.synced) synced += m.synced.length;
      if (m.reconnected !== undefined) { reconnected += m.reconnected; reconnectMs = Math.max(reconnectMs, m.ms ?? 0); }
    });
    proc.send({ cmd: 'attest', server: { agentAddress: srv.agentAddress, trustDomain: srv.trustDomain, bundlePem: srv.bundlePem }, tokens: tokens.slice(w * per, (w + 1) * per) });
  })));
  for (let i = 0; i < ids.length; i += 500) {
    await adminCall(srv.admin().entry, 'BatchCreateEntry', { entries: ids.slice(i, i + 500).map((parent) => ({ spiffe_id: HUB, parent_id: parent, selectors: [{ type: 'unix', value: 'uid:1' }] })) });
  }
  for (const w of workers) w.send({ cmd: 'sync' });
  while (synced < AGENTS) await new Promise((r) => setTimeout(r, 100));
  log(`${AGENTS} agents attested and synced; churn for ${MINUTES} min: every ${TICK_MS} ms ${PER_TICK} entries created and ${PER_TICK} deleted, ${RECONNECTS} agents reconnect`);

  // ---- churn
  const started = Date.now();
  const end = started + MINUTES * 60_000;
  const live: string[][] = [];
  let created = 0, deleted = 0, tick = 0;
  const samples: { min: number; heap: number; rss: number }[] = [];
  let nextSample = started;
  while (Date.now() < end) {
    const tickStart = Date.now();
    const batch = Array.from({ length: PER_TICK }, (_, k) => ({
      spiffe_id: `spiffe://${TD}/churn/t${tick}/e${k}`,
      parent_id: k % 2 === 0 ? HUB : ids[Math.floor(Math.random() * ids.length)]!,
      selectors: [{ type: 'unix', value: `uid:${2000 + k}` }],
    }));
    const r = await adminCall<CreateResult>(srv.admin().entry, 'BatchCreateEntry', { entries: batch });
    live.push(r.results.filter((x) => x.status.code === 0).map((x) => x.entry.id));
    created += live.at(-1)!.length;
    if (live.length > LIFETIME_TICKS) {
      const old = live.shift()!;
      await adminCall(srv.admin().entry, 'BatchDeleteEntry', { ids: old });
      deleted += old.length;
    }
    for (const w of workers) w.send({ cmd: 'reconnect', count: Math.ceil(RECONNECTS / WORKERS) });
    tick++;
    if (Date.now() >= nextSample) {
      const g = await heap.afterGc();
      const s = { min: (Date.now() - started) / 60_000, heap: g.heapMiB, rss: rssMiB(pid) };
      samples.push(s);
      log(`t=${s.min.toFixed(1)} min: heap after GC ${s.heap.toFixed(1)} MiB, RSS ${s.rss.toFixed(0)} MiB; entries created ${created}, deleted ${deleted}, reconnections ${reconnected} (slowest batch ${reconnectMs} ms)`);
      nextSample += SAMPLE_MS;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, TICK_MS - (Date.now() - tickStart))));
  }
  const g = await heap.afterGc();
  samples.push({ min: (Date.now() - started) / 60_000, heap: g.heapMiB, rss: rssMiB(pid) });
  const steady = samples.slice(1);
  const hs = slope(steady.map((s) => s.min), steady.map((s) => s.heap));
  const rs = slope(steady.map((s) => s.min), steady.map((s) => s.rss));
  log(`churn done: ${created} entries created, ${deleted} deleted, ${reconnected} reconnections in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  log(`heap after GC: first ${steady[0]!.heap.toFixed(1)} MiB → last ${steady.at(-1)!.heap.toFixed(1)} MiB, slope ${hs.toFixed(3)} MiB/min (${((hs * 1024 * 1024) / Math.max(1, (created + deleted + reconnected) / ((Date.now() - started) / 60_000))).toFixed(1)} B per operation)`);
  log(`RSS: first ${steady[0]!.rss.toFixed(0)} MiB → last ${steady.at(-1)!.rss.toFixed(0)} MiB, slope ${rs.toFixed(3)} MiB/min`);
  console.log(JSON.stringify({ minutes: MINUTES, agents: AGENTS, created, deleted, reconnected, heap_slope_mib_per_min: hs, rss_slope_mib_per_min: rs, samples }));
  heap.close();
} finally {
  for (const w of workers) w.send({ cmd: 'stop' });
  await scope.cleanup();
}
