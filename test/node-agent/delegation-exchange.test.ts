import test, { type ExecutionContext } from 'ava';
import { until } from '../helpers/wait.ts';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { createHash, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpsGet, type Server } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { memoryLogger } from '../../common/logger.ts';
import { loadAdminProto, loadDelegationProto, PROTO_DIR } from '../../common/proto.ts';
import { WorkloadAttestationComposer } from '../../node-agent/attestation/composer.ts';
import { UnixWorkloadAttestor } from '../../attestors/workload/unix.ts';
import { ExchangeLimiter } from '../../node-agent/delegation/limits.ts';
import { WorkloadApiServer } from '../../node-agent/workload-api/server.ts';
import type { DelegationOptions } from '../../node-agent/delegation/exchange-service.ts';
import { DELEGATION_DESCRIPTOR, exchangeTokenViaAgent, type AgentExchangeOptions } from '../../spiffe/delegation/agent-exchange.ts';
import type { DelegationError } from '../../spiffe/delegation/errors.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { FakeIdentityProvider, type FakeEntry } from '../helpers/fake-provider.ts';
import { ROOT, spawnTs } from '../helpers/proc.ts';
import { adminCall, sharedScope, startServer, type TestServer } from '../helpers/server.ts';
import { startAgent, type TestAgent } from '../helpers/agent.ts';
import { createEntry, ALICE, BOB } from '../helpers/agent-e2e.ts';
import { startTestIdp, type TestIdp } from '../helpers/test-idp.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * Token exchange through the node agent (docs/agent.md "Delegated tokens").
 * Part 1: a real Workload API endpoint on a real socket (fake identity provider, the
 * test process itself as the attested caller, uid 0) against a small local HTTPS token
 * endpoint that records the client certificate — for what the real server cannot be
 * made to do on demand (5xx, unreachable, wrong server identity, slow answers).
 * Part 2: real tessera-server (with `oauth`) and tessera-agent processes, and workloads
 * as separate processes under other uids, calling through the SDK.
 */

const TOOLS = 'https://tools.example.org';
const ROOT_ENTRY: FakeEntry = { id: 'root', spiffeId: 'spiffe://example.org/runner', selectors: ['unix:uid:0'] };
const ROOT_SECOND: FakeEntry = { id: 'root2', spiffeId: 'spiffe://example.org/runner-2', selectors: ['unix:uid:0'] };
const x5t = (der: Uint8Array) => createHash('sha256').update(der).digest('base64url');

// ---------------------------------------------------------------- part 1: in-process endpoint

interface TokenRequest { leaf?: Uint8Array; form: URLSearchParams }

