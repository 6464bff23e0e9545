import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type SpawnOptions } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, spawnTs, type Proc } from './proc.ts';
import type { Scope, TestServer } from './server.ts';

/**
 * A real tessera-agent process for end-to-end tests (documented in docs/agent.md).
 *
 *   const srv = await startServer(t);
 *   const agent = await startAgent(t, { server: srv });      // join token, bundle file
 *   await srv.cli(['entry', 'create', '--parent-id', agent.spiffeId, ...]);
 *   const r = await agentCli(['api', 'fetch', 'x509', '--socket', agent.socketPath], { uid: 1000, gid: 1000 });
 *
 * The data dir is 0700 (root only); the socket lives in its own world-searchable
 * directory so workloads under other uids can connect. Stopped by pid and cleaned up
 * when the test ends.
 */
export interface StartAgentOptions {
  server: TestServer;
  /** How the agent trusts the server at first contact. Default "bundle" (the server's bundle.pem). */
  trust?: 'bundle' | 'fingerprint';
  /** Default: a fresh token from the server. */
  joinToken?: string;
  /** Extra YAML config merged into the generated file (e.g. { instance_idle_timeout: '5s' }). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for "agent ready". Default 90 s: a bound for a stuck start, not an expected time (a busy machine with a cold tsx cache takes tens of seconds). */
  startTimeoutMs?: number;
}

export interface TestAgent {
  /** The agent's SPIFFE ID (parent of the entries it serves). */
  spiffeId: string;
  socketPath: string;
  /** SPIFFE_ENDPOINT_SOCKET form of socketPath. */
  endpoint: string;
  dataDir: string;
  configPath: string;
  proc: Proc;
  /** Whether the last start resumed from the data dir (no attestation). */
  resumed: boolean;
  stop(): Promise<void>;
  /**
   * Stops and starts again on the same data dir and socket. `joinToken` replaces the
   * configured token (e.g. to re-attest after an eviction; the old one is used up).
   */
  restart(opts?: { joinToken?: string }): Promise<void>;
}

export async function startAgent(t: Scope, opts: StartAgentOptions): Promise<TestAgent> {
  const srv = opts.server;
  const dataDir = mkdtempSync(join(tmpdir(), 'tag-'));
  const sockDir = mkdtempSync(join(tmpdir(), 'tas-'));
  chmodSync(sockDir, 0o755);
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }); rmSync(sockDir, { recursive: true, force: true }); });
  const socketPath = join(sockDir, 'agent.sock');
  const bundlePath = join(dataDir, 'bootstrap-bundle.pem');
  // The server's bundle as of now, not as of its start: with a short CA TTL the CA may
  // have rotated since (bundle.pem always holds the active and the prepared next CA).
  writeFileSync(bundlePath, srv.readBundle().pem);
  const token = opts.joinToken ?? await srv.joinToken();
  const config: Record<string, unknown> = {
    server_address: srv.agentAddress,
    trust_domain: srv.trustDomain,
    ...(opts.trust === 'fingerprint' ? { ca_fingerprint: srv.caFingerprint } : { trust_bundle_path: bundlePath }),
    data_dir: join(dataDir, 'data'),
    socket_path: socketPath,
    node_attestor: { method: 'join_token', join_token: { token } },
    log_level: opts.logLevel ?? 'debug',
    ...opts.config,
  };
  const configPath = join(dataDir, 'agent.yaml');
  writeFileSync(configPath, JSON.stringify(config, null, 2)); // JSON is YAML

  const agent = { socketPath, endpoint: `unix://${socketPath}`, dataDir: config.data_dir as string, configPath } as TestAgent;
  const launch = async () => {
    // The server's address may have changed after a server restart.
    config.server_address = srv.agentAddress;
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const proc = spawnTs(undefined, 'node-agent/cli/main.ts', ['run', '--config', configPath], { env: { ...process.env, ...opts.env } });
    t.teardown(() => proc.stop());
    const line = await proc.waitFor(/\{[^\n]*"msg":"agent ready"[^\n]*\}/, opts.startTimeoutMs ?? 90_000);
    const ready = JSON.parse(line) as { spiffe_id: string; resumed: boolean };
    Object.assign(agent, { proc, spiffeId: ready.spiffe_id, resumed: ready.resumed });
  };
  agent.stop = () => agent.proc.stop();
  agent.restart = async (o = {}) => {
    await agent.proc.stop();
    if (o.joinToken !== undefined) config.node_attestor = { method: 'join_token', join_token: { token: o.joinToken } };
    await launch();
  };
  await launch();
  return agent;
}

export interface CliRun { code: number; stdout: string; stderr: string }

/**
 * Runs `tessera-agent <args>` as a separate process, optionally as another uid/gid
 * (the test runs as root), so the agent attests it by its kernel credentials.
 */
export function agentCli(args: string[], o: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: tmpdir(), ...o.env },
      ...(o.uid !== undefined ? { uid: o.uid } : {}), ...(o.gid !== undefined ? { gid: o.gid } : {}),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'node-agent/cli/main.ts', ...args], spawnOpts);
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, o.timeoutMs ?? 90_000); // only a stuck CLI gets near this
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

/**
 * A long-running `tessera-agent api watch --output json` as a workload process (one
 * JSON line per update), for stream tests: the process is the workload instance.
 */
export function watchX509(t: Scope, socketPath: string, o: { uid?: number; gid?: number } = {}): Proc & { updates(): { update: number; svids: { spiffe_id: string; serial: string; not_after: string; claims: Record<string, string> }[] }[] } {
  const proc = spawnTs(undefined, 'node-agent/cli/main.ts', ['api', 'watch', '--output', 'json', '--socket', socketPath], {
    env: { ...process.env, HOME: tmpdir() }, ...(o.uid !== undefined ? { uid: o.uid } : {}), ...(o.gid !== undefined ? { gid: o.gid } : {}),
  });
  t.teardown(() => proc.stop());
  return Object.assign(proc, {
    updates: () => proc.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
  });
}
