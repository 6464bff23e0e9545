import test from 'ava';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTs } from '../helpers/proc.ts';
import { runCli, startServer } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { agentCli } from '../helpers/agent.ts';
import { createEntry, ALICE } from '../helpers/agent-e2e.ts';
import { until } from '../helpers/wait.ts';
import parseProm from 'parse-prometheus-text-format';
import { parsePrometheusText, valueOf, type Family } from './prom-text.ts';

/**
 * Metrics and health end to end: a real server and a real agent process, each with
 * its metrics listener; the agent starts while the server is unreachable (a TCP proxy
 * refusing connections), so its /ready says 503 and why, then turns 200 once the
 * proxy lets it attest and sync. Workloads fetch SVIDs through the Workload API as
 * separate processes; both /metrics are scraped, parsed (test/ops/prom-text.ts) and
 * the counters must have moved.
 */

const get = async (address: string, path: string) => {
  const r = await fetch(`http://${address}${path}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
};
const scrape = async (address: string): Promise<Map<string, Family>> => {
  const r = await get(address, '/metrics');
  if (r.status !== 200 || !r.type.startsWith('text/plain; version=0.0.4')) throw new Error(`scrape: HTTP ${r.status} ${r.type}`);
  const ours = parsePrometheusText(r.body);
  crossCheck(ours, r.body);
  return ours;
};

/**
 * An independent parser (parse-prometheus-text-format) must read the same families,
 * types and counter/gauge values from the same scrape: a bug shared by our parser and
 * our assertions cannot hide behind it.
 */
function crossCheck(ours: Map<string, Family>, text: string): void {
  const theirs = parseProm(text);
  const names = (xs: Iterable<string>) => [...xs].sort().join(',');
  if (names(theirs.map((f) => f.name)) !== names(ours.keys())) throw new Error(`parsers disagree on families: ${names(theirs.map((f) => f.name))} vs ${names(ours.keys())}`);
  for (const f of theirs) {
    const o = ours.get(f.name)!;
    if (o.type !== f.type.toLowerCase()) throw new Error(`parsers disagree on the type of ${f.name}: ${f.type} vs ${o.type}`);
    if (f.type !== 'COUNTER' && f.type !== 'GAUGE') continue;
    const key = (l: Record<string, string> | undefined) => JSON.stringify(Object.entries(l ?? {}).sort());
    const mine = new Map(o.samples.map((x) => [key(x.labels), x.value]));
    for (const m of f.metrics) {
      if (mine.get(key(m.labels)) !== Number(m.value)) throw new Error(`parsers disagree on ${f.name}${key(m.labels)}: ${m.value} vs ${mine.get(key(m.labels))}`);
    }
  }
}
const readAddress = (file: string) => until(() => existsSync(file) && readFileSync(file, 'utf8').trim(), `${file}`);

/** POST /oauth2/token with a grant type the server does not have, over the server SVID's TLS. */
function unsupportedGrant(address: string, ca: string): Promise<{ status: number; body: string }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/oauth2/token', method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('grant_type=urn%3Aexample%3Anot-a-grant');
  });
}

test('server and agent: /ready turns 200 when attested and synced, and real traffic moves the counters', async (t) => {
  const srv = await startServer(t, { config: { metrics: { listen: '127.0.0.1:0' }, oauth: { listen: '127.0.0.1:0' } } });
  const serverOps = await readAddress(join(srv.dataDir, 'metrics.addr'));
  t.is((await get(serverOps, '/ready')).status, 200);
  t.is((await get(serverOps, '/live')).status, 200);

  // The agent's way to the server goes through a proxy that refuses connections for now.
  const proxy = await startTcpProxy(t, { host: '127.0.0.1', port: Number(srv.agentAddress.split(':')[1]) }, { kind: 'drop' });
  const dir = mkdtempSync(join(tmpdir(), 'tops-'));
  const sockDir = mkdtempSync(join(tmpdir(), 'tops-s-'));
  chmodSync(sockDir, 0o755);
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }); rmSync(sockDir, { recursive: true, force: true }); });
  const socketPath = join(sockDir, 'agent.sock');
  const dataDir = join(dir, 'data');
  writeFileSync(join(dir, 'bundle.pem'), srv.readBundle().pem);
  const configPath = join(dir, 'agent.yaml');
  // No node_attestor in the file: the join token comes from the environment (a secret).
  writeFileSync(configPath, JSON.stringify({
    server_address: `127.0.0.1:${proxy.port}`, trust_domain: 'example.org', trust_bundle_path: join(dir, 'bundle.pem'),
    data_dir: dataDir, socket_path: socketPath, log_level: 'debug', metrics: { listen: '127.0.0.1:0' },
  }));
  const agent = spawnTs(t, 'node-agent/cli/main.ts', ['run', '--config', configPath], { env: { ...process.env, TESSERA_JOIN_TOKEN: await srv.joinToken() } });
  const agentOps = await readAddress(join(dataDir, 'metrics.addr'));

  const notYet = await get(agentOps, '/ready');
  t.is(notYet.status, 503);
  const report = JSON.parse(notYet.body) as { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> };
  t.false(report.ready);
  t.deepEqual(report.checks.attested, { ok: false, detail: 'attesting to the server' });
  t.is((await get(agentOps, '/live')).status, 200);
  const unhealthy = await agentCli(['healthcheck', '--config', configPath, '--output', 'json']);
  t.is(unhealthy.code, 1, unhealthy.stderr);
  t.false(JSON.parse(unhealthy.stdout).healthy);

  proxy.set({ kind: 'pass' });
  await until(async () => (await get(agentOps, '/ready')).status === 200, 'agent /ready 200');
  const healthy = await agentCli(['healthcheck', '--config', configPath, '--output', 'json']);
  t.is(healthy.code, 0, healthy.stdout + healthy.stderr);
  t.true(JSON.parse(healthy.stdout).healthy);
  const serverHealthy = await runCli(['healthcheck', '--config', srv.configPath, '--output', 'json']);
  t.is(serverHealthy.code, 0, serverHealthy.stderr);
  t.regex(JSON.parse(serverHealthy.stdout).via, /\/ready$/);

  const agentId = (JSON.parse((await agent.waitFor(/\{[^\n]*"msg":"agent ready"[^\n]*\}/))) as { spiffe_id: string }).spiffe_id;
  const beforeServer = await scrape(serverOps);
  const beforeAgent = await scrape(agentOps);
  await createEntry(srv, agentId, 'spiffe://example.org/ops/alice', [`unix:uid:${ALICE.uid}`]);
  await until(async () => (valueOf(await scrape(agentOps), 'tessera_agent_synced_entries') ?? 0) >= 1, 'the entry synced to the agent');

  const x509 = await agentCli(['api', 'fetch', 'x509', '--output', 'json', '--socket', socketPath], ALICE);
  t.is(x509.code, 0, x509.stderr);
  const jwt = await agentCli(['api', 'fetch', 'jwt', '--audience', 'ops-test', '--output', 'json', '--socket', socketPath], ALICE);
  t.is(jwt.code, 0, jwt.stderr);
  const denied = await agentCli(['api', 'fetch', 'x509', '--socket', socketPath], { uid: 4242, gid: 4242 });
  t.is(denied.code, 1);
  const oauth = await unsupportedGrant(readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim(), srv.bundlePem);
  t.is(oauth.status, 400, oauth.body);

  const s = await scrape(serverOps);
  const a = await scrape(agentOps);
  const moved = (before: Map<string, Family>, after: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
    (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
  // Server.
  t.is(valueOf(s, 'tessera_server_node_attestations_total', { method: 'join_token', outcome: 'ok' }), 1);
  t.true((valueOf(s, 'tessera_server_svids_issued_total', { type: 'agent', outcome: 'ok' }) ?? 0) >= 1);
  t.true(moved(beforeServer, s, 'tessera_server_svids_issued_total', { type: 'x509', outcome: 'ok' }) >= 1);
  t.true(moved(beforeServer, s, 'tessera_server_svids_issued_total', { type: 'jwt', outcome: 'ok' }) >= 1);
  t.true(moved(beforeServer, s, 'tessera_server_svid_signing_seconds_count', { type: 'x509' }) >= 1);
  t.true(moved(beforeServer, s, 'tessera_server_svid_signing_seconds_count', { type: 'jwt' }) >= 1);
  t.true(moved(beforeServer, s, 'tessera_server_sync_push_lag_seconds_count') >= 1, 'the new entry was pushed on the stream');
  t.true((valueOf(s, 'tessera_server_sync_streams') ?? 0) >= 1);
  t.is(valueOf(s, 'tessera_server_entries'), 1);
  t.is(valueOf(s, 'tessera_server_agents'), 1);
  t.true(moved(beforeServer, s, 'tessera_server_datastore_operation_seconds_count', { operation: 'createEntries', outcome: 'ok' }) >= 1);
  t.is(valueOf(s, 'tessera_server_oauth_token_requests_total', { grant_type: 'unsupported', outcome: 'unsupported_grant_type' }), 1);
  // Agent.
  t.true(moved(beforeAgent, a, 'tessera_agent_workload_api_requests_total', { method: 'FetchX509SVID', status: 'OK' }) >= 1);
  t.true(moved(beforeAgent, a, 'tessera_agent_workload_api_requests_total', { method: 'FetchJWTSVID', status: 'OK' }) >= 1);
  t.true(moved(beforeAgent, a, 'tessera_agent_workload_api_requests_total', { method: 'FetchX509SVID', status: 'PERMISSION_DENIED' }) >= 1);
  t.true(moved(beforeAgent, a, 'tessera_agent_workload_api_request_seconds_count', { method: 'FetchX509SVID' }) >= 2);
  t.true((valueOf(a, 'tessera_agent_cached_svids', { type: 'x509' }) ?? 0) >= 1);
  t.true((valueOf(a, 'tessera_agent_cached_svids', { type: 'jwt' }) ?? 0) >= 1);
  t.is(valueOf(a, 'tessera_agent_server_reachable'), 1);
  t.true((valueOf(a, 'tessera_agent_svid_expiry_seconds') ?? 0) > 0);
  // Low cardinality: no SPIFFE ID, pid or uid ever becomes a label value.
  for (const families of [s, a]) {
    for (const f of families.values()) {
      for (const sample of f.samples) {
        for (const [k, v] of Object.entries(sample.labels)) {
          t.false(/spiffe:\/\/|^\d{3,}$/.test(v) && k !== 'le', `${sample.name} ${k}=${v}`);
          t.false(['pid', 'uid', 'spiffe_id', 'agent_id'].includes(k), `${sample.name} has label ${k}`);
        }
      }
    }
  }
});
