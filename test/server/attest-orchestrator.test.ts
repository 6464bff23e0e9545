import test, { type ExecutionContext } from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock } from '../../common/clock.ts';
import { AttestationError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { agentId, TrustDomain } from '../../spiffe/id.ts';
import { makeSelector } from '../../spiffe/selector.ts';
import { createCsr } from '../../spiffe/x509svid/csr.ts';
import type { NodeAttestorServer } from '../../attestors/node/types.ts';
import { createJoinTokenAttestor } from '../../attestors/node/join_token/server.ts';
import { createJoinTokenAgent } from '../../attestors/node/join_token/agent.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { CaManager } from '../../server/ca/manager.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import { attestAgent } from '../../server/attestation/orchestrator.ts';
import { tempDir } from '../helpers/tmp.ts';

const td = TrustDomain.parse('example.org');

/** A trust-on-first-use method (like the cloud ones): the payload is the instance id. */
const tofu: NodeAttestorServer = {
  method: 'fake_tofu',
  async attest(payload, ctx) {
    return { agentId: agentId(ctx.trustDomain, 'fake_tofu', Buffer.from(payload).toString()), selectors: [makeSelector('fake', 'x')], trustOnFirstUse: true };
  },
};

/** A challenge/response method: two rounds, the agent must echo each nonce reversed. */
const echo: NodeAttestorServer = {
  method: 'fake_echo',
  async attest(_payload, ctx) {
    for (const nonce of [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)]) {
      const answer = await ctx.challenge(nonce);
      if (Buffer.compare(Buffer.from(answer), Buffer.from([...nonce].reverse())) !== 0) {
        throw new AttestationError('permission_denied', 'ERR_FAKE_ECHO', 'wrong challenge answer');
      }
    }
    return { agentId: agentId(ctx.trustDomain, 'fake_echo', 'host1'), selectors: [], trustOnFirstUse: false };
  },
};

async function setup(t: ExecutionContext) {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const store = SqliteDatastore.open({ path: join(dir, 'db.sqlite3'), clock });
  t.teardown(() => store.close());
  const ca = await CaManager.open({ trustDomain: td, dir: join(dir, 'ca'), ttlSeconds: 86_400, refreshHintSeconds: 60, store, clock, logger: silentLogger });
  const signer = new SvidSigner(ca, clock);
  const methods = new Map<string, NodeAttestorServer>([[tofu.method, tofu], [echo.method, echo], ['join_token', createJoinTokenAttestor(store)]]);
  const deps = { trustDomain: td, methods, store, signer, clock, logger: silentLogger, agentSvidTtlSeconds: 3600 };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr(privateKey, publicKey);
  const noChallenge = { challenge: async () => { throw new Error('no challenge expected'); } };
  return { store, clock, deps, csr, noChallenge };
}

test('a trust-on-first-use method attests once; again only after eviction', async (t) => {
  const { store, deps, csr, noChallenge } = await setup(t);
  const p = { method: 'fake_tofu', payload: Buffer.from('i-123'), csr };
  const first = await attestAgent(deps, p, noChallenge);
  t.is(first.agentId.toString(), 'spiffe://example.org/tessera/agent/fake_tofu/i-123');
  const e = await t.throwsAsync(attestAgent(deps, p, noChallenge));
  t.is((e as { kind?: string }).kind, 'permission_denied');
  t.regex(e!.message, /already attested; evict it first/);
  await store.deleteAgent(first.agentId.toString());
  await t.notThrowsAsync(attestAgent(deps, p, noChallenge));
});

test('a banned agent may not re-attest, whatever the method', async (t) => {
  const { store, deps, csr } = await setup(t);
  const answer = { challenge: async (c: Uint8Array) => Uint8Array.from([...c].reverse()) };
  const p = { method: 'fake_echo', payload: new Uint8Array(), csr };
  const a = await attestAgent(deps, p, answer);
  await attestAgent(deps, p, answer); // not TOFU: re-attesting is allowed
  await store.setAgentBanned(a.agentId.toString(), true);
  const e = await t.throwsAsync(attestAgent(deps, p, answer));
  t.is((e as { kind?: string }).kind, 'permission_denied');
  t.regex(e!.message, /banned/);
});

test('challenge rounds reach the method in order and a wrong answer fails attestation', async (t) => {
  const { deps, csr } = await setup(t);
  const seen: number[][] = [];
  const ok = await attestAgent(deps, { method: 'fake_echo', payload: new Uint8Array(), csr }, {
    challenge: async (c) => { seen.push([...c]); return Uint8Array.from([...c].reverse()); },
  });
  t.deepEqual(seen, [[1, 2, 3], [4, 5]]);
  t.is(ok.chain.length, 1);
  const e = await t.throwsAsync(attestAgent(deps, { method: 'fake_echo', payload: new Uint8Array(), csr }, { challenge: async (c) => c }));
  t.is((e as { code?: string }).code, 'ERR_FAKE_ECHO');
});

test('the agent record holds the attested selectors, the SVID serial and expiry; an audit record is written', async (t) => {
  const { store, deps, csr, noChallenge, clock } = await setup(t);
  const out = await attestAgent(deps, { method: 'fake_tofu', payload: Buffer.from('i-9'), csr }, noChallenge);
  const rec = (await store.getAgent(out.agentId.toString()))!;
  t.is(rec.serial, out.serial);
  t.is(rec.attestationType, 'fake_tofu');
  t.deepEqual(rec.selectors.map((s) => `${s.type}:${s.value}`), ['fake:x']);
  t.is(rec.expiresAt, Math.floor(clock.now() / 1000) + 3600);
  const audit = await store.listAudit({ subject: out.agentId.toString() });
  t.is(audit[0]!.event, 'agent.attested');
});

test('join token: the agent half sends the configured token; the server half consumes it once', async (t) => {
  const { store, deps, csr, noChallenge, clock } = await setup(t);
  await store.createJoinToken({ token: 'abcdef0123456789', expiresAt: Math.floor(clock.now() / 1000) + 60 });
  const payload = await createJoinTokenAgent('abcdef0123456789').payload();
  const a = await attestAgent(deps, { method: 'join_token', payload, csr }, noChallenge);
  t.is(a.agentId.toString(), 'spiffe://example.org/tessera/agent/join_token/abcdef0123456789');
  const e = await t.throwsAsync(attestAgent(deps, { method: 'join_token', payload, csr }, noChallenge));
  t.is((e as { code?: string }).code, 'ERR_JOIN_TOKEN_UNKNOWN');
});

test('join token: an expired token is refused with its own code', async (t) => {
  const { store, deps, csr, noChallenge, clock } = await setup(t);
  await store.createJoinToken({ token: 'expiredtoken0001', expiresAt: Math.floor(clock.now() / 1000) + 60 });
  clock.advance(61_000);
  const e = await t.throwsAsync(attestAgent(deps, { method: 'join_token', payload: Buffer.from('expiredtoken0001'), csr }, noChallenge));
  t.is((e as { code?: string }).code, 'ERR_JOIN_TOKEN_EXPIRED');
});

test('join token: a malformed token is InvalidArgument', async (t) => {
  const { deps, csr, noChallenge } = await setup(t);
  const e = await t.throwsAsync(attestAgent(deps, { method: 'join_token', payload: Buffer.from('../etc'), csr }, noChallenge));
  t.is((e as { kind?: string }).kind, 'invalid_argument');
});
