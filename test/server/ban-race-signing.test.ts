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
import type { Datastore } from '../../server/datastore/types.ts';
import { AuthorizedEntryIndex } from '../../server/entries/index.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner, type CsrSignRequest, type JwtMintRequest, type SignedX509 } from '../../server/ca/signer.ts';
import { AgentAuthenticator } from '../../server/api/authn.ts';
import { agentServiceHandlers } from '../../server/api/agent-service.ts';
import { adminHandlers } from '../../server/api/admin-service.ts';
import { attestAgent, type AttestationDeps } from '../../server/attestation/orchestrator.ts';
import { AuditLog } from '../../server/audit/log.ts';
import { generateSigner } from '../../server/audit/checkpoint.ts';
import { WitIssuer } from '../../server/wit/issuer.ts';
import { newCsr } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { until, within } from '../helpers/wait.ts';
import { callUnary, Hold } from '../helpers/in-process.ts';

/**
 * A ban or eviction that commits while an agent's SVIDs are being signed refuses the
 * whole call: nothing signed is returned, and the transparency log records no issuance.
 * Unlike test/faults/ban-race.test.ts (which holds the request in the network, before
 * the server has it), the call here is held inside the handler, between the TLS check
 * and the read of the agent record: the window an agent record read before signing
 * leaves open.
 *
 * X.509 and JWT-SVIDs: the signer holds each call at its start until the test lets it go.
 * WIT-SVIDs: WitIssuer.issue is synchronous (nothing can commit inside it) and built by
 * the agent service itself, so its prototype is wrapped to mark "issued", and the next
 * read of the agent record is held before it reaches the store. Handlers are driven
 * directly with a call object presenting the agent's SVID, as in security-inprocess.
 */
const td = TrustDomain.parse('example.org');

/** The server's signer, except that every X.509 signature and JWT mint waits at its start while `hold` is armed. */
class HeldSigner extends SvidSigner {
  readonly hold = new Hold();
  override async signCsr(r: CsrSignRequest): Promise<SignedX509> { await this.hold.pass(); return super.signCsr(r); }
  override async mintJwt(r: JwtMintRequest): Promise<{ token: string; expiresAt: number }> { await this.hold.pass(); return super.mintJwt(r); }
}

/** Called when a WIT-SVID is issued for the entry SPIFFE ID it is keyed by (this test file's process only). */
const onWitIssue = new Map<string, () => void>();
const realIssue = WitIssuer.prototype.issue;
WitIssuer.prototype.issue = function issue(this: WitIssuer, r: Parameters<WitIssuer['issue']>[0]) {
  onWitIssue.get(r.spiffeId.toString())?.();
  return realIssue.call(this, r);
};

const recorder: NodeAttestorServer = {
  method: 'fake_rec',
  async attest(payload, ctx) {
    return { agentId: agentId(ctx.trustDomain, 'fake_rec', Buffer.from(payload).toString()), selectors: [], trustOnFirstUse: false };
  },
};

async function harness(t: ExecutionContext, o: { indexFallback?: boolean } = {}) {
  const dir = tempDir(t);
  const clock = systemClock;
  const logger = silentLogger;
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store, clock, logger });
  const signer = new HeldSigner(ca, clock);
  const index = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger });
  // The authenticator's reads of agent records, held while `recordRead` is armed (the WIT-SVID case).
  const recordRead = new Hold();
  const authn = new AgentAuthenticator({ ca, store: { getAgent: async (id) => { await recordRead.pass(); return store.getAgent(id); } }, clock, ...(o.indexFallback ? { fallback: index } : {}) });
  const attestation: AttestationDeps = {
    trustDomain: td, methods: new Map([[recorder.method, recorder]]), store, signer: new SvidSigner(ca, clock), clock, logger,
    agentSvidTtlSeconds: 600, exclusive: (id, fn) => authn.exclusive(id, fn),
  };
  const signerKey = generateSigner('example.org/tessera/audit');
  const audit = new AuditLog({ store, signer: signerKey, origin: signerKey.name, clock, logger });
  const agent = agentServiceHandlers({
    trustDomain: td, ca, signer, store, view: index, authn, clock, logger, attestation, audit,
    x509SvidTtlSeconds: 3600, jwtSvidTtlSeconds: 300, agentSvidTtlSeconds: 600,
  });
  const admin = adminHandlers({ trustDomain: td, store, ca, authn, clock, logger, joinTokenTtlSeconds: 600 });
  t.teardown(async () => { signer.hold.release(); recordRead.release(); index.close(); await store.close(); });
  return { store, index, signer, recordRead, attestation, agent, admin };
}
type Harness = Awaited<ReturnType<typeof harness>>;

