/** SET jtis already accepted, bounded: the oldest are forgotten first (a Map keeps insertion order). */
export class ReplayCache {
  private readonly seen = new Map<string, true>();
  constructor(private readonly capacity: number) {}

  /** False when `jti` was already added. */
  add(jti: string): boolean {
    if (this.seen.has(jti)) return false;
    this.seen.set(jti, true);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  delete(jti: string): void { this.seen.delete(jti); }
}
