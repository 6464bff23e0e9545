/**
 * JWT-SVIDs minted on demand, kept per (entry revision, instance, audience set) and
 * reused until half their lifetime; past that a fresh one is minted, and the old one
 * still serves (until it expires) if the server cannot be reached. Bounded: expired
 * tokens go first, then the oldest.
 */
export interface JwtRecord { entryId: string; token: string; /** Signing key ID (taint checks). */ kid: string; issuedAt: number; expiresAt: number; refreshAt: number }

export function jwtCacheKey(entryId: string, revision: number, instanceId: string, audience: readonly string[]): string {
  // JSON, not a joined string: audiences are caller-chosen and may contain any separator.
  return JSON.stringify([entryId, revision, instanceId, [...new Set(audience)].sort()]);
}

export class JwtCache {
  private readonly map = new Map<string, JwtRecord>();
  constructor(private readonly max = 20_000) {}

  get size(): number { return this.map.size; }
  get(key: string): JwtRecord | undefined { return this.map.get(key); }

  set(key: string, r: JwtRecord, now: number): void {
    this.map.delete(key);
    this.map.set(key, r);
    if (this.map.size > this.max) {
      for (const [k, v] of this.map) if (v.expiresAt <= now) this.map.delete(k);
      for (const k of this.map.keys()) { if (this.map.size <= this.max) break; this.map.delete(k); }
    }
  }

  dropWhere(pred: (r: JwtRecord) => boolean): void {
    for (const [k, v] of this.map) if (pred(v)) this.map.delete(k);
  }

  dropEntry(entryId: string): void {
    for (const [k, v] of this.map) if (v.entryId === entryId) this.map.delete(k);
  }

  sweep(now: number): void {
    for (const [k, v] of this.map) if (v.expiresAt <= now) this.map.delete(k);
  }
}
