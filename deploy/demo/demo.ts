/**
 * Tessera in one command (`npm run demo`): a server and a node agent in a temporary
 * directory, an entry for the current user with agent metadata, then an X.509-SVID
 * and a JWT-SVID fetched by a separate process over the Workload API; then delegated
 * authority (delegation.ts): a user signed in at a local OpenID Provider, agent A and
 * sub-agent B acting for her at a resource server, and the grant revoked; then what
 * an operator and an auditor see (evidence.ts): /ready and /metrics, a signed checkpoint
 * of the transparency log with an inclusion proof verified offline, and AuthZEN decisions
 * before and after a revocation, heard too as an OpenID Shared Signals event; an MCP
 * server protected by Tessera and an agent calling it with the MCP SDK (mcp.ts); a WIT-SVID used with a one-time proof (wit.ts); and a
 * clean shutdown. Every process is a real one, as in production; nothing is mocked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/proc.ts';
import { sharedScope } from '../../test/helpers/server.ts';
import { delegate, oauthConfigYaml, register, revoke, signIn, startIdp, type DelegationDemo } from './delegation.ts';
import { showAuthzen, showOperations, showTransparencyLog } from './evidence.ts';
import { showMcp } from './mcp.ts';
import { showWitSvid } from './wit.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const started = Date.now();
const children: ChildProcess[] = [];
/** The OpenID Provider and the delegation workloads; cleaned up before the agent and server stop. */
const scope = sharedScope();
let dir = '';

const step = (n: number, total: number, text: string) => console.log(`[${n}/${total}] ${text}  (+${((Date.now() - started) / 1000).toFixed(1)}s)`);
const detail = (text: string) => console.log(`      ${text}`);

/** Starts a long-running TypeScript process and resolves on the log line `msg`, with that record. */
function startService(name: string, script: string, args: string[], msg: string): Promise<{ child: ChildProcess; record: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s:\n${log.slice(-3000)}`)), 30_000);
    child.stderr!.on('data', (d) => {
      log += d;
      const line = log.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
      if (line) { clearTimeout(timer); child.stderr!.removeAllListeners('data'); child.stderr!.resume(); resolve({ child, record: JSON.parse(line) }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}:\n${log.slice(-3000)}`)); });
  });
}

