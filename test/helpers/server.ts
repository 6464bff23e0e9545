import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { stringify as toYaml } from 'yaml';
import { loadAgentProto } from '../../common/proto.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import type { AgentServiceClient } from '../../proto/gen/tessera-api/tessera/v1/AgentService.ts';
import type { AttestResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestResponse.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import { ROOT, spawnTs, type Proc } from './proc.ts';
import { call as adminRpc, connectAdmin, type AdminClients } from '../../server/cli/admin-client.ts';

/** One admin RPC (e.g. adminCall(srv.admin().entry, 'BatchCreateEntry', {...})); rejects with an Error whose code is the tessera error code. */
export const adminCall = <Res>(client: grpc.Client, method: string, req: unknown): Promise<Res> => adminRpc<unknown, Res>(client, method, req);

/**
 * A real tessera-server process for end-to-end tests (documented in docs/server.md).
 *
 *   const srv = await startServer(t);                       // temp data dir, 127.0.0.1:0
 *   const { stdout } = await srv.cli(['entry', 'list', '--output', 'json']);
 *   const token = await srv.joinToken();
 *   const agent = await attestJoinToken(srv, token);        // mTLS client with an agent SVID
 *
 * The process is stopped (by pid) and the temp dir removed when the test ends.
 */
export interface StartServerOptions {
  /** Default "example.org". */
  trustDomain?: string;
  /** Extra config, deep-merged over the defaults (e.g. { node_attestors: { tpm: {...} } }). */
  config?: Record<string, unknown>;
  /** Extra environment for the server process. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the "tessera server started" log line. Default 90 s: a bound for a stuck start, not an expected time. */
  startTimeoutMs?: number;
}

export interface CliResult { code: number; stdout: string; stderr: string }

export interface TestServer {
  /** "127.0.0.1:<port>" of the agent API (TLS; server SVID spiffe://<td>/tessera/server). */
  agentAddress: string;
  adminSocket: string;
  trustDomain: string;
  dataDir: string;
  configPath: string;
  /** The trust bundle's X.509 authorities (PEM / DER), as of the last (re)start. */
  bundlePem: string;
  bundleDer: Uint8Array[];
  /** SHA-256 hex of the root CA certificate's DER. */
  caFingerprint: string;
  proc: Proc;
  /** Runs `tessera-server <args>` against this server's admin socket. */
  cli(args: string[]): Promise<CliResult>;
  /** A join token minted through the admin socket (in-process gRPC, fast); returns the token. */
  joinToken(ttlSeconds?: number): Promise<string>;
  /** In-process admin API clients on the admin socket (closed at teardown). Use adminCall() to call them. */
  admin(): AdminClients;
  /** Re-reads bundle.pem (after a CA rotation). */
  readBundle(): { pem: string; der: Uint8Array[] };
  stop(): Promise<void>;
  /** Stops and starts the process again on the same data dir (same port is not guaranteed). */
  restart(): Promise<void>;
}

/** Anything with teardown(): an ava ExecutionContext, or sharedScope() for a server shared by a file's tests. */
export type Scope = Pick<ExecutionContext, 'teardown'>;

/**
 * For one server shared by all tests of a file (ava runs t.teardown of a before-hook
 * right after the hook, so hooks need this instead):
 *   const scope = sharedScope();
 *   test.before(async () => { srv = await startServer(scope); });
 *   test.after.always(() => scope.cleanup());
 */
export function sharedScope(): Scope & { cleanup(): Promise<void> } {
  const fns: (() => unknown)[] = [];
  return {
    teardown: (fn: () => unknown) => { fns.push(fn); },
    async cleanup() { for (const fn of fns.reverse()) await fn(); },
  } as Scope & { cleanup(): Promise<void> };
}

export async function startServer(t: Scope, opts: StartServerOptions = {}): Promise<TestServer> {
  // Short path: the admin socket path must stay under 108 bytes.
  const dataDir = mkdtempSync(join(tmpdir(), 'tsv-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const trustDomain = opts.trustDomain ?? 'example.org';
  const base: Record<string, unknown> = {
    trust_domain: trustDomain,
    data_dir: dataDir,
    log_level: 'debug',
    agent_api: { listen: '127.0.0.1:0' },
    node_attestors: { join_token: {} },
  };
  const config = deepMerge(base, opts.config ?? {});
  const configPath = join(dataDir, 'server.yaml');
  writeFileSync(configPath, toYaml(config));

  const srv = {} as TestServer;
  let adminClients: AdminClients | undefined;
  const launch = async () => {
    const proc = spawnTs(undefined, 'server/cli/main.ts', ['run', '--config', configPath], { env: { ...process.env, ...opts.env } });
    t.teardown(() => proc.stop());
    await proc.waitFor(/"msg":"tessera server started"/, opts.startTimeoutMs ?? 90_000);
    const started = JSON.parse(proc.stderr().split('\n').find((l) => l.includes('"tessera server started"'))!);
    const bundle = readBundle();
    Object.assign(srv, {
      proc, agentAddress: readFileSync(join(dataDir, 'agent-api.addr'), 'utf8').trim(),
      adminSocket: started.admin_socket as string, caFingerprint: started.ca_fingerprint as string,
      bundlePem: bundle.pem, bundleDer: bundle.der,
    });
  };
  const readBundle = () => {
    const pem = readFileSync(join(dataDir, 'bundle.pem'), 'utf8');
    const der = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)]
      .map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
    return { pem, der };
  };
  Object.assign(srv, {
    trustDomain, dataDir, configPath, readBundle,
    cli: (args: string[]) => runCli(args, srv.adminSocket),
    async joinToken(ttl?: number) {
      const r = await adminCall<{ token: string }>(srv.admin().agent, 'CreateJoinToken', { ttl: ttl ?? 0 });
      return r.token;
    },
    admin() {
      if (!adminClients) {
        adminClients = connectAdmin({ socket: srv.adminSocket }, {});
        t.teardown(() => { adminClients?.close(); adminClients = undefined; });
      }
      return adminClients;
    },
    stop: () => srv.proc.stop(),
    async restart() { adminClients?.close(); adminClients = undefined; await srv.proc.stop(); await launch(); },
  } satisfies Partial<TestServer>);
  await launch();
  return srv;
}

/** Runs the tessera-server CLI in a child process with TESSERA_ADMIN_SOCKET set. */
export function runCli(args: string[], adminSocket?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(adminSocket ? { TESSERA_ADMIN_SOCKET: adminSocket } : {}) },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

// ---------------------------------------------------------------- agent API client

export interface AgentIdentity {
  key: KeyObject;
  /** DER, leaf first. */
  chain: Uint8Array[];
}

/**
 * An AgentService client over TLS to the test server. Verifies the server by its
 * SPIFFE ID (spiffe://<td>/tessera/server) against the bundle; presents `identity`
 * as the client certificate when given (needed for every RPC but Attest).
 */
export function agentClient(srv: TestServer, identity?: AgentIdentity, bundlePem = srv.bundlePem): AgentServiceClient {
  const serverId = `spiffe://${srv.trustDomain}/tessera/server`;
  const creds = grpc.credentials.createSsl(
    Buffer.from(bundlePem),
    identity ? Buffer.from(identity.key.export({ type: 'pkcs8', format: 'pem' }) as string) : null,
    identity ? Buffer.from(identity.chain.map(toPem).join('')) : null,
    {
      checkServerIdentity: (_host, cert) => {
        const san = cert.subjectaltname ?? '';
        return san.split(', ').includes(`URI:${serverId}`) ? undefined : new Error(`server certificate is not ${serverId} (${san})`);
      },
    },
  );
  const P = loadAgentProto().tessera.v1.AgentService;
  // The server is verified by SPIFFE ID above; the name override only keeps Node from
  // sending an IP address as TLS SNI.
  const client = new P(srv.agentAddress, creds, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as AgentServiceClient;
  return client;
}

/** Promisified unary call; rejects with the grpc ServiceError (code, details). */
export function unary<Res>(client: grpc.Client, method: string, req: unknown, timeoutMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Function>)[method]!;
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

export interface AttestOutcome extends AgentIdentity {
  id: string;
  bundle: Bundle__Output;
  selectors: { type: string; value: string }[];
  /** A client presenting this agent SVID. */
  client: AgentServiceClient;
}

/** Runs the Attest stream with any method; `respond` answers challenges. Rejects with the stream's ServiceError. */
export async function attest(
  srv: TestServer, method: string, payload: Uint8Array,
  opts: { respond?: (challenge: Uint8Array) => Promise<Uint8Array> | Uint8Array; key?: KeyObject; csr?: Uint8Array } = {},
): Promise<AttestOutcome> {
  const { privateKey, publicKey } = opts.key
    ? { privateKey: opts.key, publicKey: undefined }
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey ?? (await import('node:crypto')).createPublicKey(privateKey);
  const csr = opts.csr ?? await createCsr(privateKey, pub);
  const anon = agentClient(srv);
  try {
    const result = await new Promise<NonNullable<AttestResponse__Output['result']>>((resolve, reject) => {
      const stream = anon.Attest();
      let done = false;
      stream.on('data', async (msg: AttestResponse__Output) => {
        if (msg.step === 'challenge' && msg.challenge) {
          if (!opts.respond) { stream.cancel(); reject(new Error('server sent a challenge but no respond() was given')); return; }
          stream.write({ challenge_response: Buffer.from(await opts.respond(msg.challenge)) });
        } else if (msg.step === 'result' && msg.result) { done = true; resolve(msg.result); stream.end(); }
      });
      stream.on('error', (e) => { if (!done) reject(e); });
      stream.on('end', () => { if (!done) reject(new Error('attest stream ended without a result')); });
      stream.write({ params: { method, payload: Buffer.from(payload), csr: Buffer.from(csr) } });
    });
    const chain = result.svid_chain.map((c) => new Uint8Array(c));
    const identity = { key: privateKey, chain };
    return {
      ...identity, id: result.spiffe_id, bundle: result.bundle!, selectors: result.selectors,
      client: agentClient(srv, identity),
    };
  } finally {
    anon.close();
  }
}

/** Join-token attestation: mints nothing itself; pass a token from srv.joinToken(). */
export function attestJoinToken(srv: TestServer, token: string): Promise<AttestOutcome> {
  return attest(srv, 'join_token', new TextEncoder().encode(token));
}

/** Attests a fresh agent with a new join token; its client is closed when the test ends. */
export async function attestNewAgent(t: { teardown(fn: () => void): void }, srv: TestServer): Promise<AttestOutcome> {
  const a = await attestJoinToken(srv, await srv.joinToken());
  t.teardown(() => a.client.close());
  return a;
}

let entrySeq = 0;
/**
 * Creates one workload entry under `parent` through the admin API, with a unique SPIFFE
 * ID (under /<prefix>/) and a unique unix:uid selector; throws when the server refuses it.
 */
export async function createTestEntry(srv: TestServer, parent: string, extra: Record<string, unknown> = {}, prefix = 'workload'): Promise<{ id: string; spiffeId: string }> {
  const n = ++entrySeq;
  const spiffeId = `spiffe://${srv.trustDomain}/${prefix}/w${n}-${Date.now()}`;
  const r = await adminCall<{ results: { status: { code: number; message: string }; entry: { id: string } }[] }>(srv.admin().entry, 'BatchCreateEntry', {
    entries: [{ spiffe_id: spiffeId, parent_id: parent, selectors: [{ type: 'unix', value: `uid:${1000 + n}` }], ...extra }],
  });
  if (r.results[0]!.status.code !== 0) throw new Error(r.results[0]!.status.message);
  return { id: r.results[0]!.entry.id, spiffeId };
}

/** A PKCS#10 CSR (DER) for a fresh P-256 key, optionally with a URI SAN. */
export async function newCsr(spiffeId?: string): Promise<{ key: KeyObject; csr: Uint8Array }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, csr: await createCsr(privateKey, publicKey, spiffeId ? SpiffeId.parse(spiffeId) : undefined) };
}

export function toPem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The URI SAN of a DER certificate. */
export function uriSan(der: Uint8Array): string | undefined {
  return new X509Certificate(der).subjectAltName?.split(', ').find((s) => s.startsWith('URI:'))?.slice(4);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObj(cur) && isObj(v) ? deepMerge(cur, v) : v;
  }
  return out;
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------- PostgreSQL

/** Admin connection for test databases (trust auth); TESSERA_TEST_PG overrides. */
export const POSTGRES_ADMIN_URL = process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, uniquely named PostgreSQL database for one test (or scope), dropped with its
 * connections at teardown. Resolves to its connection URL, or undefined when PostgreSQL
 * is not reachable (the caller decides whether that skips the test).
 */
export async function postgresTestDatabase(t: Scope, prefix = 'tessera_t'): Promise<string | undefined> {
  const pg = (await import('pg')).default;
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  try { await admin.connect(); } catch { return undefined; }
  try { await admin.query(`CREATE DATABASE ${name}`); } finally { await admin.end(); }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await c.connect();
    try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
  });
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
