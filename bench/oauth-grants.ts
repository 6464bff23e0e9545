/**
 * Token endpoint requests per second per core for the MCP grants, each next to the
 * per-core limit measured in the same run from the signatures the grant must verify
 * and make (node:crypto ECDSA P-256, CPU time):
 *
 *   authorization_code (public client, PKCE)     1 sign            → limit 1 / t_sign
 *   client_credentials (JWT-SVID assertion)      1 verify + 1 sign → limit 1 / (t_verify + t_sign)
 *   refresh_token (public client, rotation)      1 sign            → limit 1 / t_sign
 *
 * ratio = requests per server CPU-second ÷ limit. The server is a real tessera-server
 * process (SQLite) pinned with taskset to one CPU, this process (the client) to the
 * other; "per core" is requests per CPU-second the server process spent (utime + stime
 * of all its threads, /proc/<pid>/stat). Keep-alive connections, CONC requests in flight.
 * Codes are written into the server's SQLite file by this process before the clock
 * starts (the real issueCode), assertions are minted through the agent API beforehand,
 * refresh runs CONC rotation chains (each request presents the token the previous one got).
 *
 * Besides the signatures every grant also commits datastore rows (the single-use
 * assertion, the code's redemption, the refresh rotation) and an audit row; sys% shows
 * how much of the server's CPU went to the kernel (fsync, sockets).
 *
 *   node --import tsx bench/oauth-grants.ts [--n 1500] [--concurrency 8]
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { MintJWTSVIDResponse__Output } from '../proto/gen/tessera-api/tessera/v1/MintJWTSVIDResponse.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import { issueCode } from '../server/oauth/codes.ts';
import { startOpenIdProvider } from '../test/helpers/oidc-provider.ts';
import { attestNewAgent, createTestEntry, sharedScope, startServer, unary } from '../test/helpers/server.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const N = arg('n', 1500), CONC = arg('concurrency', 8);
const WARM = CONC * 10;
const MCP = 'https://mcp.example.org/mcp';
const CLIENT = 'https://app.example.com/client.json';
const REDIRECT = 'http://127.0.0.1:39999/callback';
const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const cpuSeconds = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6; };

// ---- 1. the per-core limits, measured here first.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
// A JWT-SVID assertion's signing input, and a delegated token's (header, act, subject, cnf).
const verifyInput = Buffer.from('y'.repeat(420));
const verifySig = sign('sha256', verifyInput, { key: privateKey, dsaEncoding: 'ieee-p1363' });
const signInput = Buffer.from('x'.repeat(900));
function perOp(fn: () => void, n = 2000): number {
  const rounds: number[] = [];
  for (let r = 0; r < 9; r++) { const t0 = process.cpuUsage(); for (let i = 0; i < n; i++) fn(); rounds.push(cpuSeconds(t0) / n); }
  return median(rounds);
}
const pinned = pin(process.pid, 0);
perOp(() => verify('sha256', verifyInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, verifySig), 200); // warm-up
const tVerify = perOp(() => { if (!verify('sha256', verifyInput, { key: publicKey, dsaEncoding: 'ieee-p1363' }, verifySig)) throw new Error('verify'); });
const tSign = perOp(() => sign('sha256', signInput, { key: privateKey, dsaEncoding: 'ieee-p1363' }));

// ---- 2. a real server with the MCP flow configured (the refresh grant needs it), pinned to the other CPU.
const scope = sharedScope();
const op = await startOpenIdProvider(scope);
const srv = await startServer(scope, {
  config: {
    log_level: 'info',
    oauth: {
      listen: '127.0.0.1:0', token_ttl: '10m',
      trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
      login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.client.clientSecret, ca_file: op.caFile },
    },
  },
});
const serverPid = srv.proc.child.pid!;
const serverPinned = pin(serverPid, 1);
const address = readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim();
const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
const issuer = `https://${address}`;
const ca = srv.readBundle().pem;
for (const args of [
  ['--actor', CLIENT, '--issuer', op.issuer, '--audience', MCP, '--scope', 'files:read', '--scope', 'offline_access', '--max-ttl', '10m'],
  ['--actor', 'spiffe://example.org/agents/*', '--issuer', issuer, '--audience', MCP, '--scope', 'files:read', '--max-ttl', '10m'],
]) {
  const r = await srv.cli(['delegation', 'create', ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
}

// Single-use JWT-SVID assertions (aud = issuer), minted through the agent API before the clock starts.
const agentApi = await attestNewAgent(scope, srv);
const entry = await createTestEntry(srv, agentApi.id, {}, 'agents');
const assertions: string[] = [];
while (assertions.length < N + WARM) {
  assertions.push(...await Promise.all(Array.from({ length: 20 }, async () =>
    (await unary<MintJWTSVIDResponse__Output>(agentApi.client, 'MintJWTSVID', { entry_id: entry.id, audience: [issuer] })).token)));
}

// ---- 3. the load.
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: CONC });
function post(body: Record<string, string>): Promise<Record<string, unknown>> {
  const text = new URLSearchParams(body).toString();
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, method: 'POST', path: '/oauth2/token', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { out += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`HTTP ${res.statusCode}: ${out}`))));
    });
    req.on('error', reject);
    req.end(text);
  });
}

interface Result { n: number; wall: number; serverCpu: number; serverSys: number }
/** WARM requests to warm connections and JIT, then N measured; `body(i, worker)` builds request i. */
async function run(body: (i: number, worker: number) => Record<string, string>, after?: (res: Record<string, unknown>, worker: number) => void): Promise<Result> {
  let next = 0;
  const phase = (limit: number) => Promise.all(Array.from({ length: CONC }, async (_, w) => {
    while (next < limit) { const i = next++; const res = await post(body(i, w)); after?.(res, w); }
  }));
  await phase(WARM);
  const cpu0 = serverCpu(), t0 = performance.now();
  await phase(WARM + N);
  const cpu1 = serverCpu();
  return { n: N, wall: (performance.now() - t0) / 1000, serverCpu: cpu1.total - cpu0.total, serverSys: cpu1.sys - cpu0.sys };
}

