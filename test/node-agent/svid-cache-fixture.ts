import type { ExecutionContext } from 'ava';
import type { FakeClock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { within } from '../helpers/wait.ts';
import type { TestCa } from '../helpers/pki.ts';
import { EntryCache } from '../../node-agent/sync/entry-cache.ts';
import { SvidCache } from '../../node-agent/cache/svid-cache.ts';
import type { SvidSigner } from '../../node-agent/cache/x509-minter.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { AttestedWorkload } from '../../node-agent/workload-api/provider.ts';
import { parseSelector } from '../../spiffe/selector.ts';

/** Both retry schedules at their ceilings, so tests know every delay: 1, 2, 4, 8, 16, 30, 30 … s. */
const ceilingBackoff = () => new Backoff({ initialMs: 1_000, maxMs: 30_000, random: () => 1 });

/**
 * An SVID cache over `entries`, signing through `signer`, logging to memory, with its
 * run loop going (unless `run` is false) until the test ends. `advance` moves the fake
 * clock and `settled` waits until the loop has done what fell due: conditions, never a sleep.
 */
export function startSvidCache(t: ExecutionContext, o: { signer: SvidSigner; clock: FakeClock; ca: TestCa; entries: Entry__Output[]; run?: boolean }) {
  const entries = new EntryCache(memoryLogger());
  const logs = memoryLogger();
  const cache = new SvidCache({
    entries, signer: o.signer, clock: o.clock, logger: logs, random: () => 0.5, processAlive: () => true,
    bundle: { trustDomain: o.ca.trustDomain, x509Authorities: [o.ca.certificate], jwtAuthorities: [], sequence: 1, refreshHint: 0 },
    retryBackoff: ceilingBackoff(), refusalBackoff: ceilingBackoff(),
  });
  if (o.run !== false) {
    const ac = new AbortController();
    t.teardown(() => ac.abort());
    void cache.run(ac.signal);
  }
  entries.apply({ full: true, upserted: o.entries, deleted_ids: [], sequence: 1, bundle: null });
  const settled = () => within(cache.idle(), 'the SVID cache loop to finish its due work');
  const advance = async (ms: number) => { o.clock.advance(ms); await settled(); };
  const count = (msg: string) => logs.records.filter((r) => r.msg === msg).length;
  return { cache, logs, settled, advance, count };
}

/** A unix-uid entry as the sync stream delivers it. */
export const testEntry = (id: string, uid: number): Entry__Output => ({
  id, spiffe_id: `spiffe://example.org/${id}`, parent_id: 'spiffe://example.org/tessera/agent/join_token/x',
  selectors: [{ type: 'unix', value: `uid:${uid}` }], x509_svid_ttl: 0, jwt_svid_ttl: 0, dns_names: [], hint: '', admin: false,
  downstream: false, federates_with: [], expires_at: 0, revision: 1, agent: null, created_at: 1,
} as unknown as Entry__Output);

/** The attested caller with that uid. */
export const testWorkload = (uid: number): AttestedWorkload =>
  ({ selectors: [parseSelector(`unix:uid:${uid}`)], instanceId: `inst_${uid}`, pid: process.pid, uid, gid: 0 });
