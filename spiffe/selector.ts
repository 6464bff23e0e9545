import { SpiffeError } from './errors.ts';

/**
 * A selector is a `type:value` attribute of a node or workload, e.g. `unix:uid:1000`
 * (type "unix", value "uid:1000"). Entries match callers by selector sets.
 */
export interface Selector {
  readonly type: string;
  readonly value: string;
}

const TYPE = /^[a-z0-9_-]+$/;

export function parseSelector(input: string): Selector {
  const i = input.indexOf(':');
  if (i <= 0 || i === input.length - 1) {
    throw new SpiffeError('ERR_SELECTOR_INVALID', `selector "${input}" must have the form type:value`);
  }
  return makeSelector(input.slice(0, i), input.slice(i + 1));
}

export function makeSelector(type: string, value: string): Selector {
  if (!TYPE.test(type)) throw new SpiffeError('ERR_SELECTOR_INVALID', `selector type "${type}" must match [a-z0-9_-]+`);
  if (value.length === 0) throw new SpiffeError('ERR_SELECTOR_INVALID', `selector "${type}:" has an empty value`);
  if (value.length > 1024) throw new SpiffeError('ERR_SELECTOR_INVALID', `selector "${type}:..." value exceeds 1024 characters`);
  return Object.freeze({ type, value });
}

export function formatSelector(s: Selector): string { return `${s.type}:${s.value}`; }

/** Canonical, de-duplicated, sorted copy: equal sets compare equal as strings. */
export function normalizeSelectors(list: readonly Selector[]): Selector[] {
  const seen = new Map<string, Selector>();
  for (const s of list) seen.set(formatSelector(s), s);
  return [...seen.keys()].sort().map((k) => seen.get(k)!);
}

/** True when every selector of `required` is present in `have` (entry matching rule). */
export function selectorsSubsetOf(required: readonly Selector[], have: ReadonlySet<string>): boolean {
  for (const s of required) if (!have.has(formatSelector(s))) return false;
  return true;
}

export function selectorSet(list: readonly Selector[]): Set<string> {
  return new Set(list.map(formatSelector));
}
