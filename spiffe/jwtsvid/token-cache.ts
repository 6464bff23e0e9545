import type { JwtSvidParams, JwtSvidSource } from '../source/types.ts';
import type { JwtSvid } from './types.ts';

export interface JwtTokenCacheOptions {
  source: JwtSvidSource;
  /** Test seam, ms. */
  now?: () => number;
}

export interface JwtTokenCache {
  /** A JWT-SVID for the audience: cached until half its lifetime has passed, then fetched again. */
  getJwtSvid(p: JwtSvidParams): Promise<JwtSvid>;
  /** Just the compact token (for `Authorization: Bearer`). */
  getToken(audience: string | string[], subject?: string): Promise<string>;
  clear(): void;
}

/**
 * Fetch-for-audience with a cache: one token per (audience set, subject), reused
 * until its half-life (SPIRE's rotation point), so a busy client asks the agent
 * once per half-TTL; concurrent callers share one in-flight fetch.
 */
export function createJwtTokenCache(o: JwtTokenCacheOptions): JwtTokenCache {
  const now = o.now ?? Date.now;
  const cache = new Map<string, { svid: JwtSvid; refreshAt: number }>();
  const inflight = new Map<string, Promise<JwtSvid>>();
  const keyOf = (p: JwtSvidParams) => {
    const aud = typeof p.audience === 'string' ? [p.audience] : [...p.audience].sort();
    return JSON.stringify([aud, p.subject ?? '']);
  };
  const getJwtSvid = async (p: JwtSvidParams): Promise<JwtSvid> => {
    const key = keyOf(p);
    const hit = cache.get(key);
    if (hit && now() < hit.refreshAt) return hit.svid;
    let pending = inflight.get(key);
    if (!pending) {
      const fetchedAt = now();
      pending = o.source.fetchJwtSvid(p).then((svid) => {
        const from = svid.issuedAt?.getTime() ?? fetchedAt;
        cache.set(key, { svid, refreshAt: from + (svid.expiresAt.getTime() - from) / 2 });
        return svid;
      }).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  };
  return {
    getJwtSvid,
    getToken: async (audience, subject) => (await getJwtSvid({ audience, ...(subject ? { subject } : {}) })).token,
    clear: () => cache.clear(),
  };
}
