import test, { type ExecutionContext } from 'ava';
import { FakeClock } from '../../common/clock.ts';
import { unavailable } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseCsr } from '../../spiffe/x509svid/csr.ts';
import { createLeafIssuer } from '../../spiffe/x509svid/template.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { makeRootCa } from '../helpers/pki.ts';
import { startSvidCache } from './svid-cache-fixture.ts';
import type { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { SignParams } from '../../node-agent/bootstrap/server-api.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';

/**
 * The SVID cache while the server is unreachable and when it returns: one shared
 * retry schedule, and every new SVID reaching the streams that serve its identity.
 */

const TTL_MS = 100_000;

/** A real signer (production leaf template, test CA) that can be taken down; counts every call that reached it. */
class Signer implements SvidSigner {
  calls = 0;
  down = false;
  constructor(private readonly issue: ReturnType<typeof createLeafIssuer>, private readonly clock: FakeClock) {}
  async batchSignX509Svids(params: SignParams[]) {
    this.calls++;
    if (this.down) throw unavailable('ERR_SERVER_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:8081');
    const notAfter = Math.floor((this.clock.now() + TTL_MS) / 1000) * 1000;
    return params.map((p) => ({
      status: { code: 0, message: '' }, entry_id: p.entryId, expires_at: notAfter / 1000,
      cert_chain: [Buffer.from(this.issue({ spiffeId: SpiffeId.parse(`spiffe://example.org/${p.entryId}`), publicKey: parseCsr(p.csr).spki, notBefore: new Date(this.clock.now()), notAfter: new Date(notAfter) }))],
    }));
  }
  async mintJwtSvid(): Promise<{ token: string; expiresAt: number }> {
    this.calls++;
    if (this.down) throw unavailable('ERR_SERVER_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:8081');
    throw new Error('not used');
  }
}

const entry = (id: string, uid: number): Entry__Output => ({
  id, spiffe_id: `spiffe://example.org/${id}`, parent_id: 'spiffe://example.org/tessera/agent/join_token/x',
  selectors: [{ type: 'unix', value: `uid:${uid}` }], x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false,
  downstream: false, federates_with: [], expires_at: 0, revision: 1, agent: null, created_at: 1,
} as unknown as Entry__Output);

const workload = (uid: number, instance = `inst_${uid}`): AttestedWorkload =>
  ({ selectors: [parseSelector(`unix:uid:${uid}`)], instanceId: instance, pid: process.pid, uid, gid: 0 });

async function setup(t: ExecutionContext, o: { run?: boolean } = {}) {
  const clock = new FakeClock(Date.now());
  const ca = await makeRootCa('example.org');
  const signer = new Signer(createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey }), clock);
  return { clock, signer, ...startSvidCache(t, { signer, clock, ca, entries: [entry('a', 1)], run: o.run }) };
}

const leafOf = async (cache: SvidCache, w: AttestedWorkload) => Buffer.from((await cache.x509Svids(w))[0]!.certChain[0]!).toString('hex');

test('while the server is down, requests share one retry schedule: one call per backoff step, not one per request', async (t) => {
  const { clock, signer, cache, count, advance } = await setup(t);
  signer.down = true;
  const errors: { code?: string }[] = [];
  // 60 requests, one per second, from 60 different workload instances.
  for (let i = 0; i < 60; i++) {
    await cache.x509Svids(workload(1, `inst_${i}`)).then(() => t.fail('served without a server'), (e) => errors.push(e));
    await advance(1_000);
  }
  // Attempts at 0, 1, 3, 7, 15, 31 s (delays 1, 2, 4, 8, 16 s) and at most one more at 61 s.
  t.true(signer.calls >= 5 && signer.calls <= 7, `${signer.calls} calls to the server for 60 requests`);
  t.is(count('server unreachable: no SVIDs are minted until the next attempt; valid SVIDs keep being served'), signer.calls);
  // The per-request warning is rate-limited (10 s): at most one per 10 s of requests.
  t.true(count('cannot mint X.509-SVID') <= 7, `${count('cannot mint X.509-SVID')} per-request warnings`);
  // Requests between attempts fail at once, with Unavailable naming the schedule.
  const fast = errors.find((e) => e.code === 'ERR_SERVER_UNAVAILABLE') as Error | undefined;
  t.truthy(fast);
  t.regex(fast!.message, /cannot mint X\.509-SVIDs: the server has been unreachable for \d+ s \(\d+ attempts, next in \d+ ms\): connect ECONNREFUSED/);
  // Back up: the next attempt gets through, and one success re-opens the gate for everyone.
  signer.down = false;
  clock.advance(30_000);
  t.truthy(await leafOf(cache, workload(1)));
  t.is(count('server reachable again: minting resumes'), 1);
});

