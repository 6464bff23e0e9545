import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import { revocationFeedHandler } from '../delegation/feed.ts';
import { PolicyCache } from '../delegation/policies.ts';
import { evaluateExchange } from '../delegation/policy-engine.ts';
import { RevocationIndex } from '../delegation/revocations.ts';
import type { DelegationCore } from './ports.ts';

/**
 * The delegation core (server/delegation/) as the authorization server uses it: the
 * policy cache and the revocation index (both in memory, following the change feed)
 * and the SSE revocation feed over the index. Opened once per server by main.ts.
 */
export interface OpenedDelegationCore extends DelegationCore {
  index: RevocationIndex;
  policyCache: PolicyCache;
  close(): void;
}

export async function openDelegationCore(o: {
  store: Datastore; clock: Clock; logger: Logger; tokenTtl: number; heartbeatMs: number;
}): Promise<OpenedDelegationCore> {
  const aborter = new AbortController();
  const { store, clock, logger } = o;
  const policyCache = await PolicyCache.load(store, { clock, logger, signal: aborter.signal });
  let index: RevocationIndex;
  try {
    index = await RevocationIndex.load(store, { clock, logger, signal: aborter.signal });
  } catch (e) { aborter.abort(); throw e; }
  const feed = revocationFeedHandler({ index, clock, logger, heartbeatMs: o.heartbeatMs, signal: aborter.signal });
  return {
    index, policyCache,
    policies: () => policyCache.list(),
    evaluate: evaluateExchange,
    revokedBy: (t) => index.isRevoked(t),
    revoke: (kind, value, by, ctx) => index.revoke(kind, value, by, o.tokenTtl, ctx),
    feed,
    close: () => aborter.abort(),
  };
}
