import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { AttestationError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { loadAgentProto } from '../../common/proto.ts';
import { agentId, TrustDomain } from '../../spiffe/id.ts';
import { makeSelector } from '../../spiffe/selector.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { derToPem } from '../../spiffe/pem.ts';
import { AgentAuthenticator } from '../../server/api/authn.ts';
import { agentServiceHandlers } from '../../server/api/agent-service.ts';
import { ServerSvidProvider } from '../../server/api/server-credentials.ts';
import { attest, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * The Attest stream's challenge/response plumbing, over a real TLS gRPC server built
 * in-process with a fake challenge method (the real methods ship their own e2e tests).
 */
const td = TrustDomain.parse('example.org');
const nonces = [Uint8Array.of(1, 2, 3), Uint8Array.of(9, 8)];
const echo: NodeAttestorServer = {
  method: 'fake_echo',
  async attest(payload, ctx) {
    for (const n of nonces) {
      const answer = await ctx.challenge(n);
      if (Buffer.compare(Buffer.from(answer), Buffer.from([...n].reverse())) !== 0) {
        throw new AttestationError('permission_denied', 'ERR_FAKE_ECHO', 'challenge answered wrongly');
      }
    }
    return { agentId: agentId(ctx.trustDomain, 'fake_echo', Buffer.from(payload).toString()), selectors: [makeSelector('fake_echo', 'ok')], trustOnFirstUse: false };
  },
};

/**
 * Never challenges, and never finishes until its stream is abandoned: any
 * challenge_response sent to it is unsolicited, and the stream can only end on it.
 */
const quiet: NodeAttestorServer = {
  method: 'fake_quiet',
  async attest(payload, ctx) {
    await new Promise((_, reject) => ctx.signal?.addEventListener('abort', () => reject(new Error('attestation abandoned')), { once: true }));
    return { agentId: agentId(ctx.trustDomain, 'fake_quiet', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: false };
  },
};

/** challengeTimeoutMs: short only where the answer never comes; answered challenges get a bound for a stuck client. */
async function server(t: ExecutionContext, challengeTimeoutMs = 60_000): Promise<TestServer> {
  const dir = tempDir(t);
  const clock = systemClock;
  const logger = silentLogger;
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store, clock, logger });
  const signer = new SvidSigner(ca, clock);
  const index = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger });
  const authn = new AgentAuthenticator({ ca, store, clock });
  const svid = new ServerSvidProvider({ ca, signer, clock, logger, ttlSeconds: 3600, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const s = new grpc.Server();
  s.addService(loadAgentProto().tessera.v1.AgentService.service, agentServiceHandlers({
    trustDomain: td, ca, signer, store, view: index, authn, clock, logger,
    attestation: { trustDomain: td, methods: new Map([[echo.method, echo], [quiet.method, quiet]]), store, signer, clock, logger, agentSvidTtlSeconds: 600 },
    x509SvidTtlSeconds: 3600, jwtSvidTtlSeconds: 300, agentSvidTtlSeconds: 600, challengeTimeoutMs,
  }));
  const port = await new Promise<number>((res, rej) => s.bindAsync('127.0.0.1:0', svid.credentials, (e, p) => (e ? rej(e) : res(p))));
  t.teardown(async () => { s.forceShutdown(); index.close(); await store.close(); });
  return { agentAddress: `127.0.0.1:${port}`, trustDomain: 'example.org', bundlePem: ca.x509Authorities().map((c) => derToPem(c)).join('') } as TestServer;
}

test('challenges reach the agent in order and the answers reach the method; success yields the agent SVID', async (t) => {
  const srv = await server(t);
  const seen: number[][] = [];
  const a = await attest(srv, 'fake_echo', Buffer.from('host-1'), { respond: (c) => { seen.push([...c]); return Uint8Array.from([...c].reverse()); } });
  a.client.close();
  t.deepEqual(seen, nonces.map((n) => [...n]));
  t.is(a.id, 'spiffe://example.org/tessera/agent/fake_echo/host-1');
  t.deepEqual(a.selectors, [{ type: 'fake_echo', value: 'ok' }]);
});

test('a wrong challenge answer ends the stream with the method\'s status and message', async (t) => {
  const srv = await server(t);
  const e = await t.throwsAsync(attest(srv, 'fake_echo', Buffer.from('host-2'), { respond: (c) => c })) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.is(e.details, 'challenge answered wrongly');
  t.is(e.metadata.get('tessera-error-code')[0], 'ERR_FAKE_ECHO');
});

test('an unanswered challenge times out with DEADLINE_EXCEEDED', async (t) => {
  const srv = await server(t, 500);
  const e = await t.throwsAsync(attest(srv, 'fake_echo', Buffer.from('host-3'), { respond: () => new Promise(() => {}) })) as grpc.ServiceError;
  t.is(e.code, grpc.status.DEADLINE_EXCEEDED);
});

test('a first message that is not params is InvalidArgument', async (t) => {
  const srv = await server(t);
  const P = loadAgentProto().tessera.v1.AgentService;
  const c = new P(srv.agentAddress, grpc.credentials.createSsl(Buffer.from(srv.bundlePem), null, null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'localhost' });
  t.teardown(() => c.close());
  const e = await new Promise<grpc.ServiceError>((resolve) => {
    const s = c.Attest();
    s.on('error', resolve);
    s.on('data', () => {});
    s.write({ challenge_response: Buffer.from([1]) });
  });
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.regex(e.details, /first attestation message must be params/);
});

test('a challenge_response without an outstanding challenge is InvalidArgument', async (t) => {
  const srv = await server(t);
  const P = loadAgentProto().tessera.v1.AgentService;
  const c = new P(srv.agentAddress, grpc.credentials.createSsl(Buffer.from(srv.bundlePem), null, null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'localhost' });
  t.teardown(() => c.close());
  const { newCsr } = await import('../helpers/server.ts');
  const { csr } = await newCsr();
  const e = await new Promise<grpc.ServiceError>((resolve) => {
    const s = c.Attest();
    s.on('error', resolve);
    s.on('data', () => {});
    s.write({ params: { method: 'fake_quiet', payload: Buffer.from('h'), csr: Buffer.from(csr) } });
    s.write({ challenge_response: Buffer.from([3, 2, 1]) });
  });
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.regex(e.details, /without an outstanding challenge/);
});