/** An HTTPS token endpoint whose certificate is an SVID of the fake provider's CA (default: the tessera server's ID). */
async function fakeTokenEndpoint(t: ExecutionContext, provider: FakeIdentityProvider, o: { serverId?: string } = {}) {
  provider.addEntry({ id: 'srv', spiffeId: o.serverId ?? 'spiffe://example.org/tessera/server', selectors: ['test:token-endpoint'] });
  const [svid] = await provider.x509Svids({ selectors: [parseSelector('test:token-endpoint')], instanceId: 'inst_srv', pid: 0, uid: 0, gid: 0 });
  provider.removeEntry('srv');
  const requests: TokenRequest[] = [];
  let respond: (r: TokenRequest) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown } = () => ({
    status: 200, body: { access_token: 'tok.en.x', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'N_A', expires_in: 120, scope: 'files:read' },
  });
  const server: Server = createServer({
    key: createPrivateKey({ key: Buffer.from(svid!.privateKey), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }),
    cert: certificatesToPem(svid!.certChain), requestCert: true, rejectUnauthorized: false,
  }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => void (async () => {
      const raw = (req.socket as import('node:tls').TLSSocket).getPeerCertificate().raw;
      const r: TokenRequest = { leaf: raw ? new Uint8Array(raw) : undefined, form: new URLSearchParams(body) };
      requests.push(r);
      const a = await respond(r);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    })());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`,
    requests,
    setResponse(fn: typeof respond) { respond = fn; },
  };
}

async function localAgent(t: ExecutionContext, o: { entries?: FakeEntry[]; delegation?: (p: FakeIdentityProvider) => Promise<DelegationOptions> } = {}) {
  const dir = tempDir(t, 'dx-');
  const socket = join(dir, 'agent.sock');
  const provider = await FakeIdentityProvider.create();
  for (const e of o.entries ?? [ROOT_ENTRY, ROOT_SECOND]) provider.addEntry(e);
  const logs = memoryLogger();
  const server = new WorkloadApiServer({
    socketPath: socket, provider, logger: logs, agentId: () => 'spiffe://example.org/tessera/agent/join_token/test',
    attestation: new WorkloadAttestationComposer({ unix: new UnixWorkloadAttestor() }),
    delegation: o.delegation ? await o.delegation(provider) : undefined,
  });
  await server.start();
  t.teardown(() => server.stop());
  const address = `unix://${socket}`;
  return {
    provider, logs, address,
    exchange: (req: Partial<AgentExchangeOptions> = {}) => exchangeTokenViaAgent({ address, subjectToken: 'user.token.x', audience: [TOOLS], ...req }),
    /** The caller's SVIDs as FetchX509SVID serves them. */
    async svids() { const c = new WorkloadApiClient({ address }); try { return (await c.fetchX509Svids()).svids; } finally { c.close(); } },
    /** A raw call, to see the status, details and trailers as they are on the wire. */
    raw(req: Record<string, unknown>, header = true): Promise<{ code: number; details: string; oauthError?: string }> {
      const Ctor = loadDelegationProto().grpc.tessera.agent.v1.Delegation;
      const c = new Ctor(address, grpc.credentials.createInsecure());
      const md = new grpc.Metadata();
      if (header) md.set('workload.spiffe.io', 'true');
      return new Promise((resolve) => c.ExchangeToken({ subject_token: 'user.token.x', audience: [TOOLS], ...req }, md, (err) => {
        c.close();
        resolve({ code: err?.code ?? 0, details: err?.details ?? '', oauthError: err?.metadata.get('oauth-error')[0] as string | undefined });
      }));
    },
  };
}

const refused = async (t: ExecutionContext, p: Promise<unknown>) => t.throwsAsync(p) as Promise<DelegationError & { cause: grpc.ServiceError }>;

test('without delegation.token_endpoint ExchangeToken answers FAILED_PRECONDITION and says what to set', async (t) => {
  const a = await localAgent(t);
  const r = await a.raw({});
  t.is(r.code, grpc.status.FAILED_PRECONDITION);
  t.is(r.details, 'token exchange is not configured on this agent: set delegation.token_endpoint');
  const e = await refused(t, a.exchange());
  t.is(e.code, 'ERR_OAUTH_SERVER_ERROR');
  t.is(e.cause.code, grpc.status.FAILED_PRECONDITION);
});

