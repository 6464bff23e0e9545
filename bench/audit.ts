/**
 * Transparency-log figures (docs/audit.md "Figures"), each against a limit measured or
 * fixed in the same run:
 *
 *   issuance   X.509-SVID signing as BatchSignX509SVID does it (64 in flight), with the
 *              issuance event recorded (queued to the batcher) vs without, in one process:
 *              BENCH_ROUNDS pairs of windows, the order swapped every round (off·on, on·off)
 *              so drift and other processes' load fall on both sides alike; the events of an
 *              "on" window are written before the next window starts (untimed, as before:
 *              its last batch is not charged to either side). Ratio goal ≥ 0.9:
 *              SVIDs per second over all "on" windows / over all "off" windows, and the
 *              median of the per-round ratios
 *   appends    events per second through the batcher into SQLite (one transaction per batch)
 *   proofs     inclusion / consistency proof generation time and size at BENCH_LOG_SIZE
 *              entries (default 1 000 000): O(log n) reads, goal < 5 ms
 *   bytes      database bytes per event (file size after close / events)
 *
 * Run: npm run bench:audit   (optional: BENCH_SECONDS=2 BENCH_ROUNDS=6 BENCH_LOG_SIZE=1000000)
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { createCsr } from '../spiffe/x509svid/csr.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import { CaManager } from '../server/ca/manager.ts';
import { SvidSigner } from '../server/ca/signer.ts';
import { AuditLog } from '../server/audit/log.ts';
import { generateSigner } from '../server/audit/checkpoint.ts';
import { leafOf, type AuditEvent } from '../server/audit/events.ts';
import { verifyInclusion } from '../server/audit/merkle.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const LOG_SIZE = Number(process.env.BENCH_LOG_SIZE ?? 1_000_000);

/** Runs `fn` `batch` at a time for SECONDS; the count, the seconds it took and the process CPU seconds. */
async function window(fn: () => Promise<unknown>, batch: number): Promise<{ n: number; s: number; cpu: number }> {
  for (let i = 0; i < 4; i++) await Promise.all(Array.from({ length: batch }, fn));
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() < start + SECONDS * 1000) { await Promise.all(Array.from({ length: batch }, fn)); n += batch; }
  const cpu = process.cpuUsage(cpu0);
  return { n, s: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2; };

