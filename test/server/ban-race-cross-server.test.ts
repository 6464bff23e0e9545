import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { agentId, TrustDomain } from '../../spiffe/id.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { PostgresDatastore } from '../../server/datastore/postgres.ts';
import type { Datastore } from '../../server/datastore/types.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner, type SignedX509, type X509SignRequest } from '../../server/ca/signer.ts';
import { AgentAuthenticator } from '../../server/api/authn.ts';
import { agentServiceHandlers } from '../../server/api/agent-service.ts';
import { adminHandlers } from '../../server/api/admin-service.ts';
import { attestAgent, type AttestationDeps } from '../../server/attestation/orchestrator.ts';
import { newCsr, postgresTestDatabase } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { within } from '../helpers/wait.ts';
import { callUnary, Hold } from '../helpers/in-process.ts';

/**
 * Two servers, A and B, on one database (a SQLite file, and PostgreSQL): a ban, an
 * eviction, a renewal or a first-use attestation committed through B while A is between
 * signing an agent SVID and writing the agent record. B's admin and agent handlers have
 * their own per-agent lock, as a separate process has, so nothing but the datastore
 * orders the two: A's write must find its condition false, A must answer with a refusal
 * and no SVID, and the record must stay as B left it.
 *
 * Agent SVIDs are signed synchronously (SvidSigner.signX509), so nothing can commit
 * inside the signature: A is held after it, at the start of its write of the agent
 * record (whichever store call makes it), and the signer counts what it signed so the
 * test knows the hold came after signing. Handlers are driven directly with a call
 * object presenting the agent's SVID, as in ban-race-signing.test.ts.
 */
const td = TrustDomain.parse('example.org');
const AGENT_WRITES = new Set<PropertyKey>(['renewAgent', 'recordAttestedAgent', 'upsertAgent']);

/** The store, except that every write of an agent record waits at its start while `hold` is armed. */
function holdingAgentWrites(store: Datastore, hold: Hold): Datastore {
  return new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      return AGENT_WRITES.has(prop) ? async (...args: unknown[]) => { await hold.pass(); return fn(...args); } : fn;
    },
  });
}

class CountingSigner extends SvidSigner {
  signed = 0;
  override signX509(r: X509SignRequest): SignedX509 { this.signed++; return super.signX509(r); }
}

const recorder: NodeAttestorServer = {
  method: 'fake_rec',
  async attest(payload, ctx) {
    return { agentId: agentId(ctx.trustDomain, 'fake_rec', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: false };
  },
};
const tofu: NodeAttestorServer = {
  method: 'fake_tofu',
  async attest(payload, ctx) {
    return { agentId: agentId(ctx.trustDomain, 'fake_tofu', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: true };
  },
};

type Engine = 'sqlite' | 'postgres';

/** Two store objects (own connections) on one fresh database. */
async function twoStores(t: ExecutionContext, engine: Engine): Promise<[Datastore, Datastore]> {
  if (engine === 'sqlite') {
    const path = join(tempDir(t), 'db.sqlite3');
    const a = SqliteDatastore.open({ path });
    const b = SqliteDatastore.open({ path });
    t.teardown(async () => { await a.close(); await b.close(); });
    return [a, b];
  }
  const url = await postgresTestDatabase(t);
  if (!url) throw new Error('PostgreSQL at 127.0.0.1:5432 is not reachable');
  const a = await PostgresDatastore.open({ connectionString: url, logger: silentLogger, maxConnections: 4 });
  const b = await PostgresDatastore.open({ connectionString: url, logger: silentLogger, maxConnections: 4 });
  t.teardown(async () => { await a.close(); await b.close(); });
  return [a, b];
}

/** One server's handlers over `store`, with its own per-agent lock and signer. */
async function server(t: ExecutionContext, store: Datastore, ca: CaManager) {
  const clock = systemClock;
  const logger = silentLogger;
  const signer = new CountingSigner(ca, clock);
  const index = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger });
  t.teardown(() => index.close());
  const authn = new AgentAuthenticator({ ca, store, clock });
  const attestation: AttestationDeps = {
    trustDomain: td, methods: new Map([[recorder.method, recorder], [tofu.method, tofu]]), store, signer, clock, logger,
    agentSvidTtlSeconds: 600, exclusive: (id, fn) => authn.exclusive(id, fn),
  };
  const agent = agentServiceHandlers({
    trustDomain: td, ca, signer, store, view: index, authn, clock, logger, attestation,
    x509SvidTtlSeconds: 3600, jwtSvidTtlSeconds: 300, agentSvidTtlSeconds: 600,
  });
  const admin = adminHandlers({ trustDomain: td, store, ca, authn, clock, logger, joinTokenTtlSeconds: 600 });
  return { store, signer, attestation, agent, admin };
}

