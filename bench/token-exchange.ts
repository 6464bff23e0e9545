/**
 * RFC 8693 token exchanges per second per core through the real HTTPS endpoint, next
 * to the per-core limit measured in the same run: limit = 1 / (t_verify + t_sign),
 * node:crypto ECDSA P-256 (verify the subject token, sign the new token), measured
 * in this process first. ratio = exchanges per server CPU-second ÷ limit (goal ≥ 0.7).
 *
 * The server is a real tessera-server process (SQLite) pinned with taskset to one CPU;
 * this process (the client) is pinned to the other. The machine is shared, so
 * "per core" is exchanges per CPU-second the server process spent (utime + stime of all
 * its threads, /proc/<pid>/stat) and t_verify / t_sign are CPU time too; wall rates
 * are printed for reference. Subject tokens come from the real test OpenID Provider
 * (authorization-code flow); actors are SVIDs issued by the server's agent API.
 *
 * Variants: mTLS actor on keep-alive connections (root exchange of an ID token, the
 * same with a new ID token per exchange so that none is served from the server's short
 * verification cache, and a sub-exchange of a delegated token), a JWT-SVID actor_token
 * on keep-alive connections without client certificate (one more verify + a single-use
 * row), and the mTLS handshake cost: a new TLS session per request vs a resumed one.
 * The clock starts after WARM root exchanges (steady state: JIT compilation runs in
 * V8's background threads and counts in the server's CPU time). Limit measurement and
 * server start: bench/lib/pinned-server.ts.
 *
 *   node --import tsx bench/token-exchange.ts [--n 1500] [--concurrency 8] [--fresh 400] [--warm 3000]
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import * as client from 'openid-client';
import type { BatchSignX509SVIDResponse__Output } from '../proto/gen/tessera-api/tessera/v1/BatchSignX509SVIDResponse.ts';
import type { MintJWTSVIDResponse__Output } from '../proto/gen/tessera-api/tessera/v1/MintJWTSVIDResponse.ts';
import { certificatesToPem } from '../spiffe/pem.ts';
import { createCsr } from '../spiffe/x509svid/csr.ts';
import { loginWithCode, relyingParty } from '../test/helpers/oidc-flow.ts';
import { startOpenIdProvider } from '../test/helpers/oidc-provider.ts';
import { ROOT } from '../test/helpers/proc.ts';
import { attestNewAgent, createTestEntry, sharedScope, unary } from '../test/helpers/server.ts';
import { arg, describeSetup, measureSignatureCosts, postForm, startPinnedServer } from './lib/pinned-server.ts';

const N = arg('n', 1500), CONC = arg('concurrency', 8), FRESH = arg('fresh', 400), WARM = arg('warm', 3000);
const FRESH_WARM = 300;
const AUDIENCE = 'https://files.example.org';
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const T = { id: 'urn:ietf:params:oauth:token-type:id_token', at: 'urn:ietf:params:oauth:token-type:access_token', jwt: 'urn:ietf:params:oauth:token-type:jwt' };

// ---- 1. the per-core limit, measured here first: verify the subject token + sign the new one.
const scope = sharedScope();
const op = await startOpenIdProvider(scope);
const login = await loginWithCode(op, { user: 'alice', scope: 'openid email profile groups offline_access files:read' });
const { idToken } = login;
// A delegated token's signing input is about this size (header + 2-deep act chain, chain, subject, cnf).
const costs = measureSignatureCosts({ verifyInput: Buffer.from(idToken.slice(0, idToken.lastIndexOf('.'))), signInput: Buffer.from('x'.repeat(1100)) });
const { tVerify, tSign } = costs;
const limit = 1 / (tVerify + tSign);

// ---- 2. a real server, pinned to the other CPU, with a policy made through the CLI.
const server = await startPinnedServer(scope, {
  log_level: 'info', oauth: { listen: '127.0.0.1:0', token_ttl: '10m', trusted_issuers: [{ issuer: op.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: op.caFile }] },
});
const { srv, ca } = server;
const tokenEndpoint = `${server.issuer}/oauth2/token`;
const cli = await srv.cli(['delegation', 'create', '--actor', 'spiffe://example.org/agents/*', '--issuer', op.issuer, '--audience', AUDIENCE,
  '--scope', 'files:read', '--scope', 'review:post', '--max-ttl', '10m', '--max-depth', '2', '--may-delegate-to', 'spiffe://example.org/agents/*']);
if (cli.code !== 0) throw new Error(cli.stderr);

const agentApi = await attestNewAgent(scope, srv);
async function workload(): Promise<{ entryId: string; key: string; cert: string }> {
  const e = await createTestEntry(srv, agentApi.id, {}, 'agents');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const r = await unary<BatchSignX509SVIDResponse__Output>(agentApi.client, 'BatchSignX509SVID', { params: [{ entry_id: e.id, csr: await createCsr(pair.privateKey, pair.publicKey) }] });
  return { entryId: e.id, key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certificatesToPem(r.results[0]!.cert_chain.map((c) => new Uint8Array(c))) };
}
const actorA = await workload(), actorB = await workload();

// Distinct ID tokens of the same user (the OP's refresh grant, 4 chains), so that every
// exchange of the "fresh token" variant verifies its subject token: the server remembers
// a verified IdP token for a short while, and the other variants present the same one.
const { config: rp } = await relyingParty(op);
const freshTokens: string[] = [];
await Promise.all(Array.from({ length: 4 }, async (_, chain) => {
  let rt = chain === 0 ? login.refreshToken! : (await loginWithCode(op, { user: 'alice', scope: 'openid email profile groups offline_access files:read' })).refreshToken!;
  while (freshTokens.length <= FRESH + FRESH_WARM) {
    const t = await client.refreshTokenGrant(rp, rt, { resource: op.resource });
    freshTokens.push(t.id_token!);
    rt = t.refresh_token ?? rt;
  }
}));

// ---- 3. the load: N exchanges over CONC concurrent requests; the server's CPU time around it.
interface Result { n: number; wall: number; serverCpu: number; serverSys: number; reused: number }
const form = (p: Record<string, string>) => new URLSearchParams({ grant_type: GRANT, audience: AUDIENCE, ...p }).toString();
const post = (agent: https.Agent, body: string, onSocket?: (s: TLSSocket) => void) => postForm(server, agent, body, onSocket);

async function run(agent: https.Agent, bodies: (i: number) => string, n = N, perRequest = false, conc = CONC): Promise<Result> {
  let next = 0, reused = 0;
  const onSocket = perRequest ? (s: TLSSocket) => { if (s.isSessionReused()) reused++; } : undefined;
  await Promise.all(Array.from({ length: conc }, async () => { for (let i = 0; i < 20 && next < n; i++) await post(agent, bodies(next)); })); // warm: connections, JIT
  next = 0;
  const cpu0 = server.cpu(), t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) await post(agent, bodies(next++), onSocket);
  }));
  const cpu1 = server.cpu();
  return { n, wall: (performance.now() - t0) / 1000, serverCpu: cpu1.total - cpu0.total, serverSys: cpu1.sys - cpu0.sys, reused };
}

const mtls = (w: typeof actorA, o: https.AgentOptions) => new https.Agent({ ca, key: w.key, cert: w.cert, maxSockets: CONC, ...o });
const keptA = mtls(actorA, { keepAlive: true }), keptB = mtls(actorB, { keepAlive: true });
const rootBody = () => form({ subject_token: idToken, subject_token_type: T.id, scope: 'files:read review:post' });

// Steady state first: V8 compiles the request path in background threads for the first
// few thousand requests, and that CPU counts in the server's time (roughly doubling it).
await run(keptA, rootBody, WARM);
const results: [string, Result][] = [];
results.push(['mTLS actor, keep-alive: root exchange (OP ID token)', await run(keptA, rootBody)]);
// The root exchanges above all found their token verified already: the verifying path is
// warmed first with tokens of its own. run() warms up with request 0: measured are 1..FRESH.
const freshBody = (i: number) => form({ subject_token: freshTokens[i]!, subject_token_type: T.id, scope: 'files:read review:post' });
await run(keptA, (i) => freshBody(FRESH + 1 + i), FRESH_WARM);
results.push(['  same, a fresh OP ID token each time (verified each time)', await run(keptA, (i) => freshBody(i + 1), FRESH)]);
const parent = (JSON.parse(await post(keptA, rootBody())) as { access_token: string }).access_token;
results.push(['mTLS actor, keep-alive: sub-exchange (delegated token)', await run(keptB, () => form({ subject_token: parent, subject_token_type: T.at, scope: 'files:read' }))]);

// actor_token: single use, so one fresh JWT-SVID per exchange, minted before the clock starts.
const actorTokens: string[] = [];
for (let i = 0; i < N + CONC * 20; i += 20) {
  actorTokens.push(...await Promise.all(Array.from({ length: 20 }, async () =>
    (await unary<MintJWTSVIDResponse__Output>(agentApi.client, 'MintJWTSVID', { entry_id: actorA.entryId, audience: [tokenEndpoint] })).token)));
}
let used = 0;
const bearerAgent = new https.Agent({ ca, keepAlive: true, maxSockets: CONC });
results.push(['actor_token (JWT-SVID), keep-alive, no client cert', await run(bearerAgent, () => form({
  subject_token: idToken, subject_token_type: T.id, actor_token: actorTokens[used++]!, actor_token_type: T.jwt,
}))]);

// Handshake cost: one request at a time (so each new connection finds the previous one's
// session ticket), on one kept-alive connection vs a new connection per exchange with a
// full handshake vs with a resumed TLS session.
const handshakes = Math.min(N, 600);
results.push(['mTLS actor, keep-alive, one at a time', await run(mtls(actorA, { keepAlive: true }), rootBody, handshakes, false, 1)]);
results.push(['mTLS actor, new TLS session per exchange, one at a time', await run(mtls(actorA, { keepAlive: false, maxCachedSessions: 0 }), rootBody, handshakes, true, 1)]);
results.push(['mTLS actor, resumed TLS session per exchange, one at a time', await run(mtls(actorA, { keepAlive: false, maxCachedSessions: 100 }), rootBody, handshakes, true, 1)]);

// ---- 4. report.
const cpuRate = (r: Result) => r.n / r.serverCpu;
const fmt = (x: number, w = 9) => x.toFixed(0).padStart(w);
console.log(describeSetup(server, costs, `${CONC} concurrent requests`));
console.log(`per-core limit: t_verify ${(tVerify * 1e6).toFixed(0)} µs + t_sign ${(tSign * 1e6).toFixed(0)} µs (node:crypto P-256, CPU time) → ${limit.toFixed(0)} exchanges/s`);
console.log(`${'variant'.padEnd(58)} ${'n'.padStart(6)} ${'wall/s'.padStart(9)} ${'/server CPU-s'.padStart(14)} ${'ratio'.padStart(6)} ${'sys%'.padStart(5)}`);
for (const [name, r] of results) {
  const reuse = name.includes('per exchange') ? ` (${r.reused}/${r.n} resumed)` : '';
  console.log(`${name.padEnd(58)} ${String(r.n).padStart(6)} ${fmt(r.n / r.wall)} ${fmt(cpuRate(r), 14)} ${(cpuRate(r) / limit).toFixed(2).padStart(6)} ${fmt((r.serverSys / r.serverCpu) * 100, 5)}${reuse}`);
}
const [kept, fresh, one, full, resumed] = [0, 1, 4, 5, 6].map((i) => results[i]![1]);
const ms = (r: Result) => (1 / cpuRate(r)) * 1000;
console.log(`mTLS handshake cost (server CPU per exchange, vs one kept-alive connection): full ${(ms(full) - ms(one)).toFixed(2)} ms, resumed ${(ms(resumed) - ms(one)).toFixed(2)} ms`);
console.log(`ratio = exchanges/s ÷ limit = ${(cpuRate(kept) / limit).toFixed(2)} (mTLS keep-alive, root exchange; goal ≥ 0.70); `
  + `${(cpuRate(fresh) / limit).toFixed(2)} when every subject token is new (no verification cache)`);

// ---- 5. validation per second vs raw verify (bench/delegation-verify.ts, same machine, same run).
const v = spawnSync(process.execPath, ['--import', 'tsx', 'bench/delegation-verify.ts', '--n', '500', '--rounds', '9'], { cwd: ROOT, encoding: 'utf8' });
console.log(`validation (bench/delegation-verify.ts):\n${v.stdout.trim().split('\n').map((l) => `  ${l}`).join('\n')}`);

for (const a of [keptA, keptB, bearerAgent]) a.destroy();
await scope.cleanup();