const dir = mkdtempSync(join(tmpdir(), 'bench-audit-'));
try {
  const td = TrustDomain.parse('example.org');
  const origin = 'example.org/tessera/audit';
  console.log(`audit bench (${ROUNDS} × ${SECONDS}s per side, log of ${LOG_SIZE} entries, Node ${process.version}, load average ${load()})`);

  // ---- issuance with the log on vs off ----
  const store = SqliteDatastore.open({ path: join(dir, 'issue.sqlite3') });
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 300, store, clock: systemClock, logger: silentLogger });
  const signer = new SvidSigner(ca, systemClock);
  const audit = new AuditLog({ store, signer: generateSigner(origin), origin, clock: systemClock, logger: silentLogger });
  const csrs: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    csrs.push(await createCsr(privateKey, publicKey, td.id('bench', `w${i}`)));
  }
  const claims = { agent_model: 'claude-x', agent_provider: 'anthropic', agent_version: '4', agent_instance_id: 'inst_abcdefghijklmnopqrstuv' };
  let k = 0;
  const issue = (withLog: boolean) => async () => {
    const i = k++ % csrs.length;
    const id = td.id('bench', `w${i}`);
    const svid = await signer.signX509Async({ spiffeId: id, csr: csrs[i], ttlSeconds: 3600, claims });
    // The same event BatchSignX509SVID records (server/api/agent-service.ts).
    if (withLog) {
      await audit.record({
        type: 'x509svid.issued', time: Date.now(), actor: 'spiffe://example.org/tessera/agent/join_token/bench', instance: claims.agent_instance_id,
        resource: id.toString(), action: 'issue', decision: 'allow',
        detail: { serial: svid.serial, entry_id: '6f1c2d3e-0000-4000-8000-000000000000', ttl: 3600, not_after: Math.floor(svid.notAfter / 1000), claims },
      });
    }
  };
  const off = { n: 0, s: 0, cpu: 0 };
  const on = { n: 0, s: 0, cpu: 0 };
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const sides = round % 2 === 0 ? [false, true] : [true, false];
    const r: Record<string, number> = {};
    for (const withLog of sides) {
      const w = await window(issue(withLog), 64);
      const total = withLog ? on : off;
      total.n += w.n; total.s += w.s; total.cpu += w.cpu;
      r[String(withLog)] = w.n / w.s;
      if (withLog) await store.logFlushed();
    }
    ratios.push(r.true! / r.false!);
  }
  const offR = off.n / off.s;
  const onR = on.n / on.s;
  console.log(`  X.509-SVID issuance, log off                       ${offR.toFixed(0).padStart(8)} /s`);
  console.log(`  X.509-SVID issuance, log on (event per SVID)       ${onR.toFixed(0).padStart(8)} /s`);
  console.log(`  ratio on/off: ${(onR / offR).toFixed(2)} (median of rounds ${median(ratios).toFixed(2)}, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) `
    + `(goal >= 0.90) ${onR / offR >= 0.9 ? 'OK' : 'BELOW GOAL'}`);
  // Less sensitive to other processes than the rates, but blind to the time a commit's fsync blocks the loop.
  console.log(`  CPU per SVID, log off / on: ${(1e6 * off.cpu / off.n).toFixed(0)} / ${(1e6 * on.cpu / on.n).toFixed(0)} µs (ratio ${((off.cpu / off.n) / (on.cpu / on.n)).toFixed(2)})`);
  await ca.close();
  await store.close();

  // ---- batched appends, proofs and bytes per event at LOG_SIZE ----
  const path = join(dir, 'log.sqlite3');
  const empty = SqliteDatastore.open({ path });
  await empty.close();
  const baseline = statSync(path).size;
  const big = SqliteDatastore.open({ path });
  const bigLog = new AuditLog({ store: big, signer: generateSigner(origin), origin, clock: systemClock, logger: silentLogger });
  const event = (i: number): AuditEvent => ({
    type: 'x509svid.issued', time: Date.UTC(2026, 0, 1) + i, actor: `spiffe://example.org/tessera/agent/join_token/node-${i % 50}`,
    instance: 'inst_abcdefghijklmnopqrstuv', resource: `spiffe://example.org/workload/w${i % 5000}`, action: 'issue', decision: 'allow',
    detail: { serial: (0x1000000000000000n + BigInt(i)).toString(16), entry_id: '6f1c2d3e-0000-4000-8000-000000000000', ttl: 3600, not_after: 1_767_229_200 + i },
  });
  const t0 = performance.now();
  const WINDOW = 20_000;
  for (let from = 0; from < LOG_SIZE; from += WINDOW) {
    const n = Math.min(WINDOW, LOG_SIZE - from);
    await Promise.all(Array.from({ length: n }, (_, j) => big.appendLog(leafOf(event(from + j)))));
  }
  const appendS = (performance.now() - t0) / 1000;
  console.log(`  batched appends (SQLite, ${LOG_SIZE} events)        ${(LOG_SIZE / appendS).toFixed(0).padStart(8)} /s`);
  const half = await bigLog.checkpoint();
  void half;
  const cp = await bigLog.checkpoint();

  const indices = Array.from({ length: 1000 }, () => Math.floor(Math.random() * cp.size));
  const leaves = await Promise.all(indices.slice(0, 20).map((i) => big.logLeaves(i, i + 1).then((l) => l[0]!)));
  let proofBytes = 0;
  const p0 = performance.now();
  for (const i of indices) proofBytes += (await big.logInclusionProof(i, cp.size)).length * 32;
  const incMs = (performance.now() - p0) / indices.length;
  for (const l of leaves) verifyInclusion(l.index, cp.size, l.leafHash, await big.logInclusionProof(l.index, cp.size), cp.root);
  const c0 = performance.now();
  let consBytes = 0;
  for (let j = 0; j < 200; j++) consBytes += (await big.logConsistencyProof(1 + Math.floor(Math.random() * (cp.size - 1)), cp.size)).length * 32;
  const consMs = (performance.now() - c0) / 200;
  console.log(`  inclusion proof at ${cp.size} entries: ${incMs.toFixed(3)} ms, ${(proofBytes / indices.length).toFixed(0)} bytes (goal < 5 ms) ${incMs < 5 ? 'OK' : 'ABOVE GOAL'}`);
  console.log(`  consistency proof at ${cp.size} entries: ${consMs.toFixed(3)} ms, ${(consBytes / 200).toFixed(0)} bytes`);
  await big.close();
  const bytes = statSync(path).size - baseline;
  console.log(`  database bytes per event: ${(bytes / LOG_SIZE).toFixed(0)} (leaf row + indexes + cached subtree hashes; event JSON ${leafOf(event(1)).data.length} bytes)`);
  console.log(`  load average at the end: ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