async function harness(t: ExecutionContext, engine: Engine) {
  const [storeA, storeB] = await twoStores(t, engine);
  const ca = await CaManager.open({ trustDomain: td, dir: join(tempDir(t), 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store: storeA, clock: systemClock, logger: silentLogger });
  const hold = new Hold();
  t.teardown(() => hold.release());
  const a = await server(t, holdingAgentWrites(storeA, hold), ca);
  const b = await server(t, storeB, ca);
  return { a, b, hold };
}
type Harness = Awaited<ReturnType<typeof harness>>;

async function attest(deps: AttestationDeps, method: string, name: string) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return attestAgent(deps, { method, payload: Buffer.from(name), csr: await createCsr(key.privateKey, key.publicKey) }, { challenge: async () => new Uint8Array() });
}

/** A handler's refusal carries a gRPC status code and details; the orchestrator's, a TesseraError code and message. */
type Refusal = Error & { code: number | string; details?: string };
type Answer<T> = { ok: T } | { err: Refusal };
const settle = <T>(p: Promise<T>): Promise<Answer<T>> => p.then((ok) => ({ ok }), (err: unknown) => ({ err: err as Refusal }));
const said = (o: Answer<unknown>) =>
  ('err' in o ? `refused: ${typeof o.err.code === 'number' ? grpc.status[o.err.code] : o.err.code} ${o.err.message}` : 'answered OK');

/**
 * Starts `call` on A with A's agent-record write held, checks it signed before the hold,
 * runs `onB` (server B) meanwhile, then lets A go and returns what A answered.
 */
async function raceOnA<T>(t: ExecutionContext, h: Harness, what: string, call: () => Promise<T>, onB: () => Promise<unknown>): Promise<Answer<T>> {
  const signedBefore = h.a.signer.signed;
  h.hold.arm();
  const answer = settle(call());
  const held = await within(Promise.race([h.hold.reached.then(() => true), answer.then(() => false)]), `${what} on A to reach its write, or to answer`);
  if (!held) t.fail(`${what} on A answered without writing the agent record: ${said(await answer)}`);
  t.is(h.a.signer.signed, signedBefore + 1, `${what} on A signed an agent SVID before its write`);
  await onB();
  h.hold.release();
  const out = await within(answer, `${what} on A to answer once let go`);
  t.log(`${what}: ${said(out)}`);
  return out;
}

const REFUSAL = {
  banned: /^agent spiffe:\/\/example\.org\/tessera\/agent\/fake_rec\/[a-z0-9-]+ is banned$/,
  evicted: /is not attested \(it was evicted or never attested\); attest again$/,
};