// Codes, as the consent step leaves them, written into the server's datastore file just
// before they are redeemed (they live 60 s).
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
async function codes(n: number, scopes: string[]): Promise<string[]> {
  const store = SqliteDatastore.open({ path: join(srv.dataDir, 'datastore.sqlite3') });
  try {
    const now = Math.floor(Date.now() / 1000);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(await issueCode(store, {
        clientId: CLIENT, redirectUri: REDIRECT, codeChallenge: challenge, resource: MCP, scopes,
        subject: { issuer: op.issuer, name: 'alice', groups: ['eng'] }, approvedAt: now,
      }, now));
    }
    return out;
  } finally { await store.close(); }
}

const results: [string, number, Result][] = [];
const codeBodies = await codes(N + WARM, ['files:read']);
results.push(['authorization_code (public client, PKCE)', 1 / tSign, await run((i) => ({
  grant_type: 'authorization_code', code: codeBodies[i]!, redirect_uri: REDIRECT, code_verifier: verifier, client_id: CLIENT, resource: MCP,
}))]);
results.push(['client_credentials (JWT-SVID assertion)', 1 / (tVerify + tSign), await run((i) => ({
  grant_type: 'client_credentials', client_assertion_type: JWT_SPIFFE, client_assertion: assertions[i]!, resource: MCP,
}))]);
const chains: string[] = [];
for (const code of await codes(CONC, ['files:read', 'offline_access'])) {
  const r = await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: CLIENT, resource: MCP });
  chains.push(r.refresh_token as string);
}
results.push(['refresh_token (public client, rotation)', 1 / tSign, await run(
  (_i, w) => ({ grant_type: 'refresh_token', refresh_token: chains[w]!, client_id: CLIENT }),
  (res, w) => { chains[w] = res.refresh_token as string; },
)]);

// ---- 4. report.
const fmt = (x: number, w = 9) => x.toFixed(0).padStart(w);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}); node ${process.version}`);
console.log(`server: a separate tessera-server process (SQLite) ${serverPinned ? 'pinned to CPU 1' : 'NOT pinned (taskset failed)'}; client: this process ${pinned ? 'pinned to CPU 0' : 'not pinned'}; ${CONC} concurrent requests, keep-alive`);
console.log(`t_verify ${(tVerify * 1e6).toFixed(0)} µs, t_sign ${(tSign * 1e6).toFixed(0)} µs (node:crypto P-256, CPU time)`);
console.log(`${'grant'.padEnd(44)} ${'n'.padStart(6)} ${'wall/s'.padStart(9)} ${'/server CPU-s'.padStart(14)} ${'limit/s'.padStart(9)} ${'ratio'.padStart(6)} ${'sys%'.padStart(5)}`);
for (const [name, limit, r] of results) {
  const perCore = r.n / r.serverCpu;
  console.log(`${name.padEnd(44)} ${String(r.n).padStart(6)} ${fmt(r.n / r.wall)} ${fmt(perCore, 14)} ${fmt(limit)} ${(perCore / limit).toFixed(2).padStart(6)} ${fmt((r.serverSys / r.serverCpu) * 100, 5)}`);
}

agent.destroy();
await scope.cleanup();

function pin(pid: number, cpu: number): boolean {
  if (cpus().length < 2) return false;
  try { execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' }); return true; } catch { return false; }
}

function serverCpu(): { total: number; sys: number } {
  // Fields after the ")" of comm: utime and stime are the 12th and 13th, in clock ticks (all threads).
  const stat = readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { total: (Number(f[11]) + Number(f[12])) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}
