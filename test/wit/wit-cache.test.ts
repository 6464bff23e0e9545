import test, { type ExecutionContext } from 'ava';
import { createPublicKey } from 'node:crypto';
import { FakeClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseSelector } from '../../spiffe/selector.ts';
import { signWitSvid } from '../../spiffe/wit/sign.ts';
import { parseWitSvidInsecure } from '../../spiffe/wit/parse.ts';
import { privateKeyFromJwk } from '../../spiffe/wit/jwk.ts';
import { ROTATION_JITTER } from '../../node-agent/cache/rotation.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { WitCache, type WitRecord } from '../../node-agent/wit/cache.ts';
import type { WitMinter, WitMintParams } from '../../node-agent/wit/minter.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import { until, within } from '../helpers/wait.ts';
import { issuer } from './fixtures.ts';
import { testEntry, testWorkload } from '../node-agent/svid-cache-fixture.ts';

/**
 * The agent's WIT-SVID cache on a fake clock: rotation while a stream serves a
 * WIT-SVID, nothing kept for no one, nothing minted once the agent is revoked.
 */

const TTL_S = 600;
const HALF_MS = (TTL_S * 1000) / 2;

/** A real signer (the production WIT-SVID signer, a test issuer key) on the fake clock; counts the calls that reached it. */
class Minter implements WitMinter {
  calls = 0;
  constructor(private readonly clock: FakeClock) {}
  async mintWitSvid(p: WitMintParams): Promise<{ token: string; expiresAt: number }> {
    this.calls++;
    const now = this.clock.now();
    const token = signWitSvid({
      id: SpiffeId.parse(`spiffe://example.org/${p.entryId}`), confirmationKey: createPublicKey({ key: Buffer.from(p.publicKey), format: 'der', type: 'spki' }),
      confirmationAlg: 'ES256', issuedAt: new Date(now), expiresAt: new Date(now + TTL_S * 1000),
      key: { kid: issuer.kid, privateKey: issuer.privateKey, alg: 'ES256' },
    });
    return { token, expiresAt: now / 1000 + TTL_S };
  }
}

const entry = testEntry;
const workload = testWorkload;

/** A cache over entries `a` (uid 1) and `b` (uid 2) with its run loop going; `advance` moves the clock and waits for the due work. */
function setup(t: ExecutionContext) {
  const clock = new FakeClock(Date.UTC(2026, 6, 1, 12)); // whole seconds: exp is in seconds
  const minter = new Minter(clock);
  const entries = new EntryCache(memoryLogger());
  entries.apply({ full: true, upserted: [entry('a', 1), entry('b', 2)], deleted_ids: [], sequence: 1, bundle: null });
  const cache = new WitCache({ entries, minter, clock, logger: memoryLogger() });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  void cache.run(ac.signal);
  const settled = () => within(cache.idle(), 'the WIT cache loop to finish its due work');
  const advance = async (ms: number) => { clock.advance(ms); await settled(); };
  return { clock, minter, cache, settled, advance };
}

/** The one WIT-SVID served to `w`, as a stream would build its message. */
async function served(cache: WitCache, w: AttestedWorkload): Promise<WitRecord> {
  const recs = await cache.svidsFor(w);
  if (recs.length !== 1) throw new Error(`expected one WIT-SVID, got ${recs.length}`);
  return recs[0]!;
}

/** Whether the token's cnf is the public half of the private key served with it. */
function keyMatches(r: WitRecord): boolean {
  return parseWitSvidInsecure(r.token).confirmationKey.equals(createPublicKey(privateKeyFromJwk(JSON.parse(r.privateJwk)).key));
}

test('a watched WIT-SVID rotates at half its lifetime ±10% with a new key pair, and the watcher gets the new one at once', async (t) => {
  const { minter, cache, settled, advance } = setup(t);
  const w = workload(1);
  const pushed: WitRecord[] = [];
  // As a FetchWITSVID stream: every notification rebuilds the message from the cache.
  const unwatch = cache.watch(w, () => { void served(cache, w).then((r) => pushed.push(r)); });
  t.teardown(unwatch);
  const first = await served(cache, w);
  t.true(keyMatches(first));
  await settled();

  await advance(HALF_MS * (1 - ROTATION_JITTER) - 1_000);
  t.is(minter.calls, 1, 'not rotated before half-life - 10%');
  t.is((await served(cache, w)).token, first.token);

  await advance(HALF_MS * 2 * ROTATION_JITTER + 1_000);
  t.is(minter.calls, 2, 'rotated once by half-life + 10%');
  const second = await served(cache, w);
  t.not(second.token, first.token);
  t.not(second.privateJwk, first.privateJwk, 'a fresh key pair for the new WIT-SVID');
  t.true(keyMatches(second));
  t.true(second.refreshAt > second.issuedAt && second.expiresAt > first.expiresAt);
  await until(() => pushed.length > 0, 'the watcher to rebuild its message');
  t.deepEqual(pushed.map((r) => r.token), [second.token], 'the watcher was told once, and got the new WIT-SVID');
  t.is(minter.calls, 2, 'serving the pushed WIT-SVID minted nothing more');
});

test('a WIT-SVID no one watches is not rotated and is dropped when it expires', async (t) => {
  const { minter, cache, settled, advance } = setup(t);
  const w = workload(1);
  // A stream that served it and closed, and a one-off fetch for another workload.
  const unwatch = cache.watch(w, () => {});
  await served(cache, w);
  unwatch();
  await served(cache, workload(2));
  await settled();
  t.is(cache.size, 2);

  await advance(HALF_MS * (1 + ROTATION_JITTER) + 1_000);
  t.is(minter.calls, 2, 'nothing rotated for no one');
  t.is(cache.size, 2, 'still valid: kept');

  await advance(TTL_S * 1000);
  t.is(cache.size, 0, 'expired: dropped');
  t.is(minter.calls, 2);
});

test('once the agent is revoked nothing is minted or rotated; held WIT-SVIDs serve until they expire, then the caller is refused', async (t) => {
  const { minter, cache, settled, advance } = setup(t);
  const w = workload(1);
  const unwatch = cache.watch(w, () => {});
  t.teardown(unwatch);
  const held = await served(cache, w);
  await settled();

  cache.stopIssuing('agent banned');
  await advance(HALF_MS * (1 + ROTATION_JITTER) + 1_000);
  t.is(minter.calls, 1, 'no rotation after revocation');
  t.is((await served(cache, w)).token, held.token, 'the held WIT-SVID still serves while valid');
  await t.throwsAsync(cache.svidsFor(workload(2)), { code: 'ERR_AGENT_REVOKED' } as never, 'nothing new is minted');

  await advance(TTL_S * 1000);
  t.is(cache.size, 0, 'dropped at expiry');
  await t.throwsAsync(cache.svidsFor(w), { code: 'ERR_AGENT_REVOKED' } as never);
  t.is(minter.calls, 1, 'the server was never called after revocation');
});
