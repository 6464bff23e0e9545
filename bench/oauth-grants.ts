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
 * how much of the server's CPU went to the kernel (fsync, sockets). Limit measurement and
 * server start: bench/lib/pinned-server.ts.
 *
 *   node --import tsx bench/oauth-grants.ts [--n 1500] [--concurrency 8] [--warm 1000]
 */
import { createHash, randomBytes } from 'node:crypto';
import * as https from 'node:https';
import { join } from 'node:path';
import type { MintJWTSVIDResponse__Output } from '../proto/gen/tessera-api/tessera/v1/MintJWTSVIDResponse.ts';
import { SqliteDatastore } from '../server/datastore/sqlite.ts';
import { issueCode } from '../server/oauth/codes.ts';
import { startOpenIdProvider } from '../test/helpers/oidc-provider.ts';
import { attestNewAgent, createTestEntry, sharedScope, unary } from '../test/helpers/server.ts';
import { arg, describeSetup, measureSignatureCosts, postForm, startPinnedServer } from './lib/pinned-server.ts';

const N = arg('n', 1500), CONC = arg('concurrency', 8);
/** Requests per grant before its clock starts (steady state: the JIT's background compilation counts in the server's CPU). */
const WARM = arg('warm', 1000);
const MCP = 'https://mcp.example.org/mcp';
const CLIENT = 'https://app.example.com/client.json';
const REDIRECT = 'http://127.0.0.1:39999/callback';
const JWT_SPIFFE = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';

// ---- 1. the per-core limits, measured here first: a JWT-SVID assertion's signing input,
// and a delegated token's (header, act, subject, cnf).
const costs = measureSignatureCosts({ verifyInput: Buffer.from('y'.repeat(420)), signInput: Buffer.from('x'.repeat(900)) });
const { tVerify, tSign } = costs;

// ---- 2. a real server with the MCP flow configured (the refresh grant needs it), pinned to the other CPU.
const scope = sharedScope();
const op = await startOpenIdProvider(scope);
const server = await startPinnedServer(scope, {
  log_level: 'info',
  oauth: {
    listen: '127.0.0.1:0', token_ttl: '10m',
    trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }],
    login: { issuer: op.issuer, client_id: 'tessera', client_secret: op.client.clientSecret, ca_file: op.caFile },
  },
});
const { srv, issuer, ca } = server;
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
const post = async (body: Record<string, string>) => JSON.parse(await postForm(server, agent, new URLSearchParams(body).toString())) as Record<string, unknown>;

interface Result { n: number; wall: number; serverCpu: number; serverSys: number }
/** WARM requests to warm connections and JIT, then N measured; `body(i, worker)` builds request i. */
async function run(body: (i: number, worker: number) => Record<string, string>, after?: (res: Record<string, unknown>, worker: number) => void): Promise<Result> {
  let next = 0;
  const phase = (limit: number) => Promise.all(Array.from({ length: CONC }, async (_, w) => {
    while (next < limit) { const i = next++; const res = await post(body(i, w)); after?.(res, w); }
  }));
  await phase(WARM);
  const cpu0 = server.cpu(), t0 = performance.now();
  await phase(WARM + N);
  const cpu1 = server.cpu();
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
console.log(describeSetup(server, costs, `${CONC} concurrent requests, keep-alive`));
console.log(`t_verify ${(tVerify * 1e6).toFixed(0)} µs, t_sign ${(tSign * 1e6).toFixed(0)} µs (node:crypto P-256, CPU time)`);
console.log(`${'grant'.padEnd(44)} ${'n'.padStart(6)} ${'wall/s'.padStart(9)} ${'/server CPU-s'.padStart(14)} ${'limit/s'.padStart(9)} ${'ratio'.padStart(6)} ${'sys%'.padStart(5)}`);
for (const [name, limit, r] of results) {
  const perCore = r.n / r.serverCpu;
  console.log(`${name.padEnd(44)} ${String(r.n).padStart(6)} ${fmt(r.n / r.wall)} ${fmt(perCore, 14)} ${fmt(limit)} ${(perCore / limit).toFixed(2).padStart(6)} ${fmt((r.serverSys / r.serverCpu) * 100, 5)}`);
}

agent.destroy();
await scope.cleanup();
