/**
 * Workload API latency (part 1): FetchX509SVID first-response latency, p50/p99, with
 * 1, 50 and 200 concurrent clients against the real endpoint (peer credentials,
 * unix attestation, fake provider minting real SVIDs), next to a bare grpc-js unary
 * echo over the same kind of Unix socket, printed as a ratio (goal <= 2).
 *
 * Clients are separate processes (this file with --client), each holding its own
 * channels (one connection each); every round they fire all calls at once.
 *
 *   node --import tsx bench/workload-api.ts [--rounds N]
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WorkloadApiServer } from '../node-agent/workload-api/server.ts';
import { WorkloadAttestationComposer } from '../node-agent/attestation/composer.ts';
import { UnixWorkloadAttestor } from '../attestors/workload/unix.ts';
import { loadWorkloadApiProto } from '../node-agent/workload-api/proto.ts';
import { FakeIdentityProvider } from '../test/helpers/fake-provider.ts';

const id = (b: Buffer) => b;
const ECHO = { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };

if (process.argv[2] === '--client') await client(process.argv[3]!, process.argv[4] as 'fetch' | 'echo', Number(process.argv[5]));
else await main();

/** One client process: N channels, then one timed call per channel per "GO" line on stdin. */
async function client(socket: string, kind: 'fetch' | 'echo', channels: number): Promise<void> {
  // A local subchannel pool per client: every channel gets its own connection (its own peer).
  const opts = { 'grpc.use_local_subchannel_pool': 1 };
  const creds = grpc.credentials.createInsecure();
  const Wl = loadWorkloadApiProto().grpc.SpiffeWorkloadAPI;
  const clients = Array.from({ length: channels }, () => kind === 'fetch' ? new Wl(`unix://${socket}`, creds, opts) : new grpc.Client(`unix://${socket}`, creds, opts));
  await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.waitForReady(Date.now() + 10_000, (e) => (e ? rej(e) : res())))));
  const md = new grpc.Metadata();
  md.set('workload.spiffe.io', 'true');
  const once = (c: grpc.Client): Promise<number> => new Promise((res, rej) => {
    const t0 = performance.now();
    if (kind === 'echo') {
      c.makeUnaryRequest('/bench.Echo/Echo', id, id, Buffer.from('ping'), (e: grpc.ServiceError | null) => (e ? rej(e) : res(performance.now() - t0)));
      return;
    }
    const call = (c as InstanceType<typeof Wl>).FetchX509SVID({}, md);
    call.once('data', () => { res(performance.now() - t0); call.cancel(); });
    call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) rej(e); });
  });
  process.stdout.write('READY\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'GO') break;
    const lat = await Promise.all(clients.map(once));
    process.stdout.write(JSON.stringify(lat) + '\n');
  }
  for (const c of clients) c.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const baseRounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 0;
  const dir = mkdtempSync(join(tmpdir(), 'wlb-'));
  chmodSync(dir, 0o755);
  const wlSocket = join(dir, 'agent.sock');
  const echoSocket = join(dir, 'echo.sock');

  const provider = await FakeIdentityProvider.create();
  provider.addEntry({ id: 'bench', spiffeId: 'spiffe://example.org/bench', selectors: [`unix:uid:${process.getuid!()}`] });
  const server = new WorkloadApiServer({
    socketPath: wlSocket, provider,
    attestation: new WorkloadAttestationComposer({ unix: new UnixWorkloadAttestor() }),
    agentId: () => 'spiffe://example.org/tessera/agent/bench/1',
  });
  await server.start();

  const echo = new grpc.Server();
  echo.addService(ECHO, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  await new Promise<void>((res, rej) => echo.bindAsync(`unix://${echoSocket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));

  const self = fileURLToPath(import.meta.url);
  const rows: string[] = [];
  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cpus; client processes: min(concurrency, 4)`);
  for (const concurrency of [1, 50, 200]) {
    const rounds = baseRounds || (concurrency === 1 ? 200 : concurrency === 50 ? 20 : 6);
    const fetch = await measure(self, wlSocket, 'fetch', concurrency, rounds);
    const bare = await measure(self, echoSocket, 'echo', concurrency, rounds);
    const f = stats(fetch), e = stats(bare);
    rows.push([String(concurrency).padStart(5), String(fetch.length).padStart(6),
      `${f.p50.toFixed(2)} / ${f.p99.toFixed(2)}`.padStart(16), `${e.p50.toFixed(2)} / ${e.p99.toFixed(2)}`.padStart(16),
      `${(f.p50 / e.p50).toFixed(2)} / ${(f.p99 / e.p99).toFixed(2)}`.padStart(12)].join('  '));
  }
  console.log('\nFetchX509SVID first response vs bare unary echo, same kind of Unix socket (ms)');
  console.log(['  conc', 'calls', 'fetch p50 / p99', 'echo p50 / p99', 'ratio 50/99'].map((s, i) => s.padStart([6, 6, 16, 16, 12][i]!)).join('  '));
  for (const r of rows) console.log(r);
  await server.stop();
  echo.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
}

/** Latencies of `rounds` rounds of `concurrency` simultaneous first responses (after one warm-up round). */
async function measure(self: string, socket: string, kind: 'fetch' | 'echo', concurrency: number, rounds: number): Promise<number[]> {
  const procs = Math.min(concurrency, 4);
  const per = Array.from({ length: procs }, (_, i) => Math.floor(concurrency / procs) + (i < concurrency % procs ? 1 : 0));
  const children = per.map((n) => startClient(self, socket, kind, n));
  await Promise.all(children.map((c) => c.next()));
  const all: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    for (const c of children) c.child.stdin!.write('GO\n');
    const res = await Promise.all(children.map((c) => c.next()));
    if (r > 0) for (const line of res) all.push(...(JSON.parse(line) as number[])); // round 0 warms up
  }
  for (const c of children) c.child.stdin!.end();
  await Promise.all(children.map((c) => new Promise((r) => c.child.once('exit', r))));
  return all;
}

function startClient(self: string, socket: string, kind: string, channels: number): { child: ChildProcess; next(): Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--client', socket, kind, String(channels)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => { const w = waiters.shift(); if (w) w(l); else lines.push(l); });
  return { child, next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r))) };
}

function stats(xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99) };
}
