/**
 * Workload API latency through the real stack: a tessera-server and a tessera-agent
 * process, and a client process (this file with --client) calling FetchX509SVID (time
 * to the first message of the stream), FetchJWTSVID and ValidateJWTSVID with 1 and 16
 * concurrent callers, each caller on its own connection.
 *
 * The limit, measured in the same run with the same process layout: a bare grpc-js
 * unary echo served by another process (this file with --echo) on a Unix socket, plus
 * what every Workload API call must do on top that an echo does not: read the caller's
 * facts from the kernel (the unix workload attestor on /proc/<pid>) and prove afterwards
 * that the pid still names the process that connected (PeerProcess.verify). That cost is
 * measured here, in this process, against the client's pid.
 *
 * Rounds alternate the cases (echo, x509, jwt, validate), rotating which goes first, so
 * a change in the machine's load lands on every case alike.
 *
 *   node --import tsx bench/workload-api-latency.ts [--rounds 30] [--batch 10] [--profile DIR]
 *     --profile DIR   run the agent with --cpu-prof, profiles written to DIR
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadWorkloadApiProto } from '../node-agent/workload-api/proto.ts';
import { startServer, sharedScope } from '../test/helpers/server.ts';
import { startAgent } from '../test/helpers/agent.ts';
import { arg } from './lib/pinned-server.ts';
import { peerCheckCost, pct, spawnLines } from './lib/latency.ts';

type Kind = 'echo' | 'x509' | 'jwt' | 'validate';
const KINDS: Kind[] = ['echo', 'x509', 'jwt', 'validate'];
const id = (b: Buffer) => b;
const ECHO_PATH = '/bench.Echo/Echo';
const AUDIENCE = 'spiffe://example.org/bench-audience';

if (process.argv[2] === '--echo') await echoServer(process.argv[3]!);
else if (process.argv[2] === '--client') await client(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();

/** A bare unary echo on a Unix socket, in its own process like the agent. */
async function echoServer(socket: string): Promise<void> {
  const server = new grpc.Server();
  server.addService({ echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  process.stdout.write('READY\n');
  process.stdin.resume();
  process.stdin.once('end', () => { server.forceShutdown(); process.exit(0); });
}

/**
 * The client process: `callers` channels to each socket (own connection each). Per
 * "GO <kind> <batch>" line: `batch` times, every caller makes one call at once; prints
 * the latencies (ms) as one JSON line.
 */
async function client(agentSocket: string, echoSocket: string, callers: number): Promise<void> {
  const opts = { 'grpc.use_local_subchannel_pool': 1 };
  const creds = grpc.credentials.createInsecure();
  const Wl = loadWorkloadApiProto().grpc.SpiffeWorkloadAPI;
  type WlClient = InstanceType<typeof Wl>;
  const wl: WlClient[] = Array.from({ length: callers }, () => new Wl(`unix://${agentSocket}`, creds, opts));
  const echo = Array.from({ length: callers }, () => new grpc.Client(`unix://${echoSocket}`, creds, opts));
  await Promise.all([...wl, ...echo].map((c) => new Promise<void>((res, rej) => c.waitForReady(Date.now() + 30_000, (e) => (e ? rej(e) : res())))));
  const md = new grpc.Metadata();
  md.set('workload.spiffe.io', 'true');
  // A token to validate; the agent may need a moment after the entry was created.
  let token = '';
  for (let i = 0; !token; i++) {
    token = await new Promise<string>((res) => wl[0]!.FetchJWTSVID({ audience: [AUDIENCE] }, md, (e, r) => res(e ? '' : r!.svids[0]?.svid ?? '')));
    if (!token) { if (i > 600) throw new Error('no JWT-SVID'); await new Promise((r) => setTimeout(r, 100)); }
  }
  const once = (kind: Kind, i: number): Promise<number> => new Promise((res, rej) => {
    const t0 = performance.now();
    const done = (e: grpc.ServiceError | null) => (e ? rej(e) : res(performance.now() - t0));
    switch (kind) {
      case 'echo': echo[i]!.makeUnaryRequest(ECHO_PATH, id, id, Buffer.from('ping'), done); return;
      case 'jwt': wl[i]!.FetchJWTSVID({ audience: [AUDIENCE] }, md, (e) => done(e)); return;
      case 'validate': wl[i]!.ValidateJWTSVID({ audience: AUDIENCE, svid: token }, md, (e) => done(e)); return;
      case 'x509': {
        const call = wl[i]!.FetchX509SVID({}, md);
        call.once('data', () => { res(performance.now() - t0); call.cancel(); });
        call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) rej(e); });
      }
    }
  });
  process.stdout.write('READY\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [go, kind, batch] = line.split(' ');
    if (go !== 'GO') break;
    const lat: number[] = [];
    for (let b = 0; b < Number(batch); b++) lat.push(...await Promise.all(wl.map((_, i) => once(kind as Kind, i))));
    process.stdout.write(JSON.stringify(lat) + '\n');
  }
  for (const c of [...wl, ...echo]) c.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 30);
  const batch = arg('batch', 10);
  const profIdx = process.argv.indexOf('--profile');
  const profileDir = profIdx > 0 ? process.argv[profIdx + 1] : undefined;
  const scope = sharedScope();
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = [];
  let profiled: ChildProcess | undefined;
  try {
    const srv = await startServer(scope, { config: { log_level: 'info' } });
    const agent = await startAgent(scope, { server: srv, logLevel: 'info' });
    const socketPath = agent.socketPath;
    if (profileDir) {
      // --cpu-prof is refused in NODE_OPTIONS: restart the agent (resuming from its data dir) under it.
      await agent.stop();
      const prof = spawnLines(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--import', 'tsx', 'node-agent/cli/main.ts', 'run', '--config', agent.configPath]);
      children.push(prof.child);
      profiled = prof.child;
      await waitForFile(socketPath);
    }
    const cli = await srv.cli(['entry', 'create', '--parent-id', agent.spiffeId, '--spiffe-id', 'spiffe://example.org/bench/wl', '--selector', `unix:uid:${process.getuid!()}`]);
    if (cli.code !== 0) throw new Error(cli.stderr);
    const dir = mkdtempSync(join(tmpdir(), 'wlat-'));
    chmodSync(dir, 0o755);
    const echoSocket = join(dir, 'echo.sock');
    const echo = spawnLines(process.execPath, ['--import', 'tsx', self, '--echo', echoSocket]);
    children.push(echo.child);
    await echo.next();

    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`layout: tessera-server, tessera-agent, echo server and client: four processes; ${rounds} rounds × ${batch} calls per caller per case`);
    const table: string[] = [];
    for (const callers of [1, 16]) {
      const c = spawnLines(process.execPath, ['--import', 'tsx', self, '--client', socketPath, echoSocket, String(callers)]);
      children.push(c.child);
      await c.next();
      const lat: Record<Kind, number[]> = { echo: [], x509: [], jwt: [], validate: [] };
      for (let r = -2; r < rounds; r++) { // two warm-up rounds (JIT, JWT cache)
        for (let k = 0; k < KINDS.length; k++) {
          const kind = KINDS[(k + Math.max(r, 0)) % KINDS.length]!;
          c.child.stdin!.write(`GO ${kind} ${batch}\n`);
          const xs = JSON.parse(await c.next()) as number[];
          if (r >= 0) lat[kind].push(...xs);
        }
      }
      const exited = new Promise((res) => c.child.once('exit', res));
      c.child.stdin!.end();
      // The per-call kernel work, measured right after the rounds (same load).
      const cost = await peerCheckCost();
      const peer = cost.verify * 1000;
      const e50 = pct(lat.echo, 50), e99 = pct(lat.echo, 99);
      table.push(`callers ${callers}: echo p50 ${e50.toFixed(3)} ms p99 ${e99.toFixed(3)} ms; peer verify ${(cost.verify * 1e6).toFixed(0)} µs per call, unix attestation ${(cost.attest * 1e6).toFixed(0)} µs (cached 1 s per process)`);
      for (const kind of ['x509', 'jwt', 'validate'] as const) {
        const p50 = pct(lat[kind], 50), p99 = pct(lat[kind], 99);
        const l50 = e50 + peer, l99 = e99 + peer;
        table.push(`  ${kind.padEnd(8)} p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms   /echo ${(p50 / e50).toFixed(2)} ${(p99 / e99).toFixed(2)}   /limit ${(p50 / l50).toFixed(2)} ${(p99 / l99).toFixed(2)}`);
        const goal = kind === 'x509' ? ' (goal <= 1.3)' : '';
        table.push(`ratio ${kind} p50 / limit, ${callers} callers ${(p50 / l50).toFixed(2)}${goal}`);
        table.push(`ratio ${kind} p99 / limit, ${callers} callers ${(p99 / l99).toFixed(2)}${goal}`);
      }
      await exited;
    }
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('limit = bare unary echo (another process, Unix socket) + peer verify; ratios are p / limit at the same percentile');
    for (const l of table) console.log(l);
    echo.child.stdin!.end();
    if (profiled) {
      profiled.kill('SIGTERM');
      await new Promise((res) => profiled!.once('exit', res));
      console.log(`agent CPU profile written to ${profileDir}`);
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
    await scope.cleanup();
  }
}

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; !existsSync(path); i++) {
    if (i > 1200) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
