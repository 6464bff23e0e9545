/**
 * Agent memory with many idle Workload API connections, and after the agent's idle
 * timeout closed them (real server and agent processes; agent RSS from /proc).
 *
 *   raw:  1,000 plain connections that never send a byte
 *   grpc: 1,000 gRPC channels that connect (HTTP/2 preface, SETTINGS) and never call
 *
 * Prints RSS before, with the connections open, and once every one was closed by the
 * agent (then 10 s and 30 s later), and the agent's RSS at the end against its RSS
 * before the first connection (limit 1.10: the memory comes back; when depends on
 * V8's next collection, so one phase's residue may only go in the next). With --kill
 * the clients are killed instead
 * (for agents without an idle timeout, e.g. to compare with an older build).
 *
 *   node --import tsx bench/agent-idle-connections.ts [--kill]
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { loadWorkloadApiProto } from '../node-agent/workload-api/proto.ts';

if (process.argv[2] === '--grpc-client') await grpcClient(process.argv[3]!, Number(process.argv[4]));
else if (process.argv[2] === '--raw-client') await rawClient(process.argv[3]!, Number(process.argv[4]));
else await main();

/** N plain connections, opened 50 at a time (the listen backlog is finite), never written to; prints closes. */
async function rawClient(socket: string, n: number): Promise<void> {
  let closed = 0;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, function open(): Promise<void> {
      return new Promise<void>((res, rej) => {
        const s = net.connect(socket, () => {
          s.resume(); // read (and drop) whatever comes, so the FIN is seen
          s.on('close', () => process.stdout.write(JSON.stringify({ event: 'closed', n: ++closed }) + '\n'));
          res();
        });
        // Backlog full (the agent accepts slower than we connect): try again shortly.
        s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EAGAIN' ? setTimeout(() => open().then(res, rej), 50) : rej(e)));
      });
    }));
  }
  process.stdout.write(JSON.stringify({ event: 'open', n }) + '\n');
  setInterval(() => { /* hold until killed */ }, 1 << 30);
}

/** N channels, each its own connection, connected and then left idle; prints closes. */
async function grpcClient(socket: string, n: number): Promise<void> {
  const Wl = loadWorkloadApiProto().grpc.SpiffeWorkloadAPI;
  const clients = Array.from({ length: n }, () => new Wl(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  await Promise.all(clients.map((c) => new Promise<void>((res, rej) => c.waitForReady(Date.now() + 60_000, (e) => (e ? rej(e) : res())))));
  process.stdout.write(JSON.stringify({ event: 'open', n }) + '\n');
  let closed = 0;
  for (const c of clients) {
    const ch = c.getChannel();
    const watch = (): void => ch.watchConnectivityState(ch.getConnectivityState(false), Infinity, () => {
      if (ch.getConnectivityState(false) === grpc.connectivityState.IDLE) process.stdout.write(JSON.stringify({ event: 'closed', n: ++closed }) + '\n');
      else watch();
    });
    watch();
  }
  setInterval(() => { /* hold until killed */ }, 1 << 30);
}

async function main(): Promise<void> {
  const { sharedScope, startServer } = await import('../test/helpers/server.ts');
  const { startAgent } = await import('../test/helpers/agent.ts');
  const { spawnTs } = await import('../test/helpers/proc.ts');
  const scope = sharedScope();
  try {
    const srv = await startServer(scope);
    // Long enough that the first connections are not closed before the last is open.
    const kill = process.argv.includes('--kill');
    const agent = await startAgent(scope, { server: srv, logLevel: 'info', config: kill ? {} : { workload_api: { idle_timeout: '30s' } } });
    const pid = agent.proc.child.pid!;
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    const settle = () => new Promise((r) => setTimeout(r, 2_000));
    const rows: string[] = [];
    await settle();
    const baseline = rss();
    for (const kind of ['raw', 'grpc'] as const) {
      await settle();
      const before = rss();
      const n = 1000;
      const holder = spawnTs(undefined, 'bench/agent-idle-connections.ts', [`--${kind}-client`, agent.socketPath, String(n)]);
      await holder.waitFor(/"event":"open"/, 120_000);
      const open = rss();
      if (kill) await holder.stop(); else await holder.waitFor(new RegExp(`"event":"closed","n":${n}\\b`), 120_000);
      await settle();
      const after = rss();
      await new Promise((r) => setTimeout(r, 8_000));
      const after10 = rss();
      await new Promise((r) => setTimeout(r, 20_000));
      const after30 = rss();
      await holder.stop();
      rows.push(`${kind.padEnd(5)} ${n} conns  RSS before ${before.toFixed(1)} MB, open ${open.toFixed(1)} MB (+${(open - before).toFixed(1)}); `
        + `closed ${kill ? '(clients killed)' : 'by the agent'}: ${after.toFixed(1)} / ${after10.toFixed(1)} / ${after30.toFixed(1)} MB at +2/10/30 s `
        + `(${after30 - before >= 0 ? '+' : ''}${(after30 - before).toFixed(1)})`);
    }
    const end = rss();
    console.log(rows.join('\n'));
    console.log(`RSS end/start: ${end.toFixed(1)} / ${baseline.toFixed(1)} MB = ${(end / baseline).toFixed(2)} (limit 1.10) ${end / baseline <= 1.1 ? 'OK' : 'OVER'}`);
  } finally {
    await scope.cleanup();
  }
}
