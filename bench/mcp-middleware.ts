/**
 * MCP resource-server middleware overhead: requests per second of a node:http handler
 * behind McpResourceServer.handler (Bearer parsing, delegated-token verification with a
 * static key: ES256 signature, claims, 2-deep act chain; 200 live revocation records
 * checked; scope check; AuthInfo set on req) vs the same handler bare, on loopback
 * keep-alive connections, in the same run. Goal: overhead (bare rate / middleware
 * rate) <= 1.10.
 *
 * The load comes from a child process (keep-alive agent, --concurrency sockets) so the
 * client's cost is not counted; rates are per second of the *server* process's CPU
 * time (process.cpuUsage: time descheduled by other load on the shared machine does not
 * count); rounds are short, paired and interleaved, the ratio is the median of the
 * per-round ratios. Each token is verified once per connection (the default
 * `cacheVerified`); the `--no-cache` line (every request verifies the signature) is
 * printed too, for information.
 *
 *   node --import tsx bench/mcp-middleware.ts [--n 4000] [--rounds 11] [--concurrency 8]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createStaticDelegationKeys } from '../spiffe/delegation/keys.ts';
import { RevocationIndex } from '../spiffe/delegation/revocation-index.ts';
import { createMcpResourceServer } from '../spiffe/mcp/resource-server.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };

if (process.argv.includes('--client')) {
  // ---- load generator (child): one keep-alive agent per port, N requests per round at fixed concurrency
  const agents = new Map<number, http.Agent>();
  process.on('message', (m: { port: number; n: number; conc: number; token: string }) => {
    let agent = agents.get(m.port);
    if (!agent) { agent = new http.Agent({ keepAlive: true, maxSockets: m.conc }); agents.set(m.port, agent); }
    const t0 = process.hrtime.bigint();
    let sent = 0, done = 0;
    const one = (): void => {
      if (sent >= m.n) return;
      sent++;
      const req = http.request({ host: '127.0.0.1', port: m.port, path: '/mcp', method: 'GET', agent, headers: { authorization: `Bearer ${m.token}` } }, (res) => {
        if (res.statusCode !== 200) { process.send!({ error: `HTTP ${res.statusCode}` }); process.exit(1); }
        res.resume();
        res.on('end', () => {
          if (++done === m.n) process.send!({ ms: Number(process.hrtime.bigint() - t0) / 1e6 });
          else one();
        });
      });
      req.on('error', (err) => { process.send!({ error: err.message }); process.exit(1); });
      req.end();
    };
    for (let i = 0; i < m.conc; i++) one();
  });
} else {
  const N = arg('n', 4000), ROUNDS = arg('rounds', 11), CONC = arg('concurrency', 8);
  const RESOURCE = 'http://127.0.0.1/mcp';
  const ISSUER = 'https://tessera.example.org:8443';

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Math.floor(Date.now() / 1000);
  const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const payload = {
    iss: ISSUER, sub: 'https://idp.example.org#alice', aud: [RESOURCE], scope: 'files:read review:post',
    exp: now + 3600, iat: now, nbf: now, jti: 'tok_AAAAAAAAAAAAAAAAAAAAAA', client_id: 'spiffe://example.org/agents/sub-agent',
    grant_id: 'grt_AAAAAAAAAAAAAAAAAAAAAA', chain: ['tok_BBBBBBBBBBBBBBBBBBBBBB'], subject: { iss: 'https://idp.example.org', sub: 'alice', groups: ['eng'] },
    act: { sub: 'spiffe://example.org/agents/sub-agent', agent_model: 'claude-sonnet-4', act: { sub: 'spiffe://example.org/agents/researcher' } },
  };
  const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'oauth-1' })}.${b64(payload)}`;
  const token = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;

  const index = new RevocationIndex();
  for (let i = 0; i < 200; i++) index.add({ seq: i, kind: (['grant', 'jti', 'subject', 'actor'] as const)[i % 4], value: `v${i}`, at: now, expiresAt: now + 600 });
  const rsOptions = {
    resource: RESOURCE, issuer: ISSUER, keys: createStaticDelegationKeys([{ kid: 'oauth-1', key: publicKey }]),
    revocations: { revocationOf: (t: Parameters<RevocationIndex['match']>[0]) => index.match(t, Date.now() / 1000) },
    requiredScopes: ['files:read'],
  };
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { ok: true } });
  const bare = (_req: http.IncomingMessage, res: http.ServerResponse) => { res.writeHead(200, { 'content-type': 'application/json' }).end(body); };
  const cached = createMcpResourceServer(rsOptions);
  const uncached = createMcpResourceServer({ ...rsOptions, cacheVerified: false });
  const servers = [http.createServer(bare), http.createServer(cached.handler(bare)), http.createServer(uncached.handler(bare))];
  const ports = await Promise.all(servers.map((s) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)))));

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--client']);
  const round = (port: number): Promise<{ cpuRate: number; wallRate: number }> => new Promise((resolve, reject) => {
    const c0 = process.cpuUsage();
    child.once('message', (m: { ms?: number; error?: string }) => {
      const u = process.cpuUsage(c0);
      if (m.error !== undefined) { reject(new Error(m.error)); return; }
      resolve({ cpuRate: N / ((u.user + u.system) / 1e6), wallRate: N / (m.ms! / 1000) });
    });
    child.send({ port, n: N, conc: CONC, token });
  });

  for (const p of ports) await round(p); // warm-up: connections open, JIT warm
  const rates: { cpuRate: number; wallRate: number }[][] = [[], [], []];
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < 3; i++) rates[i]!.push(await round(ports[i]!));
  child.kill();
  for (const s of servers) { s.closeAllConnections(); s.close(); }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const overhead = (i: number) => rates[0]!.map((b, k) => b.cpuRate / rates[i]![k]!.cpuRate);
  const line = (label: string, i: number) => {
    const o = overhead(i);
    return `${label}: ${median(rates[i]!.map((x) => x.cpuRate)).toFixed(0)} req/s per server CPU-second, ${median(rates[i]!.map((x) => x.wallRate)).toFixed(0)} req/s wall`
      + (i > 0 ? `; overhead ${median(o).toFixed(2)}x (min ${Math.min(...o).toFixed(2)}, max ${Math.max(...o).toFixed(2)})` : '');
  };
  console.log(`node ${process.version}; ${N} requests x ${ROUNDS} rounds, ${CONC} keep-alive connections, loopback; ES256 token, 2-deep act chain, 200 revocation records`);
  console.log(line('bare handler                    ', 0));
  console.log(line('with middleware (default)       ', 1));
  console.log(line('with middleware, no verify cache', 2));
  const o = median(overhead(1));
  console.log(`overhead with middleware: ${o.toFixed(2)}x (goal <= 1.10): ${o <= 1.1 ? 'met' : 'NOT met'}`);
}