/** An attested agent with `entries` workload entries in its authorized set (in the index). */
async function agentWithEntries(h: Harness, name: string, entries: number) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const out = await attestAgent(h.attestation, {
    method: 'fake_rec', payload: Buffer.from(name), csr: await createCsr(key.privateKey, key.publicKey),
  }, { challenge: async () => new Uint8Array() });
  const id = out.agentId.toString();
  const created = await callUnary<{ results: { status: { code: number; message: string }; entry: { id: string; spiffe_id: string } | null }[] }>(
    h.admin.entry.BatchCreateEntry, {
      entries: Array.from({ length: entries }, (_, i) => ({
        spiffe_id: `spiffe://example.org/${name}/w${i}`, parent_id: id, selectors: [{ type: 'unix', value: 'uid:1' }],
        agent: { agent_model: 'm', agent_provider: 'p', agent_version: '1' },
      })),
    });
  const ids = created.results.map((r) => { if (!r.entry) throw new Error(r.status.message); return r.entry; });
  await until(() => ids.every((e) => h.index.isAuthorized(id, e.id)), `the entries of ${name} in the index`);
  return { id, leaf: out.chain[0]!, entries: ids };
}

type Rpc = 'BatchSignX509SVID' | 'MintJWTSVID' | 'MintWITSVID';
type Write = 'BanAgent' | 'EvictAgent' | 'none';
const INST = 'inst_AAAAAAAAAAAAAAAAAAAAAa';
const ISSUED: Record<Rpc, string> = { BatchSignX509SVID: 'x509svid.issued', MintJWTSVID: 'jwtsvid.issued', MintWITSVID: 'witsvid.issued' };

async function request(rpc: Rpc, entries: { id: string }[]): Promise<unknown> {
  if (rpc === 'BatchSignX509SVID') {
    return { params: await Promise.all(entries.map(async (e) => ({ entry_id: e.id, csr: (await newCsr()).csr, instance_id: INST }))) };
  }
  if (rpc === 'MintJWTSVID') return { entry_id: entries[0]!.id, audience: ['ban-race'], instance_id: INST };
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  return { entry_id: entries[0]!.id, public_key: spki, alg: 'ES256', instance_id: INST };
}

/**
 * Makes the call, holds it once signing has started, commits `write` for the calling agent
 * through the admin API while it is held, then lets it go. Returns what the call answered,
 * whether it was held at all, and the issuance events the log holds for the agent.
 */
async function raceSigning(t: ExecutionContext, rpc: Rpc, write: Write) {
  const h = await harness(t);
  const name = `${rpc}-${write}`.toLowerCase();
  const a = await agentWithEntries(h, name, rpc === 'BatchSignX509SVID' ? 2 : 1);
  const hold = rpc === 'MintWITSVID' ? h.recordRead : h.signer.hold;
  if (rpc === 'MintWITSVID') {
    onWitIssue.set(a.entries[0]!.spiffe_id, () => h.recordRead.arm());
    t.teardown(() => onWitIssue.delete(a.entries[0]!.spiffe_id));
  } else {
    h.signer.hold.arm();
  }
  const req = await request(rpc, a.entries);
  const answer = callUnary<Record<string, unknown>>((h.agent as unknown as Record<Rpc, unknown>)[rpc], req, a.leaf)
    .then((ok) => ({ ok }), (err: grpc.ServiceError) => ({ err }));
  const held = await within(Promise.race([hold.reached.then(() => true), answer.then(() => false)]),
    `${rpc} to be held after signing started, or to answer`);
  if (held && write !== 'none') await callUnary((h.admin.agent as unknown as Record<string, unknown>)[write], { spiffe_id: a.id });
  hold.release();
  const out = await within(answer, `${rpc} to answer once let go`);
  // Everything the call queued for the log is committed before the log is read.
  await h.store.logFlushed();
  const issued = (await h.store.queryLog({ actor: a.id })).filter((e) => /\.issued$/.test(e.type));
  t.log(`${rpc}, ${write} while held: ${held ? 'held' : 'never held'}; ${answered(out)}; issuance events: ${issued.map((e) => e.type).join(', ') || 'none'}`);
  return { h, a, held, out, issued };
}