test('the agent exchanges with the caller\'s own X.509-SVID as client certificate and passes only what the caller asked', async (t) => {
  let ep!: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  const a = await localAgent(t, { delegation: async (p) => { ep = await fakeTokenEndpoint(t, p); return { tokenEndpoint: ep.url }; } });
  const svids = await a.svids();
  const res = await a.exchange({ scope: ['files:read', 'review:post'], resource: ['https://r.example.org'], expiresIn: 60 });
  t.deepEqual(res, {
    accessToken: 'tok.en.x', issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token', tokenType: 'N_A',
    expiresIn: 120, scope: ['files:read'], spiffeId: svids[0]!.spiffeId,
  });
  const [req] = ep.requests;
  t.is(x5t(req!.leaf!), x5t(svids[0]!.certificates[0]!), 'client certificate = the default SVID the caller holds');
  t.deepEqual([...req!.form.entries()].sort(), [
    ['audience', TOOLS], ['expires_in', '60'], ['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    ['resource', 'https://r.example.org'], ['scope', 'files:read review:post'], ['subject_token', 'user.token.x'],
    ['subject_token_type', 'urn:ietf:params:oauth:token-type:jwt'],
  ].sort());

  // One of its own other identities, by name.
  const second = await a.exchange({ spiffeId: ROOT_SECOND.spiffeId });
  t.is(second.spiffeId, ROOT_SECOND.spiffeId);
  t.is(x5t(ep.requests[1]!.leaf!), x5t(svids.find((s) => s.spiffeId === ROOT_SECOND.spiffeId)!.certificates[0]!));

  // Someone else's: refused by the agent, the token endpoint never asked.
  const stolen = await a.raw({ spiffe_id: 'spiffe://example.org/someone-else' });
  t.is(stolen.code, grpc.status.PERMISSION_DENIED);
  t.regex(stolen.details, /spiffe:\/\/example\.org\/someone-else is not an identity of this caller/);
  t.is(ep.requests.length, 2);
  const log = a.logs.records.find((l) => l.msg === 'token exchange' && l.outcome === 'issued');
  t.like(log, { actor: ROOT_ENTRY.spiffeId, uid: 0, pid: process.pid, audience: [TOOLS], scope: 'files:read' });
  t.false(JSON.stringify(a.logs.records).includes('user.token.x'), 'no subject token in logs');
  t.false(JSON.stringify(a.logs.records).includes('tok.en.x'), 'no issued token in logs');
});

test('OAuth refusals keep their code: gRPC status, "<error>: <description>" and the oauth-error trailer', async (t) => {
  let ep!: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  const a = await localAgent(t, { delegation: async (p) => { ep = await fakeTokenEndpoint(t, p); return { tokenEndpoint: ep.url }; } });
  const cases: [number, string, grpc.status][] = [
    [400, 'invalid_request', grpc.status.INVALID_ARGUMENT], [400, 'invalid_scope', grpc.status.INVALID_ARGUMENT],
    [400, 'invalid_target', grpc.status.INVALID_ARGUMENT], [400, 'unauthorized_client', grpc.status.PERMISSION_DENIED],
    [400, 'invalid_grant', grpc.status.PERMISSION_DENIED], [400, 'access_denied', grpc.status.PERMISSION_DENIED],
    [401, 'invalid_client', grpc.status.UNAUTHENTICATED], [503, 'temporarily_unavailable', grpc.status.UNAVAILABLE],
  ];
  for (const [status, error, code] of cases) {
    ep.setResponse(() => ({ status, body: { error, error_description: `because ${error}` } }));
    const r = await a.raw({});
    t.deepEqual(r, { code, details: `${error}: because ${error}`, oauthError: error }, error);
    const e = await refused(t, a.exchange());
    t.is(e.code as string, `ERR_OAUTH_${error.toUpperCase()}`);
    t.is(e.oauthError, error);
    t.is(e.description, `because ${error}`);
  }
  ep.setResponse(() => ({ status: 502, body: '<html>bad gateway</html>' }));
  const proxy = await a.raw({});
  t.is(proxy.code, grpc.status.UNAVAILABLE);
  t.is(proxy.oauthError, undefined);
  t.regex(proxy.details, /answered HTTP 502 without an OAuth error/);
  t.is((await refused(t, a.exchange())).code, 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE');
});

test('an unreachable token endpoint is UNAVAILABLE', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
  });
  const a = await localAgent(t, { delegation: async () => ({ tokenEndpoint: `https://127.0.0.1:${port}/oauth2/token` }) });
  const r = await a.raw({});
  t.is(r.code, grpc.status.UNAVAILABLE);
  t.regex(r.details, new RegExp(`token endpoint https://127\\.0\\.0\\.1:${port}/oauth2/token is unreachable: .*ECONNREFUSED`));
  t.is((await refused(t, a.exchange())).code, 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE');
});

test('a token endpoint that is not the tessera server\'s SVID never sees the subject token', async (t) => {
  let ep!: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  const a = await localAgent(t, {
    delegation: async (p) => { ep = await fakeTokenEndpoint(t, p, { serverId: 'spiffe://example.org/impostor' }); return { tokenEndpoint: ep.url }; },
  });
  const r = await a.raw({});
  t.is(r.code, grpc.status.UNAVAILABLE);
  t.regex(r.details, /spiffe:\/\/example\.org\/impostor/);
  t.is(ep.requests.length, 0);
});

