/**
 * The whole agent → MCP tool call path (issue 23 §5), with a cached token vs without auth.
 *
 * Real parts: a tessera-server process (oauth + login, SQLite), a tessera-agent process
 * serving the Workload API, an MCP server process (this file with --server, its own uid
 * and SVID: McpServer + StreamableHTTPServerTransport, stateless, on node:https with
 * client certificates requested) listening twice: (a) the bare handler, (b) the same
 * handler behind createMcpResourceServer (Tessera's keys and revocation feed); the handler
 * parses the JSON body before the transport in both. The
 * client is this process: the MCP SDK Client + StreamableHTTPClientTransport over mTLS
 * with this process's SVID, for (b) with SpiffeMcpClientProvider (client_credentials,
 * mTLS client auth, cnf-bound token). Runs as root, like test/oauth/e2e-mcp.test.ts: the MCP
 * server process runs under uid 1305 so the Workload API gives it its own SVID.
 *
 * Printed: the first call's cost (connect + initialize + first tools/call, fresh client:
 * for (b) that includes 401 → protected resource metadata → AS metadata → token), then
 * steady state after the first call: (a) and (b) alternated in rounds, sequential calls
 * (one in flight), calls per second, p50/p99 latency, and CPU per call of the MCP server
 * process and of this process (the machine is shared: CPU per call is the steadier
 * figure; wall figures move with the load average, printed per round).
 *
 *   node --import tsx bench/mcp-path.ts [--n 500] [--rounds 3] [--first 3] [--warm 1000] [--profile <dir>]
 *
 * --profile writes V8 CPU profiles into <dir> (writable by uid 1305): the MCP server
 * process's (whole run, written when it stops) and this process's (the measured rounds):
 * where the cached path's time goes; and rounds.json, the measured windows per mode in
 * CLOCK_MONOTONIC µs (the profiles' clock), to split the server profile into (a) and (b).
 */
import { subscribe } from 'node:diagnostics_channel';
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { X509Source, RevocationFeed, authorizeID, createMtlsAgent, createRemoteDelegationKeys } from '../spiffe/index.ts';
import { callerOf, createMcpResourceServer, nodeFetch, SpiffeMcpClientProvider } from '../spiffe/mcp/index.ts';
import { jsonBody } from '../spiffe/mcp/request-body.ts';
import { certificatesToPem } from '../spiffe/pem.ts';
import { arg } from './lib/pinned-server.ts';
import { cpuSecondsOf, pct } from './lib/latency.ts';

const TD = 'example.org';
const AGENT_ID = `spiffe://${TD}/agents/bench`;
const MCP_ID = `spiffe://${TD}/mcp/bench`;
const MCP_UID = 1305;

if (process.argv.includes('--server')) await serve();
else await main();