test('an SVID that expired during an outage is re-minted as soon as the server is reached again, and reaches the open stream', async (t) => {
  const { clock, signer, cache, count, advance, settled } = await setup(t);
  const w = workload(1);
  const first = await leafOf(cache, w);
  let notified = 0;
  cache.watchX509Svids(w, () => notified++);
  signer.down = true;
  // Rotation at 50 s fails; the SVID expires at 100 s; the schedule backs off meanwhile.
  for (let s = 0; s < 110; s += 5) await advance(5_000);
  await t.throwsAsync(cache.x509Svids(w), { message: /unreachable|ECONNREFUSED/ });
  t.is(notified, 0);
  const callsDuringOutage = signer.calls;
  signer.down = false;
  // The entry sync reconnected: no waiting for the next backoff step, no request needed.
  cache.serverReachable();
  await settled();
  t.is(signer.calls, callsDuringOutage + 1);
  t.is(notified, 1, 'the stream heard of the new SVID at once');
  const now = await cache.x509Svids(w);
  t.not(Buffer.from(now[0]!.certChain[0]!).toString('hex'), first);
  t.true(now[0]!.expiresAt > clock.now());
  t.true(count('rotated X.509-SVIDs') >= 1);
});

test('without a sign from elsewhere, the expired SVID is re-minted at the next scheduled attempt', async (t) => {
  const { clock, signer, cache, advance } = await setup(t);
  const w = workload(1);
  await cache.x509Svids(w);
  let notified = 0;
  cache.watchX509Svids(w, () => notified++);
  signer.down = true;
  for (let s = 0; s < 110; s += 5) await advance(5_000);
  signer.down = false;
  for (let s = 0; s < 31 && notified === 0; s++) await advance(1_000);
  t.is(notified, 1);
  t.true((await cache.x509Svids(w))[0]!.expiresAt > clock.now());
});

test('an SVID minted on demand for one caller reaches the streams of every other caller served that identity', async (t) => {
  // No run loop: only the on-demand path can mint.
  const { clock, signer, cache } = await setup(t, { run: false });
  const a = workload(1, 'inst_a');
  const b = workload(1, 'inst_b');
  await leafOf(cache, a);
  let aHeard = 0;
  cache.watchX509Svids(a, () => aHeard++);
  clock.advance(TTL_MS + 1_000); // expired, nothing rotated it
  const forB = await leafOf(cache, b);
  t.is(aHeard, 1);
  t.is(await leafOf(cache, a), forB, 'the stream gets the SVID minted for the other caller, without another mint');
  t.is(signer.calls, 2);
});

test('a stream whose first SVID could not be minted gets it when the server is back', async (t) => {
  const { signer, cache, settled } = await setup(t);
  const w = workload(1);
  let notified = 0;
  cache.watchX509Svids(w, () => notified++);
  signer.down = true;
  await t.throwsAsync(cache.x509Svids(w));
  signer.down = false;
  cache.serverReachable();
  await settled();
  t.is(notified, 1);
  t.truthy(await leafOf(cache, w));
});

test('JWT-SVID mints follow the same schedule', async (t) => {
  const { signer, cache } = await setup(t);
  signer.down = true;
  await t.throwsAsync(cache.jwtSvids(workload(1), ['svc']), { message: /ECONNREFUSED/ });
  await t.throwsAsync(cache.x509Svids(workload(1)), { code: 'ERR_SERVER_UNAVAILABLE' } as never);
  await t.throwsAsync(cache.jwtSvids(workload(1), ['svc']), { code: 'ERR_SERVER_UNAVAILABLE' } as never);
  t.is(signer.calls, 1);
});