test('a caller without an identity is refused with PERMISSION_DENIED; without the security header with INVALID_ARGUMENT', async (t) => {
  let ep!: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  const a = await localAgent(t, {
    entries: [{ id: 'other', spiffeId: 'spiffe://example.org/other', selectors: ['unix:uid:4242'] }],
    delegation: async (p) => { ep = await fakeTokenEndpoint(t, p); return { tokenEndpoint: ep.url }; },
  });
  const none = await a.raw({});
  t.is(none.code, grpc.status.PERMISSION_DENIED);
  t.regex(none.details, /caller has no identity/);
  t.is((await refused(t, a.exchange())).code, 'ERR_OAUTH_INVALID_CLIENT');
  const noHeader = await a.raw({}, false);
  t.is(noHeader.code, grpc.status.INVALID_ARGUMENT);
  t.regex(noHeader.details, /security header missing/);
  t.is(ep.requests.length, 0);
});

test('exchanges in flight are capped per uid with RESOURCE_EXHAUSTED', async (t) => {
  let ep!: Awaited<ReturnType<typeof fakeTokenEndpoint>>;
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const a = await localAgent(t, {
    delegation: async (p) => { ep = await fakeTokenEndpoint(t, p); return { tokenEndpoint: ep.url, limits: { maxInFlightPerUid: 1 } }; },
  });
  const ok = { status: 200, body: { access_token: 'a.b.c', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'N_A', expires_in: 60 } };
  ep.setResponse(async () => { await held; return ok; });
  // Held at the token endpoint until released: its deadline only bounds a stuck test.
  const first = a.exchange({ timeoutMs: 300_000 });
  first.catch(() => undefined); // asserted below; never an unhandled rejection if the test fails first
  // Wait until the first exchange is at the token endpoint (so it is in flight), then try a second.
  await until(() => ep.requests.length > 0, 'the first exchange to reach the token endpoint');
  const second = await a.raw({});
  t.is(second.code, grpc.status.RESOURCE_EXHAUSTED);
  t.regex(second.details, /too many token exchanges in flight for uid 0 \(limit 1\)/);
  release();
  t.is((await first).accessToken, 'a.b.c');
  t.is((await a.exchange()).accessToken, 'a.b.c', 'the slot is free again');
});

test('the per-uid token bucket refuses bursts and refills with time', (t) => {
  let now = 1_000_000;
  const l = new ExchangeLimiter({ ratePerUid: 2, burstPerUid: 3, maxInFlightPerUid: 100 }, () => now);
  for (let i = 0; i < 3; i++) l.acquire(7)();
  t.throws(() => l.acquire(7), { message: /exceeds 2\/s \(burst 3\)/ });
  l.acquire(8)(); // other uids have their own bucket
  now += 500;
  l.acquire(7)();
  t.throws(() => l.acquire(7));
  now += 10_000;
  l.acquire(7)();
  // Many users each leave a partly drained bucket; once refilled they are forgotten.
  for (let uid = 1000; uid < 1300; uid++) l.acquire(uid)();
  t.true(l.size > 256);
  now += 10_000;
  l.acquire(9)();
  t.is(l.size, 1, 'idle uids with refilled buckets are forgotten');
});

test('the SDK\'s embedded descriptor matches proto/tessera/delegation.proto', (t) => {
  const root = new protobuf.Root();
  root.loadSync(join(PROTO_DIR, 'tessera/delegation.proto'), { keepCase: true });
  root.resolveAll();
  t.deepEqual(root.toJSON({ keepComments: false }), JSON.parse(JSON.stringify(DELEGATION_DESCRIPTOR)));
});

// ---------------------------------------------------------------- part 2: real processes

const scope = sharedScope();
let srv: TestServer;
let agent: TestAgent;
let idp: TestIdp;
let tokenEndpoint: string;
type Outcome = { result?: Record<string, unknown>; error?: { code: string; oauthError?: string; description?: string; message: string; grpcCode?: number }; svids?: { id: string; x5t: string }[] };
let alice: Record<string, Outcome>;
let nobody: Record<string, Outcome>;
let aliceToken: string;

const ALICE_AGENT = 'spiffe://example.org/alice-agent';
const ALICE_PLAIN = 'spiffe://example.org/alice';
const BOB_ID = 'spiffe://example.org/bob';

