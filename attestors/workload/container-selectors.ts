import { makeSelector, selectorControlCharacter, type Selector } from '../../spiffe/selector.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * Builds `type:value` selectors from runtime metadata. Labels, env values and image
 * names come from whoever started the container; one that cannot be a selector (empty,
 * over 1024 characters, or holding a control character, see below) is left out with a
 * warning rather than failing the whole attestation: entries match by subset, so leaving
 * a selector out can only make fewer entries match, never more.
 */
export function collectSelectors(type: string, values: readonly string[], logger: Logger): Selector[] {
  const out: Selector[] = [];
  for (const v of values) {
    const control = selectorControlCharacter(v);
    if (control) {
      // JSON.stringify: the log line shows the character escaped, never raw.
      logger.warn('workload attestor: value cannot be a selector; left out', { type, value: JSON.stringify(v.slice(0, 80)), reason: control });
      continue;
    }
    try {
      out.push(makeSelector(type, v));
    } catch (e) {
      logger.warn('workload attestor: value cannot be a selector; left out', { type, value: v.slice(0, 80), reason: (e as Error).message });
    }
  }
  return out;
}

