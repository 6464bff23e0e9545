import type { Clock } from '../../common/clock.ts';
import type { ReadinessCheck } from '../../common/metrics/ops-listener.ts';
import type { CaManager } from '../ca/manager.ts';
import type { Datastore } from '../datastore/types.ts';

/** What main.ts has brought up so far; the listener starts before any of it. */
export interface ServerReadyState {
  store?: Pick<Datastore, 'currentSequence'>;
  ca?: Pick<CaManager, 'active'>;
  indexLoaded: boolean;
}

/**
 * Server readiness (/ready, `tessera-server healthcheck`): the datastore answers a
 * query now, a CA is active and unexpired, and the authorized-entry index is loaded.
 */
export function serverReadiness(s: ServerReadyState, clock: Clock): Record<string, ReadinessCheck> {
  return {
    datastore: async () => {
      if (!s.store) return 'not open yet';
      await s.store.currentSequence();
      return undefined;
    },
    ca: () => {
      if (!s.ca) return 'not loaded yet';
      const slot = s.ca.active();
      if (!slot) return 'no active CA';
      return slot.notAfter > clock.now() ? undefined : `the active CA expired at ${new Date(slot.notAfter).toISOString()}`;
    },
    entry_index: () => (s.indexLoaded ? undefined : 'loading'),
  };
}
