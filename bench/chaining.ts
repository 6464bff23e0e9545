/**
 * Cross-domain grants per CPU-second (docs/identity-chaining.md), next to the signature
 * limit measured in the same run. Both deployments (a.test issuing, b.test redeeming)
 * and the agent run in this one process (test/chaining/harness.ts: in-process servers,
 * SQLite, real HTTPS on loopback with keep-alive, a.test's agent by mTLS), so every
 * CPU cycle of one cycle — both servers, the client, TLS records, HTTP, the store's
 * single-use write — is counted against it.
 *
 * One cycle = mint (token exchange for an ID-JAG at a.test; the ID token was verified
 * once and is remembered) + redeem (jwt-bearer at b.test with a fresh JWT-SVID client
 * assertion). Its signature work: sign the client assertion, verify it, sign the grant,
 * verify it, sign b.test's token = 3 ES256 signs + 2 verifies, so the limit is
 * 1 / (3 t_sign + 2 t_verify) with node:crypto P-256 measured here.
 *
 *   node --import tsx bench/chaining.ts [--n 1000] [--concurrency 8]
 */
import { cpus, loadavg } from 'node:os';
import * as https from 'node:https';
import { certificatesToPem } from '../spiffe/pem.ts';
import { loginWithCode } from '../test/helpers/oidc-flow.ts';
import { sharedScope } from '../test/helpers/server.ts';
import { B_ISSUER, ID, startDomains, TICKETS } from '../test/chaining/harness.ts';
import { arg, measureSignatureCosts, postForm } from './lib/pinned-server.ts';

const N = arg('n', 1000), CONC = arg('concurrency', 8);
const scope = sharedScope();
const d = await startDomains(scope);
await d.a.policy({ id: 'pol_a', actors: [ID.planner], groups: ['eng'], audiences: [B_ISSUER], scopes: ['tickets:read'], maxTtl: 300 });
await d.b.policy({ id: 'pol_b', actors: [ID.planner], groups: ['eng'], audiences: [TICKETS], scopes: ['tickets:read'], maxTtl: 300 });
const { idToken } = await loginWithCode(d.op, { user: 'alice' });
const planner = d.a.workload('/agents/planner', { agent_model: 'planner-1', agent_provider: 'anthropic' });
const svid = planner.x509.getX509Svid();
const hostPort = (addr: string) => ({ host: addr.slice(0, addr.lastIndexOf(':')), port: Number(addr.slice(addr.lastIndexOf(':') + 1)) });
const [a, b] = [hostPort(d.a.address), hostPort(d.b.address)];
const agentA = () => new https.Agent({
  ca: certificatesToPem(d.a.server.ca.x509Authorities()), keepAlive: true, maxSockets: CONC,
  key: svid.privateKey!.export({ type: 'pkcs8', format: 'pem' }), cert: certificatesToPem(svid.certificates),
});
let toA = agentA();
// No client certificate at b.test: the agent authenticates with a JWT-SVID client assertion.
const agentB = () => new https.Agent({ ca: certificatesToPem(d.b.server.ca.x509Authorities()), keepAlive: true, maxSockets: CONC });
let toB = agentB();
const mintBody = new URLSearchParams({
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
  subject_token: idToken, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: B_ISSUER, resource: TICKETS, scope: 'tickets:read',
}).toString();

async function cycle(): Promise<{ grant: string; token: string }> {
  const grant = (JSON.parse(await postForm(a, toA, mintBody)) as { access_token: string }).access_token;
  const assertion = (await planner.jwt.fetchJwtSvid({ audience: B_ISSUER })).token;
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: grant,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe', client_assertion: assertion,
  }).toString();
  return { grant, token: (JSON.parse(await postForm(b, toB, body)) as { access_token: string }).access_token };
}

// Limit, in this process: the same inputs' sizes (a grant's signing input, a token's).
const sample = await cycle();
const costs = measureSignatureCosts({ verifyInput: Buffer.from(sample.grant.slice(0, sample.grant.lastIndexOf('.'))), signInput: Buffer.from(sample.token.slice(0, sample.token.lastIndexOf('.'))) });
const limit = 1 / (3 * costs.tSign + 2 * costs.tVerify);
// The measurement kept the connections idle past the servers' keep-alive timeout: new ones.
toA.destroy(); toB.destroy();
toA = agentA(); toB = agentB();

// Warm-up, then N cycles over CONC concurrent loops; the process's CPU time around them.
await Promise.all(Array.from({ length: CONC }, async () => { for (let i = 0; i < 20; i++) await cycle(); }));
let next = 0;
const c0 = process.cpuUsage(), t0 = performance.now();
await Promise.all(Array.from({ length: CONC }, async () => { while (next++ < N) await cycle(); }));
const u = process.cpuUsage(c0);
const cpu = (u.user + u.system) / 1e6, wall = (performance.now() - t0) / 1000;
const rate = N / cpu;

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, shared (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}); node ${process.version}`);
console.log(`setup: a.test and b.test servers, the IdP-verified user token (remembered) and the agent in one process ${costs.clientPinned ? 'pinned to CPU 0' : '(not pinned)'}; ${CONC} concurrent cycles, keep-alive HTTPS`);
console.log(`limit: 3 × t_sign ${(costs.tSign * 1e6).toFixed(0)} µs + 2 × t_verify ${(costs.tVerify * 1e6).toFixed(0)} µs (node:crypto P-256, CPU time) → ${limit.toFixed(0)} cycles per CPU-second`);
console.log(`mint+redeem (ID-JAG at a.test, jwt-bearer at b.test): ${N} in ${wall.toFixed(1)} s wall (${(N / wall).toFixed(0)}/s); `
  + `${rate.toFixed(0)} per CPU-second (all of it: both servers and the client); ratio to the limit ${(rate / limit).toFixed(2)}`);
console.log(`grant: ${sample.grant.length} characters; b.test token: ${sample.token.length} characters`);
toA.destroy(); toB.destroy();
await scope.cleanup();