/** The MCP server process: one McpServer per request (the SDK's stateless pattern), bare and protected listeners. */
async function serve(): Promise<void> {
  const issuer = process.env.ISSUER!;
  // --profile: node refuses --cpu-prof in NODE_OPTIONS, so the inspector's profiler, written on SIGTERM.
  const profiler = process.env.MCP_PATH_PROFILE ? new Session() : undefined;
  if (profiler) { profiler.connect(); await profiler.post('Profiler.enable'); await profiler.post('Profiler.start'); }
  const source = await X509Source.create();
  const keys = createRemoteDelegationKeys({ issuer, bundleSource: source });
  const revocations = new RevocationFeed({ issuer, source });
  await revocations.ready();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Both listeners parse the body here (as express.json() would): the SDK's transport reading
    // the stream itself costs more (a web Request through @hono/node-server), and the middleware
    // reads it only when toolScopes are set, so letting either do it would skew the comparison.
    await jsonBody(req);
    const mcp = new McpServer({ name: 'bench', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'the caller' }, async (extra) => {
      const c = callerOf(extra.authInfo);
      return { content: [{ type: 'text', text: c ? `${c.user} via ${c.chain.join(' via ')}` : 'anonymous' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, (req as { body?: unknown }).body);
  };
  const svid = source.getX509Svid();
  const tls = { cert: certificatesToPem(svid.certificates), key: svid.privateKey!.export({ type: 'pkcs8', format: 'pem' }) as string, requestCert: true, rejectUnauthorized: false };
  const listen = (s: https.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
  const bare = https.createServer(tls, (req, res) => { void handle(req, res); });
  let guarded: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const auth = https.createServer(tls, (req, res) => guarded(req, res));
  const [pa, pb] = await Promise.all([listen(bare), listen(auth)]);
  const rs = createMcpResourceServer({ resource: `https://127.0.0.1:${pb}/mcp`, issuer, keys, revocations, requiredScopes: ['files:read'] });
  guarded = rs.handler(handle);
  console.log(JSON.stringify({ ports: { bare: pa, auth: pb } }));
  process.once('SIGTERM', async () => {
    for (const s of [bare, auth]) { s.closeAllConnections(); s.close(); }
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(process.env.MCP_PATH_PROFILE!, `mcp-server-${process.pid}.cpuprofile`), JSON.stringify(profile));
    }
    revocations.close(); keys.close(); void source.close();
  });
}

async function main(): Promise<void> {
  const N = arg('n', 500), ROUNDS = arg('rounds', 3), FIRST = arg('first', 3), WARM = arg('warm', 1000);
  const PROFILE = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
  const { sharedScope, startServer } = await import('../test/helpers/server.ts');
  const { startAgent } = await import('../test/helpers/agent.ts');
  const { createEntry } = await import('../test/helpers/agent-e2e.ts');
  const { startOpenIdProvider } = await import('../test/helpers/oidc-provider.ts');
  const { spawnTs } = await import('../test/helpers/proc.ts');
  const scope = sharedScope();
  try {
    const load0 = loadavg();
    const op = await startOpenIdProvider(scope);
    const srv = await startServer(scope, { config: { oauth: {
      listen: '127.0.0.1:0', token_ttl: '10m',
      trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
      // login: the MCP SDK's AS metadata schema requires authorization_endpoint (docs/mcp-sdk.md).
      login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.client.clientSecret, ca_file: op.caFile },
      scopes_supported: ['files:read'],
    } } });
    const issuer = `https://${readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim()}`;
    const agent = await startAgent(scope, { server: srv });
    await createEntry(srv, agent.spiffeId, AGENT_ID, [`unix:uid:${process.getuid!()}`]);
    await createEntry(srv, agent.spiffeId, MCP_ID, [`unix:uid:${MCP_UID}`]);

    const server = spawnTs(undefined, 'bench/mcp-path.ts', ['--server'], {
      uid: MCP_UID, gid: MCP_UID, env: { ...process.env, HOME: tmpdir(), SPIFFE_ENDPOINT_SOCKET: agent.endpoint, ISSUER: issuer,
        ...(PROFILE ? { MCP_PATH_PROFILE: PROFILE } : {}) },
    });
    scope.teardown(() => server.stop());
    const ports = (JSON.parse(await server.waitFor(/\{"ports":\{[^}]*\}\}/, 120_000)) as { ports: { bare: number; auth: number } }).ports;
    const urls = { a: `https://127.0.0.1:${ports.bare}/mcp`, b: `https://127.0.0.1:${ports.auth}/mcp` };
    const r = await srv.cli(['delegation', 'create', '--issuer', issuer, '--actor', AGENT_ID, '--audience', urls.b, '--scope', 'files:read', '--max-ttl', '10m']);
    if (r.code !== 0) throw new Error(`delegation create: ${r.stderr}`);

    process.env.SPIFFE_ENDPOINT_SOCKET = agent.endpoint;
    const source = await X509Source.create();
    scope.teardown(() => source.close());
    const authorize = authorizeID(MCP_ID);

    /** A connected client: (a) mTLS with our SVID, no auth; (b) the same plus Tessera's provider. */
    const connect = async (mode: 'a' | 'b', trace?: string[]) => {
      const url = new URL(urls[mode]);
      let close: () => unknown;
      let transport: StreamableHTTPClientTransport;
      if (mode === 'a') {
        const agentA = createMtlsAgent({ source, authorize, agent: { keepAlive: true } });
        transport = new StreamableHTTPClientTransport(url, { fetch: nodeFetch(() => agentA) });
        close = () => agentA.destroy();
      } else {
        const auth = await SpiffeMcpClientProvider.create({ serverUrl: url, x509Source: source, mcpServer: { authorize } });
        const fetch: typeof auth.fetch = !trace ? auth.fetch : async (u, init) => {
          const t = performance.now();
          const res = await auth.fetch(u, init);
          trace.push(`${init?.method ?? 'GET'} ${new URL(String(u)).pathname} ${res.status} ${(performance.now() - t).toFixed(1)} ms`);
          return res;
        };
        transport = new StreamableHTTPClientTransport(url, { authProvider: auth, fetch });
        close = () => auth.close();
      }
      const client = new Client({ name: 'bench-agent', version: '1.0.0' });
      await client.connect(transport);
      const call = async () => {
        const res = await client.callTool({ name: 'whoami', arguments: {} }) as { content: { text: string }[]; isError?: boolean };
        if (res.isError) throw new Error(res.content[0]?.text ?? 'tool error');
        return res.content[0]!.text;
      };
      return { call, close: async () => { await client.close(); await close(); } };
    };

    // New TCP connections this process opens (keep-alive should make it 0 per steady round).
    let sockets = 0;
    subscribe('net.client.socket', () => { sockets++; });

    // ---- first call: a fresh client each time (one unmeasured pair first: cold JIT), median of FIRST
    const first = { a: [] as number[], b: [] as number[] };
    let answer = '';
    let trace: string[] = [];
    for (let i = 0; i <= FIRST; i++) {
      for (const mode of ['a', 'b'] as const) {
        const t0 = performance.now();
        const steps: string[] = [];
        const c = await connect(mode, mode === 'b' ? steps : undefined);
        const text = await c.call();
        if (i > 0) first[mode].push(performance.now() - t0);
        if (mode === 'b') { answer = text; trace = steps; }
        await c.close();
      }
    }
    if (answer !== `${AGENT_ID} via ${AGENT_ID}`) throw new Error(`(b) answered ${answer}: the token did not reach the tool`);

    // ---- steady state: one connected client per mode, warmed, then alternating rounds
    const clients = { a: await connect('a'), b: await connect('b') };
    // Warm-up, interleaved: the JIT keeps speeding both up for a while, and whichever ran second would gain.
    for (let w = 0; w < 4; w++) for (const mode of ['a', 'b'] as const) for (let i = 0; i < WARM / 4; i++) await clients[mode].call();
    const windows: { mode: 'a' | 'b'; from: number; to: number }[] = [];
    const profiler = PROFILE ? new Session() : undefined;
    if (profiler) { profiler.connect(); await profiler.post('Profiler.enable'); await profiler.post('Profiler.start'); }
    type Round = { rate: number; lat: number[]; serverCpu: number; clientCpu: number; load: number; sockets: number };
    const rounds = { a: [] as Round[], b: [] as Round[] };
    for (let k = 0; k < ROUNDS; k++) {
      // a b, b a, a b, …: neither mode always runs after the other.
      for (const mode of k % 2 === 0 ? ['a', 'b'] as const : ['b', 'a'] as const) {
        const lat: number[] = [];
        const k0 = sockets, s0 = cpuSecondsOf(server.child.pid!), c0 = process.cpuUsage(), t0 = performance.now();
        for (let i = 0; i < N; i++) { const t = performance.now(); await clients[mode].call(); lat.push(performance.now() - t); }
        const wall = performance.now() - t0, cu = process.cpuUsage(c0);
        // CLOCK_MONOTONIC µs, the clock of V8 profile timestamps: slices the server profile by mode.
        windows.push({ mode, from: Number(process.hrtime.bigint() / 1000n) - Math.round(wall * 1000), to: Number(process.hrtime.bigint() / 1000n) });
        rounds[mode].push({ rate: N / (wall / 1000), lat, serverCpu: (cpuSecondsOf(server.child.pid!) - s0) * 1000 / N,
          clientCpu: (cu.user + cu.system) / 1000 / N, load: loadavg()[0]!, sockets: sockets - k0 });
      }
    }
    if (profiler) {
      writeFileSync(join(PROFILE!, `mcp-client-${process.pid}.cpuprofile`), JSON.stringify((await profiler.post('Profiler.stop')).profile));
      writeFileSync(join(PROFILE!, 'rounds.json'), JSON.stringify({ calls: N, windows }));
    }
    for (const c of Object.values(clients)) await c.close();

    // ---- report
    const med = (xs: number[]) => pct(xs, 50);
    const summary = (rs: Round[]) => {
      const lat = rs.flatMap((x) => x.lat);
      return { rate: med(rs.map((x) => x.rate)), p50: pct(lat, 50), p99: pct(lat, 99), serverCpu: med(rs.map((x) => x.serverCpu)), clientCpu: med(rs.map((x) => x.clientCpu)) };
    };
    const sa = summary(rounds.a), sb = summary(rounds.b);
    const load1 = loadavg();
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared; node ${process.version}; load average at start ${load0.map((l) => l.toFixed(1)).join(' ')}, at end ${load1.map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`path: MCP SDK Client (this process) → StreamableHTTP over mTLS (keep-alive, our SVID) → MCP server process (stateless McpServer per request), tools/call whoami, one call in flight; ${WARM} warm-up calls per mode, then ${ROUNDS} rounds × ${N} calls per mode, alternated (a b, b a, …)`);
    console.log(`first call (fresh client: connect + initialize + tools/call, median of ${FIRST}): (a) no auth ${med(first.a).toFixed(1)} ms; (b) Tessera ${med(first.b).toFixed(1)} ms (401 → resource metadata → AS metadata → client_credentials over mTLS), discovery + token ≈ ${(med(first.b) - med(first.a)).toFixed(1)} ms`);
    console.log(`  (b)'s last first call, request by request: ${trace.join('; ')}`);
    for (const [label, rs] of [['(a) no auth          ', rounds.a], ['(b) Tessera, cached  ', rounds.b]] as const) {
      const s = summary(rs);
      console.log(`${label} ${s.rate.toFixed(0)} calls/s (rounds in order: ${rs.map((x) => x.rate.toFixed(0)).join(', ')}; load ${rs.map((x) => x.load.toFixed(1)).join(', ')}), p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms; CPU per call: MCP server ${s.serverCpu.toFixed(2)} ms, client ${s.clientCpu.toFixed(2)} ms; new connections ${rs.map((x) => x.sockets).join(', ')}`);
    }
    console.log(`ratio mcp path p50 latency cached token / no auth ${(sb.p50 / sa.p50).toFixed(2)}`);
    // Paired rounds: each (b) round against the (a) round next to it, median of the ratios.
    console.log(`ratio mcp path calls per second cached token / no auth ${med(rounds.b.map((x, k) => x.rate / rounds.a[k]!.rate)).toFixed(2)}`);
    console.log(`ratio mcp path server CPU per call cached token / no auth ${(sb.serverCpu / sa.serverCpu).toFixed(2)}`);
  } finally {
    await scope.cleanup();
  }
}