/** Runs a CLI command to completion; throws with its stderr on failure. */
function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '', err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} ${args.slice(0, 3).join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

async function stopAll(): Promise<void> {
  await scope.cleanup();
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
    const exited = new Promise((r) => c.once('exit', r));
    try { process.kill(c.pid, 'SIGTERM'); } catch { continue; }
    const timer = setTimeout(() => { try { process.kill(c.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const TOTAL = 15;
  dir = mkdtempSync(join(tmpdir(), 'tessera-demo-'));
  const me = userInfo();
  console.log(`Tessera demo: everything lives in ${dir} and is removed at the end.\n`);

  step(1, TOTAL, 'starting tessera-server (trust domain example.org, fresh CA, SQLite datastore, OAuth server trusting a local OpenID Provider)');
  const oauthPort = await freePort(); // the OP must know the server's sign-in redirect URI
  const op = await startIdp(scope, oauthPort);
  const serverDir = join(dir, 'server');
  writeFileSync(join(dir, 'server.yaml'), [
    'trust_domain: example.org', `data_dir: ${serverDir}`, 'log_level: info',
    'agent_api:', '  listen: 127.0.0.1:0', 'metrics:', '  listen: 127.0.0.1:0', 'node_attestors:', '  join_token: {}', ...oauthConfigYaml(op, oauthPort), '',
  ].join('\n'));
  const server = await startService('tessera-server', 'server/cli/main.ts', ['run', '--config', join(dir, 'server.yaml')], 'tessera server started');
  const adminSocket = String(server.record.admin_socket);
  const agentApi = readFileSync(join(serverDir, 'agent-api.addr'), 'utf8').trim();
  const authServer = readFileSync(join(serverDir, 'oauth.addr'), 'utf8').trim();
  detail(`agent API ${agentApi}, CA fingerprint sha256:${String(server.record.ca_fingerprint).slice(0, 16)}...`);
  detail(`OAuth authorization server https://${authServer}, trusting the OpenID Provider ${op.issuer} (in this process)`);
  const metricsAddr = readFileSync(join(serverDir, 'metrics.addr'), 'utf8').trim();
  detail(`metrics and health listener http://${metricsAddr} (/metrics, /live, /ready)`);
  const admin = (args: string[]) => run('server/cli/main.ts', args, { TESSERA_ADMIN_SOCKET: adminSocket });

  step(2, TOTAL, 'starting tessera-agent (join token attestation, CA pinned by fingerprint)');
  const token = (JSON.parse(await admin(['token', 'generate', '--output', 'json'])) as { token: string }).token;
  const sockDir = join(dir, 'sock');
  rmSync(sockDir, { force: true, recursive: true });
  mkdirSync(sockDir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const socket = join(sockDir, 'agent.sock');
  const agent = await startService('tessera-agent', 'node-agent/cli/main.ts', ['run',
    '--server-address', agentApi, '--trust-domain', 'example.org', '--ca-fingerprint', String(server.record.ca_fingerprint),
    '--data-dir', join(dir, 'agent'), '--socket-path', socket, '--join-token', token, '--log-level', 'info'], 'agent ready');
  const agentId = String(agent.record.spiffe_id);
  detail(`agent ID ${agentId}`);

  step(3, TOTAL, `registering spiffe://example.org/demo/assistant for unix:uid:${me.uid} (${me.username}) with agent metadata`);
  await admin(['entry', 'create', '--parent-id', agentId, '--spiffe-id', 'spiffe://example.org/demo/assistant',
    '--selector', `unix:uid:${me.uid}`, '--agent-model', 'claude-sonnet-4', '--agent-provider', 'anthropic', '--agent-version', '2025-05']);

  step(4, TOTAL, 'fetching an X.509-SVID over the Workload API from a separate process (tessera-agent api fetch x509)');
  const x509 = JSON.parse(await run('node-agent/cli/main.ts', ['api', 'fetch', 'x509', '--output', 'json', '--write', join(dir, 'svid'), '--socket', socket])) as
    { svids: { spiffe_id: string; not_after: string; serial: string; claims: Record<string, string> }[] };
  const svid = x509.svids[0]!;
  detail(`SPIFFE ID         ${svid.spiffe_id}`);
  detail(`expires           ${svid.not_after}`);
  detail(`serial            ${svid.serial}`);
  for (const [k, v] of Object.entries(svid.claims)) detail(`${(k + " ").padEnd(18)}${v}`);
  detail(`wrote svid.pem, svid.key, bundle.pem to ${join(dir, 'svid')}`);

  step(5, TOTAL, 'fetching a JWT-SVID for audience "demo-api" and validating it through the agent');
  const [jwt] = JSON.parse(await run('node-agent/cli/main.ts', ['api', 'fetch', 'jwt', '--audience', 'demo-api', '--output', 'json', '--socket', socket])) as
    { spiffe_id: string; expires_at: string; claims: Record<string, string>; token: string }[];
  detail(`SPIFFE ID         ${jwt!.spiffe_id}`);
  detail(`expires           ${jwt!.expires_at}`);
  for (const [k, v] of Object.entries(jwt!.claims)) detail(`${(k + " ").padEnd(18)}${v}`);
  detail(`token             ${jwt!.token.slice(0, 48)}...`);
  const valid = JSON.parse(await run('node-agent/cli/main.ts', ['api', 'validate', 'jwt', '--audience', 'demo-api', '--output', 'json', '--socket', socket, jwt!.token])) as { spiffe_id: string };
  detail(`ValidateJWTSVID: valid for ${valid.spiffe_id}`);

  const d: DelegationDemo = { op, scope, admin, agentId, socket, uid: me.uid, authServer, detail };
  step(6, TOTAL, 'signing in user alice at the OpenID Provider (authorization code + PKCE, login and consent forms over HTTP)');
  const idToken = await signIn(d, 'alice');

  step(7, TOTAL, 'registering agent A, sub-agent B and a resource server; delegation policies (tessera-server delegation create)');
  await register(d);

  step(8, TOTAL, 'user alice -> agent A -> sub-agent B -> resource server (separate processes, each with its own SVID)');
  const running = await delegate(d, idToken);

  step(9, TOTAL, 'revoking the grant while A keeps working: the resource server refuses the token');
  await revoke(d, running);

  step(10, TOTAL, 'MCP: an MCP server protected by Tessera; the planner calls its tool with the MCP SDK, authenticated by its SVID, for itself and for alice');
  await showMcp({ ...d, dir, bundlePem: readFileSync(join(dir, 'svid', 'bundle.pem'), 'utf8') }, idToken);

  const e = { ...d, metricsAddr, serverDir, dir, auditVerifier: (args: string[]) => run('server/audit/verify-main.ts', args) };
  step(11, TOTAL, 'operations: the server\'s health and Prometheus metrics after all that issuance (metrics.listen 127.0.0.1:0)');
  await showOperations(e);

  step(12, TOTAL, 'transparency log: a signed checkpoint, and the revocation proved included, verified offline (tessera-audit)');
  await showTransparencyLog(e);

  step(13, TOTAL, 'AuthZEN and Shared Signals: the resource server asks for decisions on a token of A before and after revocation, and hears the revocation on an SSF stream');
  await showAuthzen(e, idToken);

  step(14, TOTAL, 'WIT-SVID: the assistant proves possession of its WIT-SVID key to a node:http server, once (a replayed proof is refused)');
  await showWitSvid({ socket, spiffeId: 'spiffe://example.org/demo/assistant', detail });

  step(15, TOTAL, 'shutting down workloads, OpenID Provider, agent and server');
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

main().catch(async (e) => {
  console.error(`\ndemo failed: ${(e as Error).message}`);
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
