/**
 * Transaction tokens per second (docs/transaction-tokens.md), next to the signature
 * limit measured in the same run:
 *
 * - mint: a gateway exchanges the access token it received for a txn token through the
 *   real token endpoint (mTLS keep-alive, CONC concurrent requests) of a tessera-server
 *   process pinned to CPU 1; per server CPU-second, against 1 / (t_verify + t_sign) with
 *   node:crypto P-256 (verify the access token, sign the txn token), measured here on CPU 0;
 * - verify: verifyTxnToken (typ/alg/kid, ES256, iss/exp/aud, claims, req_wl and act chain
 *   parsed, revocation against 200 live records) against a raw ES256 verify of the same
 *   token, per CPU-second of this process, paired rounds, median ratio.
 *
 *   node --import tsx bench/txn-token.ts [--n 2000] [--concurrency 8] [--verify 1000] [--rounds 15]
 */
import { verify } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticDelegationKeys } from '../spiffe/delegation/keys.ts';
import { RevocationIndex } from '../spiffe/delegation/revocation-index.ts';
import { verifyTxnToken } from '../spiffe/txn/verify.ts';
import { sharedScope } from '../test/helpers/server.ts';
import { startTestIdp } from '../test/helpers/test-idp.ts';
import { arg, describeSetup, measureSignatureCosts, postForm, startPinnedServer } from './lib/pinned-server.ts';

const N = arg('n', 2000), CONC = arg('concurrency', 8), VERIFY_N = arg('verify', 1000), ROUNDS = arg('rounds', 15);
const TOOLS = 'https://trading.example.org';
const TD = 'spiffe://example.org';
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TXN = 'urn:ietf:params:oauth:token-type:txn_token';

// ---- 1. a real server pinned to CPU 1, an IdP for alice, the agent's and the gateway's SVIDs and policies.
const scope = sharedScope();
const dir = mkdtempSync(join(tmpdir(), 'bench-txn-'));
const idp = await startTestIdp(scope, { dir });
const server = await startPinnedServer(scope, {
  log_level: 'info', oauth: { listen: '127.0.0.1:0', token_ttl: '10m', txn_token_ttl: '5m', trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: idp.caFile }] },
});
const { srv, ca } = server;
async function cli(args: string[]): Promise<void> {
  const r = await srv.cli(args);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}
await cli(['delegation', 'create', '--actor', 'spiffe://example.org/agents/bench', '--issuer', idp.issuer, '--audience', TOOLS, '--scope', 'trade:buy', '--scope', 'trade:read', '--max-ttl', '10m']);
await cli(['delegation', 'create', '--actor', 'spiffe://example.org/services/gateway', '--issuer', idp.issuer, '--audience', TD, '--scope', 'trade:buy', '--max-ttl', '5m']);
/** An SVID from the server's CA (`x509 mint`), as a factory of keep-alive mTLS agents presenting it. */
async function svid(id: string): Promise<() => https.Agent> {
  const out = mkdtempSync(join(dir, 'svid-'));
  await cli(['x509', 'mint', '--spiffe-id', id, '--ttl', '1h', '--write', out]);
  const [key, cert] = [readFileSync(join(out, 'svid.key')), readFileSync(join(out, 'svid.pem'))];
  return () => new https.Agent({ ca, key, cert, keepAlive: true, maxSockets: CONC });
}
const agentA = (await svid('spiffe://example.org/agents/bench'))();
const gatewaySvid = await svid('spiffe://example.org/services/gateway');
let gateway = gatewaySvid();
const access = (JSON.parse(await postForm(server, agentA, new URLSearchParams({
  grant_type: GRANT, subject_token: await idp.token({ sub: 'alice', groups: ['eng'], exp: Math.floor(Date.now() / 1000) + 3600 }),
  subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: TOOLS, scope: 'trade:buy trade:read',
}).toString())) as { access_token: string }).access_token;
const mintBody = new URLSearchParams({
  grant_type: GRANT, requested_token_type: TXN, subject_token: access, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  audience: TD, scope: 'trade:buy', request_context: JSON.stringify({ req_ip: '203.0.113.7' }), request_details: JSON.stringify({ ticker: 'MSFT', quantity: 100 }),
}).toString();
const sample = (JSON.parse(await postForm(server, gateway, mintBody)) as { access_token: string }).access_token;

