import { createHash, timingSafeEqual } from 'node:crypto';
import type * as W from '@biscuit-auth/biscuit-wasm';
import type { DelegatedToken } from '../delegation/types.ts';
import type { BiscuitRootKeySource } from './keys.ts';
import type { ParsedBiscuit } from './token.ts';

/**
 * Per-token verification cache (docs/attenuation.md "Verification cost"), keyed by the
 * token's SHA-256. It holds only what does not depend on the request: the library's
 * parsed token (signatures verified under a root key, re-checked on every hit against
 * the key source, so a rotated-out key is not trusted from memory), and the typed,
 * structure-checked DelegatedToken. Expiry, issuer, audience, holder binding,
 * revocation and scopes are re-checked by the caller on every call.
 *
 * The Datalog run (the bulk of the cost) depends on the request, so its *successes*
 * are remembered per (audience, peer, requested scopes), and only when time can reach
 * Datalog in exactly one form: every mention of `time(` in every block is
 * `check if time($v), $v < <date>`. Then a pass at one instant is a pass at any instant
 * before the earliest such date (`timeBound`), and the caller must still compare `now`
 * against it. Any other use of time (a not-before, a rule) disables that part: the
 * Datalog then runs on every call, on the cached parsed token.
 */
export interface CachedBiscuit {
  biscuit: W.Biscuit;
  rootKey: ParsedBiscuit['rootKey'];
  typed: DelegatedToken;
  /** Unix seconds; undefined: time reaches Datalog in a form we do not reason about. */
  timeBound: number | undefined;
  /** Request keys (decisionKey) whose Datalog run passed. */
  passed: Set<string>;
}

const MAX_TOKENS = 1024;
const MAX_DECISIONS_PER_TOKEN = 16;
const cache = new Map<string, CachedBiscuit>();
const stats = { hits: 0, misses: 0, datalogSkipped: 0 };

export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** The entry, if its root key is still the one the source names for that id. No await between this and the entry's use: eviction frees it. */
export function cachedBiscuit(hash: string, keys: BiscuitRootKeySource): CachedBiscuit | undefined {
  const e = cache.get(hash);
  if (!e) { stats.misses++; return undefined; }
  const k = keys.rootKey(e.rootKey.id);
  if (!k || k.publicKey.length !== e.rootKey.publicKey.length || !timingSafeEqual(k.publicKey, e.rootKey.publicKey)) {
    drop(hash, e);
    stats.misses++;
    return undefined;
  }
  cache.delete(hash); // re-inserted last: Map order is recency order
  cache.set(hash, e);
  stats.hits++;
  return e;
}

/** Takes ownership of `parsed.biscuit` (freed on eviction). */
export function remember(hash: string, parsed: ParsedBiscuit, typed: DelegatedToken): CachedBiscuit {
  const old = cache.get(hash);
  if (old) drop(hash, old);
  const e: CachedBiscuit = { biscuit: parsed.biscuit, rootKey: parsed.rootKey, typed, timeBound: timeBoundOf(parsed), passed: new Set() };
  cache.set(hash, e);
  for (const [h, x] of cache) {
    if (cache.size <= MAX_TOKENS) break;
    drop(h, x);
  }
  return e;
}

export function decisionKey(audience: string, peer: string | undefined, required: string[]): string {
  return JSON.stringify([audience, peer ?? null, [...new Set(required)].sort()]);
}

/** Whether a Datalog pass for `key` may stand in for a run at `now` (unix seconds). */
export function datalogPassed(e: CachedBiscuit, key: string, now: number): boolean {
  const ok = e.timeBound !== undefined && now < e.timeBound && e.passed.has(key);
  if (ok) stats.datalogSkipped++;
  return ok;
}

export function recordPass(e: CachedBiscuit, key: string): void {
  if (e.timeBound === undefined) return;
  if (e.passed.size >= MAX_DECISIONS_PER_TOKEN) e.passed.clear();
  e.passed.add(key);
}

/** Counters for tests and the bench; `clear` empties the cache (frees every parsed token). */
export const biscuitVerifyCache = {
  stats: (): Readonly<typeof stats> & { size: number } => ({ ...stats, size: cache.size }),
  clear(): void { for (const [h, e] of cache) drop(h, e); stats.hits = stats.misses = stats.datalogSkipped = 0; },
};

function drop(hash: string, e: CachedBiscuit): void {
  cache.delete(hash);
  e.biscuit.free();
}

/** The earliest date of the token's time checks, or undefined when any block uses time in another way. */
function timeBoundOf(parsed: ParsedBiscuit): number | undefined {
  let bound = Infinity;
  for (const b of parsed.timeBounds) {
    if (b === undefined) return undefined;
    bound = Math.min(bound, b);
  }
  return bound === Infinity ? undefined : bound;
}
