import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { loadAgentProto } from '../../common/proto.ts';
import { agentId, SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { makeSelector } from '../../spiffe/selector.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import type { Datastore } from '../../server/datastore/types.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { derToPem } from '../../spiffe/pem.ts';
import { AgentAuthenticator } from '../../server/api/authn.ts';
import { agentServiceHandlers, type AgentServiceDeps } from '../../server/api/agent-service.ts';
import { adminHandlers } from '../../server/api/admin-service.ts';
import { ServerSvidProvider } from '../../server/api/server-credentials.ts';
import { attestAgent, type AttestationDeps } from '../../server/attestation/orchestrator.ts';
import type { AttestResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/AttestResponse.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';
import { attest, newCsr, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until, within } from '../helpers/wait.ts';
import { callUnary } from '../helpers/in-process.ts';

/**
 * Adversarial tests of the agent API built in-process (real TLS gRPC server, real
 * SQLite, fake attestation methods), where limits, deadlines and the clock can be
 * set small, and handlers can be driven directly to widen race windows.
 */
const td = TrustDomain.parse('example.org');

/** Records what reached it; never challenges. */
const calls: Uint8Array[] = [];
const recorder: NodeAttestorServer = {
  method: 'fake_rec',
  async attest(payload, ctx) {
    calls.push(payload);
    return { agentId: agentId(ctx.trustDomain, 'fake_rec', Buffer.from(payload.subarray(0, 16)).toString('hex') || 'x'), selectors: [], trustOnFirstUse: false };
  },
};
/** One challenge; echoes the answer's length into the ID. Not TOFU: re-attests freely. */
const echo: NodeAttestorServer = {
  method: 'fake_echo',
  async attest(payload, ctx) {
    await ctx.challenge(Uint8Array.of(1));
    return { agentId: agentId(ctx.trustDomain, 'fake_echo', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: false };
  },
};
/**
 * Racing attempts of the tofu tests, by payload: each waits inside the method until all
 * of its race have arrived, then all leave at once (one promise) and meet at the record check.
 */
const tofuRaces = new Map<string, ReturnType<typeof race>>();
function race(runners: number) {
  let go!: () => void;
  const all = new Promise<void>((r) => { go = r; });
  let arrived = 0;
  return { arrive: () => { if (++arrived === runners) go(); return within(all, `all ${runners} racing attempts inside the method`); } };
}
/** Trust on first use; racing attempts (see tofuRaces) overlap. */
const tofu: NodeAttestorServer = {
  method: 'fake_tofu',
  async attest(payload, ctx) {
    await tofuRaces.get(Buffer.from(payload).toString())?.arrive();
    return { agentId: agentId(ctx.trustDomain, 'fake_tofu', Buffer.from(payload).toString()), selectors: [makeSelector('fake', 'x')], trustOnFirstUse: true };
  },
};
/** Attempts held inside fake_slow, by payload, until the test lets them go. */
const held = new Map<string, (() => void)[]>();
const heldCount = (payload: string) => held.get(payload)?.length ?? 0;
const letGo = (payload: string) => { for (const go of held.get(payload) ?? []) go(); held.delete(payload); };
/** Stalls (holding its stream and attestation slot) until letGo(payload) or the stream is abandoned. */
const slow: NodeAttestorServer = {
  method: 'fake_slow',
  async attest(payload, ctx) {
    const key = Buffer.from(payload).toString();
    await new Promise<void>((resolve, reject) => {
      held.set(key, [...(held.get(key) ?? []), resolve]);
      ctx.signal?.addEventListener('abort', () => reject(new Error('attestation abandoned')), { once: true });
    });
    return { agentId: agentId(ctx.trustDomain, 'fake_slow', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: false };
  },
};
/** Rejects with something that is not an Error. */
const weird: NodeAttestorServer = {
  method: 'fake_weird',
  // eslint-disable-next-line prefer-promise-reject-errors
  attest: () => Promise.reject(undefined),
};

interface Harness {
  srv: TestServer;
  store: Datastore;
  ca: CaManager;
  clock: Clock;
  signer: SvidSigner;
  authn: AgentAuthenticator;
  agent: ReturnType<typeof agentServiceHandlers>;
  admin: ReturnType<typeof adminHandlers>;
  attestation: AttestationDeps;
}

/** `serve`: run the TLS gRPC server (default: only on the system clock; a FakeClock test that needs it says so). */
async function harness(t: ExecutionContext, o: { clock?: Clock; store?: (s: Datastore) => Datastore; deps?: Partial<AgentServiceDeps>; agentTtl?: number; serve?: boolean } = {}): Promise<Harness> {
  const dir = tempDir(t);
  const clock = o.clock ?? systemClock;
  const logger = silentLogger;
  const real = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  const store = o.store ? o.store(real) : real;
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store, clock, logger });
  const signer = new SvidSigner(ca, clock);
  const index = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger });
  const authn = new AgentAuthenticator({ ca, store, clock });
  const methods = new Map([recorder, echo, tofu, slow, weird].map((m) => [m.method, m]));
  const attestation: AttestationDeps = {
    trustDomain: td, methods, store, signer, clock, logger, agentSvidTtlSeconds: o.agentTtl ?? 600, exclusive: (id, fn) => authn.exclusive(id, fn),
  };
  // Challenge answers get the default deadline (60 s) and the params message 120 s: only
  // the tests about these deadlines set them short, and a loaded client can take seconds
  // to send a 1 MiB message.
  const agent = agentServiceHandlers({
    trustDomain: td, ca, signer, store, view: index, authn, clock, logger, attestation,
    x509SvidTtlSeconds: 3600, jwtSvidTtlSeconds: 300, agentSvidTtlSeconds: o.agentTtl ?? 600, firstMessageTimeoutMs: 120_000, ...o.deps,
  });
  const admin = adminHandlers({ trustDomain: td, store, ca, authn, clock, logger, joinTokenTtlSeconds: 600 });
  let srv = { trustDomain: 'example.org', bundlePem: ca.x509Authorities().map((c) => derToPem(c)).join('') } as TestServer;
  if (o.serve ?? clock === systemClock) {
    const svid = new ServerSvidProvider({ ca, signer, clock, logger, ttlSeconds: 3600, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const s = new grpc.Server();
    s.addService(loadAgentProto().tessera.v1.AgentService.service, agent);
    const port = await new Promise<number>((res, rej) => s.bindAsync('127.0.0.1:0', svid.credentials, (e, p) => (e ? rej(e) : res(p))));
    t.teardown(() => s.forceShutdown());
    srv = { ...srv, agentAddress: `127.0.0.1:${port}` };
  }
  t.teardown(async () => { index.close(); await real.close(); });
  return { srv, store, ca, clock, signer, authn, agent, admin, attestation };
}

function anonClient(srv: TestServer) {
  const P = loadAgentProto().tessera.v1.AgentService;
  return new P(srv.agentAddress, grpc.credentials.createSsl(Buffer.from(srv.bundlePem), null, null, { checkServerIdentity: () => undefined }),
    { 'grpc.ssl_target_name_override': 'localhost' });
}

/**
 * Opens a raw Attest stream; `send` drives it; resolves with the status error, or
 * 'timeout' if the server leaves the stream open (the bound is for that failure only).
 */
function rawAttest(t: ExecutionContext, srv: TestServer, send: (s: grpc.ClientDuplexStream<unknown, AttestResponse__Output>) => void, waitMs = 60_000) {
  const c = anonClient(srv);
  t.teardown(() => c.close());
  return new Promise<grpc.ServiceError | 'timeout'>((resolve) => {
    const s = c.Attest() as grpc.ClientDuplexStream<unknown, AttestResponse__Output>;
    const timer = setTimeout(() => { s.cancel(); resolve('timeout'); }, waitMs);
    s.on('error', (e) => { clearTimeout(timer); resolve(e as grpc.ServiceError); });
    s.on('data', (m: AttestResponse__Output) => { if (m.result) { clearTimeout(timer); s.end(); resolve({ code: grpc.status.OK, details: 'result' } as grpc.ServiceError); } });
    send(s);
  });
}

// ---------------------------------------------------------------- Attest stream

test('Attest: a client that half-closes before sending params gets INVALID_ARGUMENT at once', async (t) => {
  const { srv } = await harness(t);
  const e = await rawAttest(t, srv, (s) => s.end());
  t.not(e, 'timeout', 'the server left the stream open');
  t.is((e as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
});

test('Attest: a client that sends nothing is cut off at the first-message deadline', async (t) => {
  const { srv } = await harness(t, { deps: { firstMessageTimeoutMs: 300 } });
  const e = await rawAttest(t, srv, () => {});
  t.not(e, 'timeout', 'the server held the stream open');
  t.is((e as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
  t.regex((e as grpc.ServiceError).details, /no params message within 300 ms/);
});

test('Attest: a whole attestation is bounded by an overall deadline', async (t) => {
  // The method itself stalls (e.g. a remote key fetch that never answers).
  const { srv } = await harness(t, { deps: { attestTimeoutMs: 300 } });
  const { csr } = await newCsr();
  // fake_slow never returns unless let go: only the overall deadline can end this stream.
  const e = await rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_slow', payload: Buffer.from('stalls'), csr: Buffer.from(csr) } }));
  t.not(e, 'timeout');
  t.is((e as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
  t.regex((e as grpc.ServiceError).details, /did not complete within 300 ms/);
});

test('Attest: an oversize payload or CSR is refused before the method runs', async (t) => {
  const { srv } = await harness(t);
  const { csr } = await newCsr();
  const big = await rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_rec', payload: Buffer.alloc(1 << 20, 0x41), csr: Buffer.from(csr) } }));
  t.is((big as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex((big as grpc.ServiceError).details, /payload/);
  const bigCsr = await rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_rec', payload: Buffer.from('bigcsr-marker'), csr: Buffer.alloc(200_000, 0x30) } }));
  t.is((bigCsr as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex((bigCsr as grpc.ServiceError).details, /csr/);
  // (Other tests use the same method concurrently: look for these two payloads only.)
  t.false(calls.some((c) => c.length >= 1 << 20 || Buffer.from(c).toString() === 'bigcsr-marker'), 'the method ran');
});

test('Attest: an oversize challenge_response is refused', async (t) => {
  const { srv } = await harness(t);
  const { csr } = await newCsr();
  const e = await rawAttest(t, srv, (s) => {
    s.on('data', (m: AttestResponse__Output) => { if (m.challenge) s.write({ challenge_response: Buffer.alloc(1 << 20) }); });
    s.write({ params: { method: 'fake_echo', payload: Buffer.from('big-answer'), csr: Buffer.from(csr) } });
  });
  t.is((e as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  t.regex((e as grpc.ServiceError).details, /challenge_response/);
});

test('Attest: a huge or odd method name is neither echoed back nor written to the audit log in full', async (t) => {
  const { srv, store } = await harness(t);
  const { csr } = await newCsr();
  const method = 'x'.repeat(500_000) + '\u001b[31m';
  const e = await rawAttest(t, srv, (s) => s.write({ params: { method, payload: Buffer.from('p'), csr: Buffer.from(csr) } })) as grpc.ServiceError;
  t.is(e.code, grpc.status.INVALID_ARGUMENT);
  t.true(e.details.length < 512, `details is ${e.details.length} characters`);
  const audit = await until(async () => { const rows = await store.listAudit({}); return rows.length > 0 && rows; }, 'the audit row of the refused attestation');
  for (const a of audit) t.true(JSON.stringify(a).length < 2048, `audit row of ${JSON.stringify(a).length} characters`);
});

test('Attest: concurrent attestations beyond the cap get RESOURCE_EXHAUSTED', async (t) => {
  const { srv } = await harness(t, { deps: { maxConcurrentAttestations: 2 } });
  const { csr } = await newCsr();
  const start = (i: number) => rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_slow', payload: Buffer.from(`cap-${i}`), csr: Buffer.from(csr) } }));
  const holding = [start(1), start(2)];
  // Both are inside the method, so both hold a slot.
  await until(() => heldCount('cap-1') + heldCount('cap-2') === 2, 'two attestations holding the two slots');
  const third = await start(3);
  t.is((third as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
  t.is(heldCount('cap-3'), 0, 'the refused attestation never reached the method');
  letGo('cap-1'); letGo('cap-2');
  for (const r of await Promise.all(holding)) t.is((r as grpc.ServiceError).code, grpc.status.OK, 'a held attestation completed once let go');
  // Slots are released when streams finish.
  const again = await rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_rec', payload: Buffer.from('after'), csr: Buffer.from(csr) } }));
  t.not((again as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
});

test('Attest: a method rejecting with a non-Error ends the stream with INTERNAL (no unhandled rejection)', async (t) => {
  const { srv } = await harness(t);
  const { csr } = await newCsr();
  const e = await rawAttest(t, srv, (s) => s.write({ params: { method: 'fake_weird', payload: Buffer.from('w'), csr: Buffer.from(csr) } })) as grpc.ServiceError;
  t.is(e.code, grpc.status.INTERNAL);
  t.is(e.details, 'internal error');
  // No wait needed for the "no unhandled rejection" half: the handler's promise chain
  // ends in the call that sent this status, so a rejection it left unhandled was
  // reported (and fails this ava run) before the status could reach the client.
});

test('Attest: two racing attestations of one trust-on-first-use ID: exactly one wins', async (t) => {
  const { srv } = await harness(t);
  tofuRaces.set('i-race', race(4));
  const results = await Promise.allSettled(Array.from({ length: 4 }, () => attest(srv, 'fake_tofu', Buffer.from('i-race'))));
  const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof attest>>> => r.status === 'fulfilled');
  for (const w of won) w.value.client.close();
  t.is(won.length, 1);
  for (const r of results) if (r.status === 'rejected') t.regex((r.reason as grpc.ServiceError).details, /already attested/);
});

test('orchestrator: racing trust-on-first-use attestations of one ID are serialized', async (t) => {
  // The three leave the method together (tofuRaces), so without serialization all three
  // read "not yet attested" before any of them writes the record.
  const { attestation } = await harness(t, { clock: new FakeClock(Date.now()) });
  const { csr } = await newCsr();
  const p = { method: 'fake_tofu', payload: Buffer.from('i-orch'), csr };
  tofuRaces.set('i-orch', race(3));
  const io = { challenge: async () => new Uint8Array() };
  const results = await Promise.allSettled([attestAgent(attestation, p, io), attestAgent(attestation, p, io), attestAgent(attestation, p, io)]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
});

// ---------------------------------------------------------------- renewal races

/**
 * A store that, once armed for one agent, holds that agent's k-th getAgent read (its
 * answer already read) until opened: the test acts inside the reader's read-modify-write
 * window, as a slow networked store lets a concurrent admin call do. It also keeps the
 * ban / eviction writes made through it.
 */
class ReadGate {
  holding = false;
  writes: Promise<unknown>[] = [];
  private armed: { id: string; k: number; reads: number } | undefined;
  private release: (() => void) | undefined;

  readonly wrap = (s: Datastore): Datastore => new Proxy(s, {
    get: (target, prop, recv) => {
      if (prop === 'getAgent') {
        return async (id: string) => {
          const a = await target.getAgent(id);
          const g = this.armed;
          if (g?.id === id && ++g.reads === g.k) {
            this.holding = true;
            await new Promise<void>((r) => { this.release = r; });
          }
          return a;
        };
      }
      if (prop === 'setAgentBanned' || prop === 'deleteAgent') {
        return (...args: unknown[]) => {
          const p = (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args);
          this.writes.push(p);
          return p;
        };
      }
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });

  arm(id: string, k: number): void { this.armed = { id, k, reads: 0 }; this.holding = false; this.writes = []; }

  open(): void { this.armed = undefined; this.holding = false; this.release?.(); this.release = undefined; }
}

/**
 * Runs an admin write (ban, eviction) inside each read-modify-write window of a
 * RenewAgent: for k = 1, 2, ... the renewal is held right after its k-th read of the
 * agent record, the admin call is made, and the renewal goes on once the admin write
 * has either finished or is waiting for the renewal (the per-agent lock), until a
 * renewal completes with fewer than k reads. `check` runs after each window.
 */
async function renewalRace(t: ExecutionContext, name: string, write: 'BanAgent' | 'EvictAgent', check: (h: Harness, id: string) => Promise<void>) {
  const gate = new ReadGate();
  const h = await harness(t, { store: gate.wrap });
  let windows = 0;
  for (let k = 1; ; k++) {
    const a = await attestDirect(h, `${name}-${k}`);
    const id = a.agentId.toString();
    gate.arm(id, k);
    const renewing = callUnary(h.agent.RenewAgent, { csr: (await newCsr()).csr }, a.chain[0]).then(() => 'renewed', (e: grpc.ServiceError) => `refused: ${e.details}`);
    const inWindow = await Promise.race([until(() => gate.holding, `RenewAgent's read #${k} of the record`), renewing.then(() => false)]);
    if (!inWindow) { gate.open(); t.log(`renewal reads the record ${k - 1} time(s): ${await renewing}`); break; }
    windows++;
    const writing = callUnary((h.admin.agent as unknown as Record<string, unknown>)[write], { spiffe_id: id });
    // Everything from the admin call to its store write runs in microtasks unless it
    // waits (for the lock): after one event-loop turn it has either reached the store
    // (then it finishes first) or is waiting for the renewal.
    await new Promise((r) => setImmediate(r));
    await Promise.all(gate.writes);
    gate.open();
    t.log(`${write} inside the window after read #${k}: renewal ${await renewing}`);
    await writing;
    await check(h, id);
  }
  t.true(windows >= 1, 'the renewal never read the agent record');
}

async function attestDirect(h: Harness, name: string) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { createCsr } = await import('../../spiffe/x509svid/csr.ts');
  const csr = await createCsr(key.privateKey, key.publicKey);
  const out = await attestAgent(h.attestation, { method: 'fake_rec', payload: Buffer.from(name), csr }, { challenge: async () => new Uint8Array() });
  return out;
}

test('RenewAgent racing BanAgent cannot undo the ban', async (t) => {
  await renewalRace(t, 'ban-race', 'BanAgent', async (h, id) => {
    t.true((await h.store.getAgent(id))?.banned, 'the ban was overwritten by the renewal');
  });
});

test('RenewAgent racing EvictAgent cannot bring the agent record back', async (t) => {
  await renewalRace(t, 'evict-race', 'EvictAgent', async (h, id) => {
    t.is(await h.store.getAgent(id), undefined, 'the evicted agent was resurrected by the renewal');
  });
});

test('re-attestation supersedes the SVID held before the last renewal', async (t) => {
  const h = await harness(t);
  const first = await attestDirect(h, 'reattest');
  const renewed = await callUnary<{ svid_chain: Buffer[] }>(h.agent.RenewAgent, { csr: (await newCsr()).csr }, first.chain[0]);
  t.truthy(renewed.svid_chain[0]);
  await attestDirect(h, 'reattest'); // same ID, new serial
  const e = await t.throwsAsync(callUnary(h.agent.GetBundle, {}, first.chain[0])) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /superseded/);
});

// ---------------------------------------------------------------- authentication rules

test('authn: an expired agent SVID is refused even if its serial is current', async (t) => {
  const clock = new FakeClock(Date.now());
  const h = await harness(t, { clock, agentTtl: 600 });
  const a = await attestDirect(h, 'expiry');
  await t.notThrowsAsync(callUnary(h.agent.GetBundle, {}, a.chain[0]));
  clock.advance(601_000);
  const e = await t.throwsAsync(callUnary(h.agent.GetBundle, {}, a.chain[0])) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /expired/);
});

test('authn: after a CA rotation, agent SVIDs from the old and the new CA both authenticate', async (t) => {
  const clock = new FakeClock(Date.now());
  const h = await harness(t, { clock, agentTtl: 3600 });
  const HOUR = 3_600_000;
  clock.advance(12 * HOUR + 1000); await h.ca.tick(); // prepare
  clock.advance(8 * HOUR); await h.ca.tick(); // activate
  const old = h.ca.slots().length;
  t.true(old >= 2);
  const onOld = await attestDirect(h, 'rot-old');
  await t.notThrowsAsync(callUnary(h.agent.GetBundle, {}, onOld.chain[0]));
  // An SVID signed by a CA that is not (or no longer) in the bundle is refused.
  const other = await CaManager.open({ trustDomain: td, dir: join(tempDir(t), 'ca2'), ttlSeconds: 86_400, refreshHintSeconds: 60, store: SqliteDatastore.open({ path: join(tempDir(t), 'x.sqlite3'), clock }), clock, logger: silentLogger });
  const forged = new SvidSigner(other, clock).signX509({ spiffeId: onOld.agentId, publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, ttlSeconds: 600 });
  const e = await t.throwsAsync(callUnary(h.agent.GetBundle, {}, forged.chain[0])) as grpc.ServiceError;
  t.is(e.code, grpc.status.PERMISSION_DENIED);
});

test('authn: a workload SVID from the same CA, a foreign trust domain and no certificate are all refused on every RPC', async (t) => {
  const h = await harness(t, { clock: new FakeClock(Date.now()) });
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const workload = h.signer.signX509({ spiffeId: SpiffeId.parse('spiffe://example.org/workload/w'), publicKey: pub, ttlSeconds: 600 }).chain[0]!;
  const foreign = h.signer.signX509({ spiffeId: SpiffeId.parse('spiffe://other.org/tessera/agent/join_token/x'), publicKey: pub, ttlSeconds: 600 }).chain[0]!;
  const rpcs: [string, unknown][] = [
    ['RenewAgent', { csr: (await newCsr()).csr }], ['BatchSignX509SVID', { params: [] }],
    ['MintJWTSVID', { entry_id: 'e', audience: ['a'] }], ['GetBundle', {}],
  ];
  for (const [rpc, req] of rpcs) {
    const h2 = (h.agent as unknown as Record<string, unknown>)[rpc];
    for (const [what, leaf, re] of [['workload', workload, /not an agent ID/], ['foreign', foreign, /rejected/], ['none', undefined, /no agent X\.509-SVID/]] as const) {
      const e = await t.throwsAsync(callUnary(h2, req, leaf)) as grpc.ServiceError;
      t.is(e.code, grpc.status.PERMISSION_DENIED, `${rpc} with ${what}`);
      t.regex(e.details, re, `${rpc} with ${what}`);
    }
  }
  t.true(new X509Certificate(workload).verify(new X509Certificate(h.ca.x509Authorities()[0]!).publicKey));
});

// ---------------------------------------------------------------- sync stream

function openSync(srv: TestServer, a: Awaited<ReturnType<typeof attest>>) {
  const s = a.client.SyncEntries({});
  const first = new Promise<SyncEntriesResponse__Output>((r) => s.once('data', r));
  const error = new Promise<grpc.ServiceError>((r) => s.on('error', (e) => r(e as grpc.ServiceError)));
  void srv;
  return { s, first, error };
}

test('SyncEntries: re-attestation (a new agent SVID) closes streams opened with the old one', async (t) => {
  const { srv } = await harness(t);
  const respond = () => Uint8Array.of(0);
  const a = await attest(srv, 'fake_echo', Buffer.from('sync-reattest'), { respond });
  t.teardown(() => a.client.close());
  const st = openSync(srv, a);
  await st.first;
  const b = await attest(srv, 'fake_echo', Buffer.from('sync-reattest'), { respond });
  t.teardown(() => b.client.close());
  const e = await within(st.error, 'the stream opened with the superseded SVID to end');
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /superseded/);
});

test('SyncEntries: a stream ends when the agent SVID it was opened with expires', async (t) => {
  // The server's clock is the test's: the SVID expires when the test moves time past it
  // (TLS itself checks real time, in which the SVID stays valid).
  const clock = new FakeClock(Date.now());
  const h = await harness(t, { clock, serve: true, agentTtl: 600 });
  const srv = h.srv;
  const a = await attest(srv, 'fake_echo', Buffer.from('sync-expiry'), { respond: () => Uint8Array.of(0) });
  t.teardown(() => a.client.close());
  const st = openSync(srv, a);
  await st.first;
  // Shortly before expiry the stream is still open: a new entry reaches it.
  clock.advance(590_000);
  const update = new Promise<SyncEntriesResponse__Output>((r) => st.s.on('data', (m: SyncEntriesResponse__Output) => { if (m.upserted.length > 0) r(m); }));
  const created = await callUnary<{ results: { status: { code: number; message: string } }[] }>(h.admin.entry.BatchCreateEntry, {
    entries: [{ spiffe_id: 'spiffe://example.org/sync-expiry/w', parent_id: a.id, selectors: [{ type: 'unix', value: 'uid:1' }] }],
  });
  t.is(created.results[0]!.status.code, 0, created.results[0]!.status.message);
  t.is((await within(Promise.race([update, st.error.then((e) => { throw e; })]), 'the new entry on the open stream')).upserted[0]!.spiffe_id, 'spiffe://example.org/sync-expiry/w');
  clock.advance(11_000);
  const e = await within(st.error, 'the stream opened with the now-expired SVID to end');
  t.is(e.code, grpc.status.PERMISSION_DENIED);
  t.regex(e.details, /expired/);
});

test('SyncEntries: one agent may hold only a few streams at once', async (t) => {
  const { srv } = await harness(t, { deps: { maxSyncStreamsPerAgent: 2 } });
  const a = await attest(srv, 'fake_echo', Buffer.from('sync-cap'), { respond: () => Uint8Array.of(0) });
  t.teardown(() => a.client.close());
  const s1 = openSync(srv, a); const s2 = openSync(srv, a);
  await Promise.all([s1.first, s2.first]);
  const s3 = openSync(srv, a);
  const e = await Promise.race([s3.error, s3.first.then(() => undefined)]);
  t.truthy(e, 'a third stream was served');
  t.is(e!.code, grpc.status.RESOURCE_EXHAUSTED);
  s1.s.cancel();
  // The slot comes back once the server has seen the cancel: until then a new stream is
  // refused the same way; anything else fails at once.
  const s4 = await until(async () => {
    const s = openSync(srv, a);
    const r = await Promise.race([s.first.then(() => 'served' as const), s.error]);
    if (r === 'served') return s;
    if (r.code !== grpc.status.RESOURCE_EXHAUSTED) throw r;
    return false;
  }, 'a stream served in the slot the cancelled one released');
  t.pass('a fourth stream was served after one was cancelled');
  s2.s.cancel(); s4.s.cancel();
});