/** What the call answered, in a line. */
function answered(out: { ok: Record<string, unknown> } | { err: grpc.ServiceError }): string {
  if ('err' in out) return `refused: ${grpc.status[out.err.code]} ${out.err.details}`;
  const results = out.ok.results as { status: { code: number } }[] | undefined;
  return results ? `OK, ${results.filter((r) => r.status.code === 0).length} of ${results.length} X.509-SVIDs signed` : 'OK, a token';
}

const REFUSAL: Record<Exclude<Write, 'none'>, RegExp> = {
  BanAgent: /^agent spiffe:\/\/example\.org\/tessera\/agent\/fake_rec\/[a-z0-9-]+ is banned$/,
  EvictAgent: /is not attested \(it was evicted or never attested\); attest again$/,
};

for (const rpc of ['BatchSignX509SVID', 'MintJWTSVID', 'MintWITSVID'] as const) {
  for (const write of ['BanAgent', 'EvictAgent'] as const) {
    test(`${rpc}: ${write === 'BanAgent' ? 'a ban' : 'an eviction'} committed while signing refuses the whole call; nothing is returned or logged as issued`, async (t) => {
      const { h, a, held, out, issued } = await raceSigning(t, rpc, write);
      t.true(held, `${rpc} answered without reaching the hold (signing under way; for WIT-SVIDs, the agent record read after issuing)`);
      t.false('ok' in out, `${rpc} returned what it signed (${answered(out)})`);
      if ('err' in out) {
        t.is(out.err.code, grpc.status.PERMISSION_DENIED);
        t.regex(out.err.details, REFUSAL[write]);
      }
      t.deepEqual(issued.map((e) => `${e.type}@${e.index}`), [], `no ${ISSUED[rpc]} event for ${a.id}`);
      // The ban or eviction went through the admin API, audit row included: it was not skipped.
      const rows = await h.store.listAudit({ subject: a.id, event: write === 'BanAgent' ? 'agent.banned' : 'agent.evicted' });
      t.is(rows.length, 1);
    });
  }

  test(`${rpc}: held while signing and let go with no ban, the call succeeds and is logged as issued`, async (t) => {
    // Whether it was held is the race tests' to assert: this one is about the hold letting a clean call through.
    const { a, out, issued } = await raceSigning(t, rpc, 'none');
    t.true('ok' in out, answered(out));
    if ('ok' in out) {
      if (rpc === 'BatchSignX509SVID') {
        const results = out.ok.results as { status: { code: number }; cert_chain: Buffer[] }[];
        t.is(results.length, 2);
        for (const r of results) { t.is(r.status.code, 0); t.true(r.cert_chain.length > 0); }
      } else {
        t.true(typeof out.ok.token === 'string' && out.ok.token.length > 0);
      }
    }
    t.deepEqual(issued.map((e) => e.type), Array(a.entries.length).fill(ISSUED[rpc]));
  });
}

test('an agent the entry index already knows to be banned is refused before anything is signed', async (t) => {
  const h = await harness(t, { indexFallback: true });
  const a = await agentWithEntries(h, 'banned-before', 2);
  await callUnary((h.admin.agent as unknown as Record<string, unknown>).BanAgent, { spiffe_id: a.id });
  await within((async () => { while (!h.index.getAgent(a.id)?.banned) await new Promise((r) => setImmediate(r)); })(), 'the index to see the ban');
  h.signer.hold.arm();
  let signed = false;
  void h.signer.hold.reached.then(() => { signed = true; });
  const err = await t.throwsAsync(callUnary((h.agent as unknown as Record<Rpc, unknown>).BatchSignX509SVID, await request('BatchSignX509SVID', a.entries), a.leaf));
  t.is((err as { code?: number }).code, grpc.status.PERMISSION_DENIED);
  t.regex(err!.message, REFUSAL.BanAgent);
  await new Promise((r) => setImmediate(r));
  t.false(signed, 'the signer was never called: a banned agent spends no signing time');
});
