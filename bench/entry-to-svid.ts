/**
 * Entry created → X.509-SVID on an already open FetchX509SVID stream, through real
 * processes: tessera-server, tessera-agent (debug logs), and this process as the
 * workload and admin client. Two cases:
 *
 *   single   N entries one after another (default 100): p50/p99 of each, and where the
 *            time goes, from the agent's own log lines: sync push (create → "entry sync
 *            update"), mint (→ "signed X.509-SVIDs": key, CSR and the BatchSignX509SVID
 *            round trip, whose own ms the line carries) and delivery (→ the stream message);
 *   burst    1,000 entries in one BatchCreateEntry: p50/p99 of when each SVID appeared.
 *
 * Goal (issue 19): p99 < 50 ms in both. Log timestamps have millisecond resolution.
 *
 *   node --import tsx bench/entry-to-svid.ts [--entries 100] [--burst 1000]
 */
import * as grpc from '@grpc/grpc-js';
import { cpus, loadavg } from 'node:os';
import { WorkloadApiClient, type X509SvidUpdate } from '../spiffe/workloadapi/client.ts';
import { startServer, sharedScope } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';
import { entryCreator } from './lib/entry-admin.ts';
import type { Entry } from '../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { arg } from './lib/pinned-server.ts';
import { median, pct } from './lib/latency.ts';

const UID = process.getuid?.() ?? 0;
const GOAL_MS = 50;
const scope = sharedScope();

interface LogLine { time: string; msg: string; ms?: number }

async function main(): Promise<void> {
  const n = arg('entries', 100);
  const burst = arg('burst', 1000);
  const srv = await startServer(scope, { config: { log_level: 'info' } });
  const agent = await startAgent(scope, { server: srv, logLevel: 'debug' });
  const create = entryCreator(srv.adminSocket);
  const entry = (name: string): Entry => ({ spiffe_id: `spiffe://example.org/bench/${name}`, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] });

  // Arrival time (wall ms) of each SPIFFE ID on the one open stream.
  const seen = new Map<string, number>();
  let latest: X509SvidUpdate | undefined;
  const waiters = new Set<() => void>();
  const client = new WorkloadApiClient({ address: agent.endpoint });
  await create([entry('base')]);
  const sub = client.watchX509Svids({
    onUpdate(u) {
      const now = Date.now();
      latest = u;
      for (const s of u.svids) if (!seen.has(s.spiffeId)) seen.set(s.spiffeId, now);
      for (const w of waiters) w();
    },
    onError(e) { console.error('stream error', e.message); },
  });
  const waitFor = (pred: () => boolean) => new Promise<void>((resolve, reject) => {
    const check = () => { if (pred()) { waiters.delete(check); clearTimeout(timer); resolve(); } };
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out (${latest?.svids.length ?? 0} SVIDs)`)); }, 600_000);
    waiters.add(check);
    check();
  });
  await waitFor(() => seen.size === 1);
  const logs = () => (agent.proc.stderr() + agent.proc.stdout()).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  const at = (l: LogLine) => Date.parse(l.time);

  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const total: number[] = [], sync: number[] = [], mint: number[] = [], rtt: number[] = [], deliver: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `spiffe://example.org/bench/one-${i}`;
    const t0 = Date.now();
    await create([entry(`one-${i}`)]);
    await waitFor(() => seen.has(id));
    const t1 = seen.get(id)!;
    total.push(t1 - t0);
    const after = logs().filter((l) => at(l) >= t0);
    const s = after.find((l) => l.msg === 'entry sync update');
    const m = after.find((l) => l.msg === 'signed X.509-SVIDs' && (!s || at(l) >= at(s)));
    if (s && m) {
      sync.push(at(s) - t0); mint.push(at(m) - at(s)); rtt.push(m.ms ?? 0); deliver.push(t1 - at(m));
    }
  }
  const p50 = pct(total, 50), p99 = pct(total, 99);
  console.log(`\nsingle: ${n} entries one at a time: p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...total)} ms`);
  if (sync.length > 0) {
    const parts = { 'sync push': median(sync), 'mint (key + CSR + sign)': median(mint), 'delivery to the stream': median(deliver) };
    const sum = Object.values(parts).reduce((a, b) => a + b, 0) || 1;
    console.log(`  medians (${sync.length} entries with both log lines): ${Object.entries(parts).map(([k, v]) => `${k} ${v} ms (${Math.round((100 * v) / sum)}%)`).join(', ')}; BatchSignX509SVID round trip ${median(rtt)} ms`);
  }
  console.log(`ratio entry->SVID p50 / ${GOAL_MS} ms, single ${(p50 / GOAL_MS).toFixed(2)}`);
  console.log(`ratio entry->SVID p99 / ${GOAL_MS} ms, single ${(p99 / GOAL_MS).toFixed(2)} (goal <= 1)`);

  if (burst > 0) {
    const names = Array.from({ length: burst }, (_, i) => `burst-${i}`);
    const t0 = Date.now();
    for (let i = 0; i < names.length; i += 1000) await create(names.slice(i, i + 1000).map(entry));
    await waitFor(() => names.every((x) => seen.has(`spiffe://example.org/bench/${x}`)));
    const lat = names.map((x) => seen.get(`spiffe://example.org/bench/${x}`)! - t0);
    const b50 = pct(lat, 50), b99 = pct(lat, 99);
    console.log(`\nburst: ${burst} entries in one call: p50 ${b50} ms, p99 ${b99} ms (the stream message then carries ${latest!.svids.length} SVIDs)`);
    console.log(`ratio entry->SVID p99 / ${GOAL_MS} ms, burst of ${burst} ${(b99 / GOAL_MS).toFixed(2)} (goal <= 1)`);
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  sub.close();
  client.close();
  create.close();
}

main().then(() => scope.cleanup(), async (e) => { console.error(e); await scope.cleanup(); process.exitCode = 1; });
