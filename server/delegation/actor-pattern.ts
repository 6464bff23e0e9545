import { invalidArgument } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { ActorPattern } from './types.ts';

/**
 * Actor patterns of delegation policies: an exact SPIFFE ID, or a SPIFFE ID followed by
 * `/*` meaning that path and everything below it. Matching respects path-segment
 * boundaries: `spiffe://td/a/*` covers spiffe://td/a, spiffe://td/a/b and
 * spiffe://td/a/b/c, never spiffe://td/ab. No other wildcard exists, so an operator
 * reading a policy knows exactly whom it names.
 */
export interface ParsedActorPattern {
  /** Canonical text (trust domain lowercased): what policies store. */
  readonly pattern: ActorPattern;
  readonly prefix: boolean;
  matches(spiffeId: string): boolean;
}

/** Parses a pattern; invalid_argument ERR_ACTOR_PATTERN naming what is wrong. */
export function parseActorPattern(input: string): ParsedActorPattern {
  // A public MCP client (docs/mcp.md) is named by its exact client_id URL (a Client ID
  // Metadata Document, or a pre-registered https client_id): no wildcard, no SPIFFE ID.
  if (/^https?:\/\//i.test(input)) return clientUrlPattern(input);
  const prefix = input.endsWith('/*');
  const idText = prefix ? input.slice(0, -2) : input;
  if (idText.includes('*')) {
    throw invalidArgument('ERR_ACTOR_PATTERN',
      `actor pattern "${input}": "*" is only allowed as a whole last path segment ("spiffe://td/path/*")`);
  }
  let id: SpiffeId;
  try { id = SpiffeId.parse(idText); } catch (err) {
    throw invalidArgument('ERR_ACTOR_PATTERN', `actor pattern "${input}" is not a SPIFFE ID (optionally ending in "/*"): ${(err as Error).message}`, err);
  }
  const base = id.toString();
  if (!prefix) {
    if (id.isTrustDomainId) {
      throw invalidArgument('ERR_ACTOR_PATTERN', `actor pattern "${input}" names a trust domain, not a workload; use "${base}/*" for every workload in it`);
    }
    return { pattern: base, prefix: false, matches: (s) => s === base };
  }
  const below = base + '/';
  return { pattern: `${base}/*`, prefix: true, matches: (s) => s === base || s.startsWith(below) };
}

function clientUrlPattern(input: string): ParsedActorPattern {
  let u: URL | undefined;
  try { u = new URL(input); } catch { /* below */ }
  if (!u || input.includes('#') || input.includes('*') || /\s/.test(input)
    || (u.protocol === 'http:' && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname))) {
    throw invalidArgument('ERR_ACTOR_PATTERN', `actor pattern "${input}": a client_id must be an https URL (http only on loopback) without fragment, "*" or spaces`);
  }
  return { pattern: input, prefix: false, matches: (s) => s === input };
}

/** True when the text parses as an actor pattern. */
export function isActorPattern(input: string): boolean {
  try { parseActorPattern(input); return true; } catch { return false; }
}

/**
 * Whether `spiffeId` matches any of `patterns`. Patterns come from stored policies
 * (validated when written); one that does not parse matches nothing, so a bad row can
 * only deny, never widen (a blind prefix test of "spiffe:/*" would match everyone).
 */
export function matchesAnyActor(patterns: readonly ActorPattern[], spiffeId: string): boolean {
  for (const p of patterns) if (parsedPattern(p)?.matches(spiffeId)) return true;
  return false;
}

/** Parsed stored patterns (null: does not parse), so a token request never re-parses a policy's SPIFFE IDs. */
const parsed = new Map<string, ParsedActorPattern | null>();
const MAX_PARSED = 4096;

function parsedPattern(p: ActorPattern): ParsedActorPattern | null {
  let v = parsed.get(p);
  if (v === undefined) {
    try { v = parseActorPattern(p); } catch { v = null; }
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(p, v);
  }
  return v;
}
