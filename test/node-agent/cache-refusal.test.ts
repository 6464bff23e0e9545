import test, { type ExecutionContext } from 'ava';
import { FakeClock } from '../../common/clock.ts';
import { permissionDenied } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { makeRootCa } from '../helpers/pki.ts';
import { startSvidCache } from './svid-cache-fixture.ts';
import type { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { SignParams } from '../../node-agent/bootstrap/server-api.ts';
import type { AttestedWorkload, WorkloadX509Svid } from '../../node-agent/workload-api/provider.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';

/**
 * Rotations the server refuses (it answers, so this is no outage), as around a CA
 * change: the agent's own SVID is cut short and renewed back to back, and a
 * BatchSignX509SVID still made with an agent SVID two renewals old is refused as
 * superseded. A workload must never hold an expired SVID while a valid one could be
 * had: a refused SVID is retried before it expires, and at once when the cause may
 * have cleared (agent SVID renewed, entry sync reconnected).
 */

/**
 * A real signer (production leaf template, test CA) that refuses as the server does
 * when the agent's SVID was superseded, and tells listeners when the agent's
 * credentials change, as the agent's server channel does after a renewal.
 */
class Signer implements SvidSigner {
  calls = 0;
  refusals = 0;
  /** Lifetime of the next SVIDs (near a CA's end the server cuts them short). */
  ttlMs = 10_000;
  /** Calls before this clock time are refused. */
  refuseUntil = 0;
  /** Calls refused from now on, on top of refuseUntil. */
  refuseNext = 0;
  /** The agent SVID is renewed while a refused call is in flight (the channel moves on). */
  renewDuringRefusedCall = false;
  private readonly listeners = new Set<() => void>();
  constructor(private readonly issue: ReturnType<typeof createLeafIssuer>, private readonly clock: FakeClock) {}

  /** Whether a call made now would be signed. */
  get signs(): boolean { return this.refuseNext === 0 && this.clock.now() >= this.refuseUntil; }

  async batchSignX509Svids(params: SignParams[]) {
    this.calls++;
    if (!this.signs) {
      if (this.refuseNext > 0) this.refuseNext--;
      this.refusals++;
      if (this.renewDuringRefusedCall) this.renewAgentSvid();
      throw permissionDenied('ERR_AGENT_SVID_SUPERSEDED', 'BatchSignX509SVID: PERMISSION_DENIED: agent SVID serial 0a is not the current one (it was superseded)');
    }
    const notAfter = this.clock.now() + this.ttlMs;
    return params.map((p) => ({
      status: { code: 0, message: '' }, entry_id: p.entryId, expires_at: notAfter / 1000,
      cert_chain: [Buffer.from(this.issue({ spiffeId: SpiffeId.parse(`spiffe://example.org/${p.entryId}`), publicKey: parseCsr(p.csr).spki, notBefore: new Date(this.clock.now()), notAfter: new Date(notAfter) }))],
    }));
  }

  async mintJwtSvid(): Promise<{ token: string; expiresAt: number }> { throw new Error('not used'); }

  onCredentialsChange(l: () => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  /** The agent renewed its own SVID: the channel now carries the new one. */
  renewAgentSvid(): void { for (const l of this.listeners) l(); }
}

const entry: Entry__Output = {
  id: 'a', spiffe_id: 'spiffe://example.org/a', parent_id: 'spiffe://example.org/tessera/agent/join_token/x',
  selectors: [{ type: 'unix', value: 'uid:1' }], x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false,
  downstream: false, federates_with: [], expires_at: 0, revision: 1, agent: null, created_at: 1,
} as unknown as Entry__Output;

const workload: AttestedWorkload = { selectors: [parseSelector('unix:uid:1')], instanceId: 'inst_1', pid: process.pid, uid: 1, gid: 0 };

async function setup(t: ExecutionContext) {
  // Whole seconds: SVID lifetimes on the wire are in seconds.
  const start = Math.floor(Date.now() / 1000) * 1000;
  const clock = new FakeClock(start);
  const ca = await makeRootCa('example.org');
  const signer = new Signer(createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey }), clock);
  // Refusals are retried after 1, 2, 4 … s (the backoff's ceilings) unless something comes first.
  const c = startSvidCache(t, { signer, clock, ca, entries: [entry] });
  return { clock, signer, ...c, since: () => clock.now() - start };
}

/**
 * What an open FetchX509SVID stream holds: the caller's SVID as last pushed. Like the
 * agent's StreamHub, it reads the caller's SVIDs again only when told a new one was
 * published for it.
 */
async function openStream(cache: SvidCache): Promise<{ held(): Promise<WorkloadX509Svid> }> {
  let svid = (await cache.x509Svids(workload))[0]!;
  let told = false;
  cache.watchX509Svids(workload, () => { told = true; });
  return {
    async held() {
      if (told) { told = false; svid = (await cache.x509Svids(workload))[0]!; }
      return svid;
    },
  };
}

