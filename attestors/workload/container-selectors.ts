import { makeSelector, type Selector } from '../../spiffe/selector.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * Builds `type:value` selectors from runtime metadata. Labels, env values and image
 * names come from whoever started the container; one that cannot be a selector (empty,
 * over 1024 characters) is left out with a warning rather than failing the whole
 * attestation: leaving a selector out can only make fewer entries match.
 */
export function collectSelectors(type: string, values: readonly string[], logger: Logger): Selector[] {
  const out: Selector[] = [];
  for (const v of values) {
    try {
      out.push(makeSelector(type, v));
    } catch (e) {
      logger.warn('workload attestor: value cannot be a selector; left out', { type, value: v.slice(0, 80), reason: (e as Error).message });
    }
  }
  return out;
}