/** The workload: a separate process (under `who`) that runs `ops` in order through the SDK and prints one JSON object. */
const WORKLOAD = `
import { createHash } from 'node:crypto';
import { WorkloadApiClient } from '${ROOT}spiffe/workloadapi/client.ts';
import { exchangeTokenViaAgent } from '${ROOT}spiffe/delegation/agent-exchange.ts';
const [address, json] = process.argv.slice(2);
const out = {};
for (const op of JSON.parse(json)) {
  try {
    if (op.fetch) {
      const c = new WorkloadApiClient({ address });
      const u = await c.fetchX509Svids({ timeoutMs: 60000 });
      c.close();
      out[op.name] = { svids: u.svids.map((s) => ({ id: s.spiffeId, x5t: createHash('sha256').update(s.certificates[0]).digest('base64url') })) };
    } else {
      out[op.name] = { result: await exchangeTokenViaAgent({ address, timeoutMs: 60000, ...op.request }) };
    }
  } catch (e) {
    out[op.name] = { error: { code: e.code, oauthError: e.oauthError, description: e.description, message: e.message, grpcCode: e.cause?.code } };
  }
}
process.stdout.write(JSON.stringify(out) + '\\n');
process.exit(0);
`;

async function runWorkload(who: { uid: number; gid: number }, ops: Record<string, unknown>[]): Promise<Record<string, Outcome>> {
  const dir = mkdtempSync(join(tmpdir(), 'dxw-'));
  try {
    chmodSync(dir, 0o755);
    const file = join(dir, 'workload.mts');
    writeFileSync(file, WORKLOAD, { mode: 0o644 });
    const p = spawnTs(undefined, file, [agent.endpoint, JSON.stringify(ops)], { uid: who.uid, gid: who.gid, env: { ...process.env, HOME: tmpdir() } });
    const exit = await p.exited;
    if (exit.code !== 0) throw new Error(`workload exited ${exit.code}: ${p.stderr().slice(-3000)}`);
    return JSON.parse(p.stdout().trim().split('\n').pop()!) as Record<string, Outcome>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dxi-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  idp = await startTestIdp(scope, { dir });
  srv = await startServer(scope, {
    config: { oauth: { listen: '127.0.0.1:0', token_ttl: '5m', trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: idp.caFile }] } },
  });
  tokenEndpoint = `https://${readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim()}/oauth2/token`;
  agent = await startAgent(scope, { server: srv, config: { delegation: { token_endpoint: tokenEndpoint } } });
  await createEntry(srv, agent.spiffeId, ALICE_AGENT, [`unix:uid:${ALICE.uid}`], ['--agent-model', 'claude-test', '--agent-provider', 'anthropic']);
  await createEntry(srv, agent.spiffeId, ALICE_PLAIN, [`unix:uid:${ALICE.uid}`]);
  await createEntry(srv, agent.spiffeId, BOB_ID, [`unix:uid:${BOB.uid}`]);
  const Admin = loadAdminProto().tessera.v1.DelegationAdmin;
  const admin = new Admin(`unix://${srv.adminSocket}`, grpc.credentials.createInsecure());
  scope.teardown(() => admin.close());
  // Alice's agent identity may act for alice; her plain identity is in no policy.
  await adminCall(admin, 'CreatePolicy', {
    actors: [ALICE_AGENT], subject_issuer: idp.issuer, audiences: [TOOLS], scopes: ['files:read', 'review:post'], max_ttl: 300, max_depth: 1,
  });
  aliceToken = await idp.token({ sub: 'alice', groups: ['eng'] });
  const forged = await idp.token({ sub: 'alice' }, { key: idp.unpublishedKey('ES256', idp.keys[0]!.kid) });
  const ask = (request: Record<string, unknown>) => ({ request: { subjectToken: aliceToken, audience: [TOOLS], ...request } });
  [alice, nobody] = await Promise.all([
    runWorkload(ALICE, [
      { name: 'fetch', fetch: true },
      { name: 'ok', ...ask({ spiffeId: ALICE_AGENT, scope: ['files:read'] }) },
      { name: 'bob', ...ask({ spiffeId: BOB_ID }) },
      { name: 'scope', ...ask({ spiffeId: ALICE_AGENT, scope: ['files:write'] }) },
      { name: 'target', ...ask({ spiffeId: ALICE_AGENT, audience: ['https://evil.example.org'] }) },
      { name: 'policy', ...ask({ spiffeId: ALICE_PLAIN }) },
      { name: 'forged', request: { subjectToken: forged, audience: [TOOLS], spiffeId: ALICE_AGENT } },
    ]),
    runWorkload({ uid: 4242, gid: 4242 }, [{ name: 'none', ...ask({}) }]),
  ]);
});
test.after.always(() => scope.cleanup());