/**
 * Moves the clock in steps until `untilMs` after the start and returns every instant
 * (ms since the start) at which the stream held an expired SVID while the server would
 * have signed a new one.
 */
async function expiredWhileSignable(s: Awaited<ReturnType<typeof setup>>, stream: { held(): Promise<WorkloadX509Svid> }, stepMs: number, untilMs: number): Promise<number[]> {
  const bad: number[] = [];
  while (s.since() < untilMs) {
    await s.advance(stepMs);
    const held = await stream.held();
    if (held.expiresAt <= s.clock.now() && s.signer.signs) bad.push(s.since());
  }
  return bad;
}

test('a rotation refused again and again is retried before the SVID expires, so the stream never holds an expired SVID once the server signs again', async (t) => {
  const s = await setup(t);
  const stream = await openStream(s.cache);
  const first = await stream.held();
  // 10 s SVID, rotation due at 5 s. The server refuses until 9 s; its refusals alone
  // would be retried at 6, 8 and then 12 s: after the SVID expired at 10 s.
  s.signer.refuseUntil = s.clock.now() + 9_000;
  const bad = await expiredWhileSignable(s, stream, 250, 20_000);
  t.deepEqual(bad, [], `the stream held an expired SVID at these ms after the start: ${bad.join(', ')}`);
  t.true(s.signer.refusals >= 3, `${s.signer.refusals} refusals`);
  const now = await stream.held();
  t.not(Buffer.from(now.certChain[0]!).toString('hex'), Buffer.from(first.certChain[0]!).toString('hex'));
  t.true(s.logs.records.some((r) => String(r.msg).startsWith('SVID rotation refused')), 'the refusals were logged');
});

test('an SVID cut short and refused once just before it expires is replaced by its expiry, not a backoff step later', async (t) => {
  const s = await setup(t);
  // Near a CA's end: a 1 s SVID, rotation due at 0.5 s, refused once; the backoff's
  // first step (1 s) alone would retry at 1.5 s, after it expired.
  s.signer.ttlMs = 1_000;
  const stream = await openStream(s.cache);
  s.signer.ttlMs = 10_000; // the next CA signs full-length SVIDs
  s.signer.refuseNext = 1;
  const bad = await expiredWhileSignable(s, stream, 100, 3_000);
  t.deepEqual(bad, [], `the stream held an expired SVID at these ms after the start: ${bad.join(', ')}`);
  t.is(s.signer.refusals, 1);
  t.true((await stream.held()).expiresAt > s.clock.now());
});

test('a BatchSign refused because the agent SVID was renewed while it was in flight is retried at once, on the new credentials', async (t) => {
  const s = await setup(t);
  s.signer.ttlMs = 1_000;
  const stream = await openStream(s.cache);
  const first = await stream.held();
  s.signer.ttlMs = 10_000;
  s.signer.refuseNext = 1;
  s.signer.renewDuringRefusedCall = true;
  await s.advance(500); // rotation due: refused, the agent renewed meanwhile
  t.is(s.signer.refusals, 1);
  t.is(s.signer.calls, 3, 'first mint, the refused rotation, and its retry at once');
  const held = await stream.held();
  t.not(held.expiresAt, first.expiresAt, 'the stream got the new SVID at the time of the refusal');
  t.true(held.expiresAt > s.clock.now());
});

test('refused SVIDs are re-minted at once, without a clock move, when the agent SVID is renewed or the entry sync reconnects', async (t) => {
  for (const signal of ['agent SVID renewed', 'entry sync reconnected'] as const) {
    const s = await setup(t);
    const stream = await openStream(s.cache);
    const first = await stream.held();
    s.signer.refuseNext = 1;
    await s.advance(5_000); // rotation due at 5 s: refused, retry planned a backoff step later
    t.is(s.signer.refusals, 1, signal);
    const calls = s.signer.calls;
    if (signal === 'agent SVID renewed') s.signer.renewAgentSvid(); else s.cache.serverReachable();
    await s.settled();
    t.is(s.signer.calls, calls + 1, `${signal}: one retry at once`);
    const held = await stream.held();
    t.true(held.expiresAt > first.expiresAt, `${signal}: the stream got the new SVID`);
  }
});

test('a server that keeps refusing is not called more often near expiry: once the SVID expired, retries follow the backoff', async (t) => {
  const s = await setup(t);
  await openStream(s.cache);
  s.signer.refuseUntil = Infinity;
  for (let i = 0; i < 480; i++) await s.advance(250);
  // Refused at 5, 6 and 8 s (backoff 1, 2 s), at its last chances 9 and 10 s (it
  // expires at 10 s), then on the backoff: 26, 56, 86 and 116 s.
  t.true(s.signer.refusals >= 5 && s.signer.refusals <= 10, `${s.signer.refusals} refused rotation attempts in 120 s`);
  t.is(s.logs.records.filter((r) => String(r.msg).startsWith('SVID rotation refused')).length, s.signer.refusals);
});
