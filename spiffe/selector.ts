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
  const control = selectorControlCharacter(value);
  if (control) throw new SpiffeError('ERR_SELECTOR_INVALID', `selector "${type}:..." value ${control}`);
  return Object.freeze({ type, value });
}

/**
 * Characters a selector value must not hold: C0/C1 controls and DEL (newline, CR, tab,
 * NUL, ESC...), the Unicode line and paragraph separators, the bidirectional-text
 * controls, and lone surrogates. A selector carrying one would split or forge lines in
 * logs, CLI tables and line-based selector lists, or display as a different selector
 * than it is. Refused, not escaped: escaping needs a syntax every entry writer must
 * apply exactly, while refusing is fail-closed and needs nothing from anyone.
 */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Cs}]/u;

/** Why `value` cannot be a selector value because of a control character, or undefined. */
export function selectorControlCharacter(value: string): string | undefined {
  const m = CONTROL.exec(value);
  if (!m) return undefined;
  const cp = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `holds control character U+${cp} at offset ${m.index}`;
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
