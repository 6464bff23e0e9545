/**
 * Scale of one tessera-server (SQLite) under a fleet of simulated agents
 * (bench/scale/sim-agents.ts: the real agent API, many agents per process, one TLS
 * connection and one SyncEntries stream each):
 *
 *  - attest N agents (join tokens), give each E entries of its own plus one "hub" entry
 *    (the same SPIFFE ID under every agent), so an entry whose parent is the hub is in
 *    every agent's authorized set;
 *  - full sync: all N open their stream at once; per agent, stream open → first (full)
 *    message, and the time until the last agent has its snapshot;
 *  - fan-out: C times, one entry created under the hub through the admin API; per agent,
 *    the admin call → that entry on its stream (p50 / p99 / max), server CPU per change;
 *  - server RSS after each phase.
 *
 *  - server heap after a forced GC (through its inspector) with and without the streams:
 *    bytes per entry and per stream; the load average next to every figure (shared box).
 *
 *   node --experimental-websocket --import tsx bench/scale/run.ts [--agents 1000] [--entries 10] [--workers 4] [--changes 20]
 *
 * 10k agents × 100k entries: --agents 10000 --entries 9 (9 own + the hub per agent).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg } from '../lib/pinned-server.ts';
import { adminCall, sharedScope, startServer } from '../../test/helpers/server.ts';
import { cpuSeconds, rssMiB } from './proc-stats.ts';
import { load, ServerHeap } from './heap.ts';

const AGENTS = arg('agents', 1000), ENTRIES = arg('entries', 10), WORKERS = arg('workers', 4), CHANGES = arg('changes', 20);
const TD = 'example.org';
const HUB = `spiffe://${TD}/scale/hub`;
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN; };
const fmt = (xs: number[]) => `p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms`;
const figures: Record<string, unknown> = {};
const report = (name: string, value: unknown) => { figures[name] = value; console.log(`${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}  [${load()}]`); };
/** Waits for a condition, with a bound so a stuck run ends with a message instead of hanging. */
async function until(what: string, ok: () => boolean, boundMs: number): Promise<void> {
  const end = Date.now() + boundMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const scope = sharedScope();
try {
  const srv = await startServer(scope, { config: { log_level: 'info' }, env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' }, startTimeoutMs: 600_000 });
  const pid = srv.proc.child.pid!;
  const heap = new ServerHeap(ServerHeap.urlIn(srv.proc.stderr()));
  const gc0 = await heap.afterGc();
  report('server RSS at start (MiB)', Math.round(rssMiB(pid)));
  report('server heap after GC at start (MiB)', Math.round(gc0.heapMiB));

  // ---- join tokens, workers, attestation
  const tokens: string[] = [];
  for (let i = 0; i < AGENTS; i += 50) tokens.push(...await Promise.all(Array.from({ length: Math.min(50, AGENTS - i) }, () => srv.joinToken(3600))));
  const script = fileURLToPath(new URL('./sim-agents.ts', import.meta.url));
  const workers: { proc: ChildProcess; base: number }[] = [];
  const ids: string[] = new Array(AGENTS);
  const syncedMs: number[] = [];
  const received = new Map<string, Map<number, number>>(); // entry id -> agent index -> receipt ms
  let lastSynced = 0;
  const per = Math.ceil(AGENTS / WORKERS);
  const attested = Promise.all(Array.from({ length: WORKERS }, (_, w) => new Promise<number>((resolve, reject) => {
    const base = w * per;
    const proc = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push({ proc, base });
    proc.on('message', (m: { attested?: { index: number; id: string }[]; ms?: number; synced?: { index: number; ms: number }[]; updates?: { index: number; ids: string[]; at: number }[]; error?: string }) => {
      if (m.error) { console.error(`worker ${w}: ${m.error}`); reject(new Error(m.error)); }
      if (m.attested) { for (const a of m.attested) ids[base + a.index] = a.id; resolve(m.ms!); }
      if (m.synced) { for (const s of m.synced) syncedMs.push(s.ms); lastSynced = Date.now(); }
      if (m.updates) {
        for (const u of m.updates) for (const id of u.ids) {
          let r = received.get(id);
          if (!r) received.set(id, r = new Map());
          r.set(base + u.index, u.at);
        }
      }
    });
    proc.send({ cmd: 'attest', server: { agentAddress: srv.agentAddress, trustDomain: srv.trustDomain, bundlePem: srv.bundlePem }, tokens: tokens.slice(base, base + per) });
  })));
  // Timed by the workers (from their first Attest), so process start-up is not counted.
  const attestMs = Math.max(...await attested);
  report('attestations', `${AGENTS} in ${attestMs} ms (${Math.round(AGENTS / (attestMs / 1000))}/s)`);

  // ---- entries: E own + 1 hub per agent
  const entries = ids.flatMap((agentId, i) => [
    { spiffe_id: HUB, parent_id: agentId, selectors: [{ type: 'unix', value: 'uid:1' }] },
    ...Array.from({ length: ENTRIES }, (_, k) => ({ spiffe_id: `spiffe://${TD}/scale/a${i}/e${k}`, parent_id: agentId, selectors: [{ type: 'unix', value: `uid:${1000 + k}` }] })),
  ]);
  const createStart = Date.now();
  for (let i = 0; i < entries.length; i += 500) {
    const r = await adminCall<{ results: { status: { code: number; message: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', { entries: entries.slice(i, i + 500) });
    const bad = r.results.find((x) => x.status.code !== 0);
    if (bad) throw new Error(bad.status.message);
  }
  const createMs = Date.now() - createStart;
  report('entries created', `${entries.length} in ${createMs} ms (${Math.round(entries.length / (createMs / 1000))}/s)`);
  report('server RSS with entries, no streams (MiB)', Math.round(rssMiB(pid)));
  const gc1 = await heap.afterGc();
  report('server heap after GC with entries and agents (MiB)', Math.round(gc1.heapMiB));
  report('heap per entry (agents and their records included, bytes)', Math.round(((gc1.heapMiB - gc0.heapMiB) * 2 ** 20) / (entries.length + AGENTS)));

  // ---- full sync
  const syncStart = Date.now();
  for (const w of workers) w.proc.send({ cmd: 'sync' });
  await until('every agent\'s snapshot', () => syncedMs.length >= AGENTS, 30 * 60_000);
  report(`full sync, ${AGENTS} agents × ${ENTRIES + 1} entries: all synced after (ms)`, lastSynced - syncStart);
  report('full sync: stream open → snapshot per agent', fmt(syncedMs));
  await new Promise((r) => setTimeout(r, 1000));
  report(`server RSS with ${AGENTS} sync streams (MiB)`, Math.round(rssMiB(pid)));
  const gc2 = await heap.afterGc();
  report(`server heap after GC with ${AGENTS} streams (MiB)`, Math.round(gc2.heapMiB));
  report('heap per sync stream (views, watchers, HTTP/2 + TLS state; KiB)', Math.round(((gc2.heapMiB - gc1.heapMiB) * 1024) / AGENTS));

  // ---- fan-out
  const all: number[] = [];
  const p99s: number[] = [];
  const cpu0 = cpuSeconds(pid);
  for (let c = 0; c < CHANGES; c++) {
    const at = Date.now();
    const r = await adminCall<{ results: { status: { code: number; message: string }; entry: { id: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
      entries: [{ spiffe_id: `spiffe://${TD}/scale/shared${c}`, parent_id: HUB, selectors: [{ type: 'unix', value: 'uid:7' }] }],
    });
    const id = r.results[0]!.entry.id;
    await until(`change ${c} on every stream`, () => (received.get(id)?.size ?? 0) >= AGENTS, 10 * 60_000);
    const lat = [...received.get(id)!.values()].map((t) => t - at);
    all.push(...lat);
    p99s.push(pct(lat, 99));
  }
  const cpuPerChange = ((cpuSeconds(pid) - cpu0) / CHANGES) * 1000;
  report(`fan-out: one entry → all ${AGENTS} agents, ${CHANGES} changes`, fmt(all));
  report('fan-out: p99 of each change (ms)', p99s);
  report('server CPU per fanned-out change (ms, incl. ~1 admin call)', Math.round(cpuPerChange));
  report('server CPU per change per agent (µs)', Math.round((cpuPerChange * 1000) / AGENTS));
  report('server RSS at end (MiB)', Math.round(rssMiB(pid)));
  report('server heap after GC at end (MiB)', Math.round((await heap.afterGc()).heapMiB));
  heap.close();
  console.log(JSON.stringify({ agents: AGENTS, entries_per_agent: ENTRIES, workers: WORKERS, changes: CHANGES, figures }));
  for (const w of workers) w.proc.send({ cmd: 'stop' });
} finally {
  await scope.cleanup();
}
