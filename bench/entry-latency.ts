/**
 * Entry created -> SVID on an already-open FetchX509SVID stream, p50/p99 over N
 * entries (goal p99 < 1 s; SPIRE's sync interval alone is 5 s), and the agent's RSS
 * with 1,000 and 10,000 cached X.509-SVIDs. Real processes: tessera-server,
 * tessera-agent; this process is the workload (and the admin client).
 *
 *   npm run ... / node --import tsx bench/entry-latency.ts [entries=60]
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { WorkloadApiClient, type X509SvidUpdate } from '../spiffe/workloadapi/client.ts';
import { startServer, sharedScope } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';
import { entryCreator } from './lib/entry-admin.ts';
import type { Entry } from '../proto/gen/tessera-api/tessera/v1/Entry.ts';

const N = Number(process.argv[2] ?? 60);
const UID = process.getuid?.() ?? 0;
const scope = sharedScope();

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
}
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!; };

async function main(): Promise<void> {
  const srv = await startServer(scope, { config: { log_level: 'info' } });
  const agent = await startAgent(scope, { server: srv, logLevel: 'info' });
  const create = entryCreator(srv.adminSocket);
  const entry = (name: string): Entry => ({ spiffe_id: `spiffe://example.org/bench/${name}`, parent_id: agent.spiffeId, selectors: [{ type: 'unix', value: `uid:${UID}` }] });

  // One open stream for this process; updates are checked against waiters.
  let latest: X509SvidUpdate | undefined;
  const waiters = new Set<() => void>();
  const client = new WorkloadApiClient({ address: agent.endpoint });
  await create([entry('base')]);
  const sub = client.watchX509Svids({
    onUpdate(u) { latest = u; for (const w of waiters) w(); },
    onError(e) { console.error('stream error', e.message); },
  });
  const waitFor = (pred: (u: X509SvidUpdate) => boolean, timeoutMs = 120_000) => new Promise<number>((resolve, reject) => {
    const check = () => { if (latest && pred(latest)) { waiters.delete(check); clearTimeout(timer); resolve(performance.now()); } };
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error('timed out')); }, timeoutMs);
    waiters.add(check);
    check();
  });
  await waitFor((u) => u.svids.length === 1);

  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const name = `lat-${i}`;
    const id = `spiffe://example.org/bench/${name}`;
    const t0 = performance.now();
    await create([entry(name)]);
    const t1 = await waitFor((u) => u.svids.some((s) => s.spiffeId === id));
    lat.push(t1 - t0);
  }
  console.log(`entry created -> SVID on an open stream, ${N} entries: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (goal p99 < 1000 ms)`);

  const pid = agent.proc.child.pid!;
  console.log(`agent RSS with ${latest!.svids.length} cached SVIDs: ${rssMb(pid)} MB`);
  for (const target of [1_000, 10_000]) {
    const have = latest!.svids.length;
    const names = Array.from({ length: target - have }, (_, i) => `rss-${target}-${i}`);
    const t0 = performance.now();
    for (let i = 0; i < names.length; i += 1000) await create(names.slice(i, i + 1000).map(entry));
    await waitFor((u) => u.svids.length >= target, 300_000);
    const secs = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    global.gc?.();
    console.log(`agent RSS with ${latest!.svids.length} cached SVIDs: ${rssMb(pid)} MB (minted ${names.length} in ${secs.toFixed(1)} s)`);
  }
  sub.close();
  client.close();
  create.close();
}

main().then(() => scope.cleanup(), async (e) => { console.error(e); await scope.cleanup(); process.exitCode = 1; });