for (const engine of ['sqlite', 'postgres'] as const) {
  for (const write of ['BanAgent', 'EvictAgent'] as const) {
    test(`${engine}: ${write === 'BanAgent' ? 'a ban' : 'an eviction'} through server B while server A renews the agent wins: A returns no SVID and the record stays as B left it`, async (t) => {
      const h = await harness(t, engine);
      const agent = await attest(h.a.attestation, 'fake_rec', `renew-${write}`.toLowerCase());
      const id = agent.agentId.toString();
      const out = await raceOnA(t, h, 'RenewAgent',
        async () => callUnary<{ svid_chain: Buffer[] }>(h.a.agent.RenewAgent, { csr: (await newCsr()).csr }, agent.chain[0]),
        () => callUnary((h.b.admin.agent as unknown as Record<string, unknown>)[write], { spiffe_id: id }));
      t.false('ok' in out, 'A returned the SVID it signed');
      if ('err' in out) {
        t.is(out.err.code, grpc.status.PERMISSION_DENIED);
        t.regex(out.err.message, write === 'BanAgent' ? REFUSAL.banned : REFUSAL.evicted);
      }
      const now = await h.b.store.getAgent(id);
      if (write === 'BanAgent') t.like(now, { banned: true, serial: agent.serial }, 'the ban or the serial was overwritten');
      else t.is(now, undefined, 'the evicted agent was brought back');
      t.deepEqual(await h.b.store.listAudit({ subject: id, event: 'agent.renewed' }), []);
    });
  }

  test(`${engine}: held at its write and let go with nothing committed meanwhile, A's renewal succeeds`, async (t) => {
    const h = await harness(t, engine);
    const agent = await attest(h.a.attestation, 'fake_rec', 'renew-clean');
    const out = await raceOnA(t, h, 'RenewAgent',
      async () => callUnary<{ svid_chain: Buffer[] }>(h.a.agent.RenewAgent, { csr: (await newCsr()).csr }, agent.chain[0]), async () => undefined);
    t.true('ok' in out && out.ok.svid_chain.length > 0, said(out));
    t.like(await h.b.store.getAgent(agent.agentId.toString()), { previousSerial: agent.serial, banned: false });
  });

  test(`${engine}: two renewals with one SVID on A and B: B's commits first, A's is refused as retryable (FAILED_PRECONDITION), and a retry succeeds`, async (t) => {
    const h = await harness(t, engine);
    const agent = await attest(h.a.attestation, 'fake_rec', 'renew-twice');
    const id = agent.agentId.toString();
    let renewedOnB = '';
    const out = await raceOnA(t, h, 'RenewAgent',
      async () => callUnary<{ svid_chain: Buffer[] }>(h.a.agent.RenewAgent, { csr: (await newCsr()).csr }, agent.chain[0]),
      async () => { await callUnary(h.b.agent.RenewAgent, { csr: (await newCsr()).csr }, agent.chain[0]); renewedOnB = (await h.b.store.getAgent(id))!.serial; });
    t.false('ok' in out, 'both renewals returned an SVID');
    if ('err' in out) {
      t.is(out.err.code, grpc.status.FAILED_PRECONDITION);
      t.regex(out.err.message, /another renewal replaced serial [0-9a-f]+ with [0-9a-f]+ while this one was signed; retry the renewal$/);
    }
    t.like(await h.b.store.getAgent(id), { serial: renewedOnB, previousSerial: agent.serial });
    // The agent's SVID is now the previous one: a retry is accepted.
    const retry = await callUnary<{ svid_chain: Buffer[] }>(h.a.agent.RenewAgent, { csr: (await newCsr()).csr }, agent.chain[0]);
    t.true(retry.svid_chain.length > 0);
  });

  test(`${engine}: a ban through server B while server A re-attests the agent wins: A's attestation is refused and the record keeps its serial`, async (t) => {
    const h = await harness(t, engine);
    const first = await attest(h.a.attestation, 'fake_rec', 'reattest-ban');
    const id = first.agentId.toString();
    const out = await raceOnA(t, h, 'attestation', () => attest(h.a.attestation, 'fake_rec', 'reattest-ban'),
      () => callUnary(h.b.admin.agent.BanAgent, { spiffe_id: id }));
    t.false('ok' in out, 'A re-attested a banned agent');
    if ('err' in out) {
      t.is(out.err.code, 'ERR_AGENT_BANNED');
      t.is(out.err.message, `agent ${id} is banned; an operator must evict it before it can attest again`);
    }
    t.like(await h.b.store.getAgent(id), { banned: true, serial: first.serial });
  });

  test(`${engine}: a first-use attestation through server B while server A attests the same ID: A is refused and B's record stands`, async (t) => {
    const h = await harness(t, engine);
    let onB = '';
    const out = await raceOnA(t, h, 'first-use attestation', () => attest(h.a.attestation, 'fake_tofu', 'tofu-race'),
      async () => { onB = (await attest(h.b.attestation, 'fake_tofu', 'tofu-race')).serial; });
    t.false('ok' in out, 'both servers attested one trust-on-first-use ID');
    if ('err' in out) t.is(out.err.code, 'ERR_AGENT_ALREADY_ATTESTED');
    t.like(await h.b.store.getAgent(agentId(td, 'fake_tofu', 'tofu-race').toString()), { serial: onB });
  });
}
