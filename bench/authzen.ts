/**
 * AuthZEN decisions per second and their latency (docs/authzen.md): a tool (PEP) asks
 * the PDP of a real tessera-server process (SQLite, pinned to CPU 1) over one set of
 * keep-alive mTLS connections, with a user's delegated token as the subject's
 * credential. Each decision verifies the token (ES256), checks revocation, runs the
 * delegation policy engine and writes an audit event; a budgeted action also spends a
 * use of the grant's budget (one conditional UPDATE). Rates are per server CPU-second
 * (the machine is shared) with wall rates for reference; latency p50/p99 is wall time
 * at CONC concurrent requests, then one at a time.
 *
 *   node --import tsx bench/authzen.ts [--n 2000] [--concurrency 8]
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedScope } from '../test/helpers/server.ts';
import { startTestIdp } from '../test/helpers/test-idp.ts';
import { arg, describeSetup, measureSignatureCosts, postForm, startPinnedServer, type PinnedServer } from './lib/pinned-server.ts';

const N = arg('n', 2000), CONC = arg('concurrency', 8);
const TOOLS = 'https://tools.example.org';

const scope = sharedScope();
const dir = mkdtempSync(join(tmpdir(), 'bench-authzen-'));
const idp = await startTestIdp(scope, { dir });
const server = await startPinnedServer(scope, {
  log_level: 'info', oauth: { listen: '127.0.0.1:0', token_ttl: '1h', trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: idp.caFile }] },
});
const { srv, ca } = server;
async function cli(args: string[]): Promise<void> {
  const r = await srv.cli(args);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}
await cli(['delegation', 'create', '--actor', 'spiffe://example.org/agents/bench', '--issuer', idp.issuer, '--audience', TOOLS,
  '--scope', 'files:read', '--scope', 'payments:send', '--max-ttl', '1h', '--budget', `payments:send=${10 * N}`]);
async function svid(id: string): Promise<() => https.Agent> {
  const out = mkdtempSync(join(dir, 'svid-'));
  await cli(['x509', 'mint', '--spiffe-id', id, '--ttl', '1h', '--write', out]);
  const [key, cert] = [readFileSync(join(out, 'svid.key')), readFileSync(join(out, 'svid.pem'))];
  return () => new https.Agent({ ca, key, cert, keepAlive: true, maxSockets: CONC });
}
const agent = (await svid('spiffe://example.org/agents/bench'))();
const toolSvid = await svid('spiffe://example.org/services/tools');
const token = (JSON.parse(await postForm(server, agent, new URLSearchParams({
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await idp.token({ sub: 'alice', groups: ['eng'], exp: Math.floor(Date.now() / 1000) + 3600 }),
  subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: TOOLS, scope: 'files:read payments:send',
}).toString())) as { access_token: string }).access_token;
agent.destroy();
// For scale: one ES256 verify, what every decision costs at least.
const costs = measureSignatureCosts({ verifyInput: Buffer.from(token.slice(0, token.lastIndexOf('.'))), signInput: Buffer.from('x') });

const body = (action: string) => JSON.stringify({
  subject: { type: 'agent', id: 'spiffe://example.org/agents/bench', properties: { token } },
  action: { name: action }, resource: { type: 'file', id: 'report.pdf', properties: { audience: TOOLS } },
});

function decide(s: PinnedServer, a: https.Agent, payload: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: s.host, port: s.port, method: 'POST', path: '/access/v1/evaluation', agent: a,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(text) as { decision: boolean }).decision) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Result { n: number; wall: number; serverCpu: number; p50: number; p99: number }
async function run(action: string, conc: number, n = N): Promise<Result> {
  const a = toolSvid();
  const payload = body(action);
  await Promise.all(Array.from({ length: conc }, async () => { for (let i = 0; i < 20; i++) if (!await decide(server, a, payload)) throw new Error(`${action} denied`); }));
  const lat: number[] = [];
  let next = 0;
  const cpu0 = server.cpu(), t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next++ < n) {
      const s = performance.now();
      if (!await decide(server, a, payload)) throw new Error(`${action} denied`);
      lat.push(performance.now() - s);
    }
  }));
  const cpu1 = server.cpu();
  a.destroy();
  lat.sort((x, y) => x - y);
  return { n, wall: (performance.now() - t0) / 1000, serverCpu: cpu1.total - cpu0.total, p50: lat[Math.floor(n * 0.5)]!, p99: lat[Math.floor(n * 0.99)]! };
}

const results: [string, Result][] = [
  ['files:read (no budget)', await run('files:read', CONC)],
  ['payments:send (budgeted: one use spent per permit)', await run('payments:send', CONC)],
  ['files:read, one at a time', await run('files:read', 1, Math.min(N, 1000))],
  ['payments:send, one at a time', await run('payments:send', 1, Math.min(N, 1000))],
];

console.log(describeSetup(server, costs, `${CONC} concurrent decisions (then 1)`));
console.log(`for scale: one ES256 verify costs ${(costs.tVerify * 1e6).toFixed(0)} µs of CPU → at most ${(1 / costs.tVerify).toFixed(0)} decisions/s per core`);
console.log(`${'variant'.padEnd(52)} ${'n'.padStart(5)} ${'wall/s'.padStart(7)} ${'/server CPU-s'.padStart(14)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}`);
for (const [name, r] of results) {
  console.log(`${name.padEnd(52)} ${String(r.n).padStart(5)} ${(r.n / r.wall).toFixed(0).padStart(7)} ${(r.n / r.serverCpu).toFixed(0).padStart(14)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)}`);
}
await scope.cleanup();