// ---- 2. the limit, measured in this process (pinned to CPU 0): verify the access token + sign the txn token.
const costs = measureSignatureCosts({ verifyInput: Buffer.from(access.slice(0, access.lastIndexOf('.'))), signInput: Buffer.from(sample.slice(0, sample.lastIndexOf('.'))) });
const limit = 1 / (costs.tVerify + costs.tSign);
// The measurement kept the connections idle past the server's keep-alive timeout: new ones.
gateway.destroy();
gateway = gatewaySvid();

// ---- 3. mints: N over CONC keep-alive mTLS connections; the server's CPU time around them.
const warm = async (n: number) => { for (let i = 0; i < n; i++) await postForm(server, gateway, mintBody); };
await Promise.all(Array.from({ length: CONC }, () => warm(25)));
let next = 0;
const cpu0 = server.cpu(), t0 = performance.now();
await Promise.all(Array.from({ length: CONC }, async () => { while (next++ < N) await postForm(server, gateway, mintBody); }));
const cpu1 = server.cpu();
const wall = (performance.now() - t0) / 1000, serverCpu = cpu1.total - cpu0.total;
const mintRate = N / serverCpu;

// ---- 4. verifies: verifyTxnToken vs raw ES256 on the same token, paired rounds of CPU time.
const jwks = await new Promise<{ keys: unknown[] }>((resolve, reject) => {
  https.get({ host: server.host, port: server.port, path: '/oauth2/jwks', ca }, (res) => {
    let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(JSON.parse(b)));
  }).on('error', reject);
});
const keys = createStaticDelegationKeys(jwks);
const kid = JSON.parse(Buffer.from(sample.split('.')[0]!, 'base64url').toString()).kid as string;
const publicKey = (keys.getKey(kid) as { key: import('node:crypto').KeyObject }).key;
const now = Math.floor(Date.now() / 1000);
const index = new RevocationIndex();
for (let i = 0; i < 200; i++) index.add({ seq: i, kind: (['grant', 'jti', 'subject', 'actor'] as const)[i % 4], value: `v${i}`, at: now, expiresAt: now + 600 });
const opts = { issuer: server.issuer, keys, trustDomain: 'example.org', requiredScopes: ['trade:buy'], revocations: { revocationOf: (t: Parameters<RevocationIndex['match']>[0]) => index.match(t, Date.now() / 1000) } };
const raw = () => {
  const d = sample.lastIndexOf('.');
  if (!verify('sha256', Buffer.from(sample.slice(0, d), 'latin1'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(sample.slice(d + 1), 'base64url'))) throw new Error('raw verify failed');
};
const cpuSeconds = (since: NodeJS.CpuUsage) => { const u = process.cpuUsage(since); return (u.user + u.system) / 1e6; };
async function rate(fn: () => unknown): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < VERIFY_N; i++) await fn();
  return VERIFY_N / cpuSeconds(c0);
}
await rate(() => verifyTxnToken(sample, opts)); await rate(raw); // warm-up
const pairs: { sdk: number; raw: number }[] = [];
for (let r = 0; r < ROUNDS; r++) pairs.push({ sdk: await rate(() => verifyTxnToken(sample, opts)), raw: await rate(raw) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---- 5. report.
console.log(describeSetup(server, costs, `${CONC} concurrent mint requests`));
console.log(`limit: t_verify ${(costs.tVerify * 1e6).toFixed(0)} µs + t_sign ${(costs.tSign * 1e6).toFixed(0)} µs (node:crypto P-256, CPU time) → ${limit.toFixed(0)} mints/s per core`);
console.log(`mint (access token → txn token, mTLS keep-alive): ${N} in ${wall.toFixed(1)} s wall (${(N / wall).toFixed(0)}/s); `
  + `${mintRate.toFixed(0)} per server CPU-second; ratio to the limit ${(mintRate / limit).toFixed(2)}`);
console.log(`verify (verifyTxnToken, 200 revocation records): ${median(pairs.map((p) => p.sdk)).toFixed(0)}/s per CPU-second vs raw ES256 verify `
  + `${median(pairs.map((p) => p.raw)).toFixed(0)}/s: ratio ${median(pairs.map((p) => p.sdk / p.raw)).toFixed(2)} (median of ${ROUNDS} paired rounds of ${VERIFY_N})`);
console.log(`txn token: ${sample.length} characters`);
for (const a of [agentA, gateway]) a.destroy();
await scope.cleanup();