test.serial('e2e: the exchanged token names the workload as actor and is bound to the X.509-SVID it holds', async (t) => {
  const ok = alice.ok!;
  t.is(ok.error, undefined, JSON.stringify(ok.error));
  t.like(ok.result, { spiffeId: ALICE_AGENT, scope: ['files:read'], issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token' });
  // Verified with the server's published keys, not just decoded.
  const addr = readFileSync(join(srv.dataDir, 'oauth.addr'), 'utf8').trim();
  const jwks = await new Promise<{ keys: unknown[] }>((resolve, reject) => httpsGet(`https://${addr}/oauth2/jwks`, { ca: srv.bundlePem }, (res) => {
    let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(JSON.parse(b)));
  }).on('error', reject));
  const { payload } = await jwtVerify(ok.result!.accessToken as string, createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]), {
    issuer: tokenEndpoint.replace(/\/oauth2\/token$/, ''), audience: TOOLS,
  });
  const act = payload.act as Record<string, unknown>;
  t.is(act.sub, ALICE_AGENT);
  t.is(act.agent_model, 'claude-test');
  t.is(payload.client_id, ALICE_AGENT);
  t.is(payload.sub, `${idp.issuer}#alice`);
  const held = alice.fetch!.svids!.find((s) => s.id === ALICE_AGENT)!;
  t.is((payload.cnf as Record<string, string>)['x5t#S256'], held.x5t, 'cnf = the SVID this process got from FetchX509SVID');
});

test.serial('e2e: naming another workload\'s SPIFFE ID is refused with PERMISSION_DENIED', (t) => {
  t.like(alice.bob!.error, { grpcCode: grpc.status.PERMISSION_DENIED, code: 'ERR_OAUTH_INVALID_CLIENT' });
  t.regex(alice.bob!.error!.message, /spiffe:\/\/example\.org\/bob is not an identity of this caller/);
});

test.serial('e2e: a process with no identity is refused with PERMISSION_DENIED', (t) => {
  t.like(nobody.none!.error, { grpcCode: grpc.status.PERMISSION_DENIED, code: 'ERR_OAUTH_INVALID_CLIENT' });
});

test.serial('e2e: the authorization server\'s refusals surface with their OAuth code and description', (t) => {
  t.like(alice.scope!.error, { grpcCode: grpc.status.INVALID_ARGUMENT, code: 'ERR_OAUTH_INVALID_SCOPE', oauthError: 'invalid_scope' });
  t.regex(alice.scope!.error!.description!, /files:write/);
  t.like(alice.target!.error, { grpcCode: grpc.status.INVALID_ARGUMENT, code: 'ERR_OAUTH_INVALID_TARGET', oauthError: 'invalid_target' });
  t.regex(alice.target!.error!.description!, /evil\.example\.org/);
  t.like(alice.policy!.error, { grpcCode: grpc.status.PERMISSION_DENIED, code: 'ERR_OAUTH_UNAUTHORIZED_CLIENT', oauthError: 'unauthorized_client' });
  t.like(alice.forged!.error, { grpcCode: grpc.status.INVALID_ARGUMENT, code: 'ERR_OAUTH_INVALID_REQUEST', oauthError: 'invalid_request' });
});

test.serial('e2e: the agent logs each exchange with caller and actor, never a token', (t) => {
  const lines = agent.proc.stderr().split('\n').filter((l) => l.includes('"msg":"token exchange"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(lines.find((l) => l.outcome === 'issued'), { actor: ALICE_AGENT, uid: ALICE.uid, audience: [TOOLS], scope: 'files:read' });
  t.like(lines.find((l) => l.oauth_error === 'invalid_scope'), { outcome: 'refused', actor: ALICE_AGENT, uid: ALICE.uid });
  t.false(agent.proc.stderr().includes(aliceToken), 'subject token not logged');
  t.false(agent.proc.stderr().includes(alice.ok!.result!.accessToken as string), 'issued token not logged');
});
