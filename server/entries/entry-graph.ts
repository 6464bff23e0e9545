import { formatSelector } from '../../spiffe/selector.ts';
import type { RegistrationEntry } from '../datastore/types.ts';

/**
 * All registration entries in memory, indexed the ways the authorized-set walk needs:
 * by id, by parent ID, and (node-alias entries only) by selector. Pure data structure:
 * no I/O, no clock; callers pass `now` (unix seconds).
 */
export class EntryGraph {
  readonly byId = new Map<string, RegistrationEntry>();
  private readonly byParent = new Map<string, Set<string>>();
  /** Node-alias entries (parent = server ID) keyed by each of their selectors. */
  private readonly aliasBySelector = new Map<string, Set<string>>();
  /** Entries with a future expiresAt, so expiry can be processed without a scan. */
  private readonly expiring = new Map<string, number>();
  private earliestExpiry = Infinity;

  constructor(private readonly serverIdStr: string) {}

  isAlias(e: RegistrationEntry): boolean { return e.parentId.toString() === this.serverIdStr; }

  /** Replaces (or removes, when `next` is undefined) the entry with this id; returns the previous one. */
  put(id: string, next: RegistrationEntry | undefined): RegistrationEntry | undefined {
    const prev = this.byId.get(id);
    if (prev) this.unlink(prev);
    if (next) this.link(next);
    return prev;
  }

  private link(e: RegistrationEntry): void {
    this.byId.set(e.id, e);
    addTo(this.byParent, e.parentId.toString(), e.id);
    if (this.isAlias(e)) for (const s of e.selectors) addTo(this.aliasBySelector, formatSelector(s), e.id);
    if (e.expiresAt > 0) {
      this.expiring.set(e.id, e.expiresAt);
      if (e.expiresAt < this.earliestExpiry) this.earliestExpiry = e.expiresAt;
    }
  }

  private unlink(e: RegistrationEntry): void {
    this.byId.delete(e.id);
    removeFrom(this.byParent, e.parentId.toString(), e.id);
    if (this.isAlias(e)) for (const s of e.selectors) removeFrom(this.aliasBySelector, formatSelector(s), e.id);
    // earliestExpiry may now be too early; takeExpired() recomputes it, which is harmless.
    this.expiring.delete(e.id);
  }

  children(parentId: string): ReadonlySet<string> | undefined { return this.byParent.get(parentId); }

  /** SPIFFE IDs of the unexpired node aliases whose selectors are all among `agentSelectors`. */
  aliasesFor(agentSelectors: ReadonlySet<string>, now: number): string[] {
    const counts = new Map<string, number>();
    for (const s of agentSelectors) {
      const ids = this.aliasBySelector.get(s);
      if (ids) for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const out = new Set<string>();
    for (const [id, n] of counts) {
      const e = this.byId.get(id)!;
      // Selectors are stored de-duplicated, so n === length means "every one matched".
      if (n === e.selectors.length && !expired(e, now)) out.add(e.spiffeId.toString());
    }
    return [...out];
  }

  /** When the next entry expires (unix seconds), or Infinity. */
  get nextExpiry(): number { return this.earliestExpiry; }

  /** Entries whose expiresAt has come; they stay in the graph (the walk skips them) until updated or deleted. */
  takeExpired(now: number): RegistrationEntry[] {
    if (now < this.earliestExpiry) return [];
    const out: RegistrationEntry[] = [];
    let next = Infinity;
    for (const [id, at] of this.expiring) {
      if (at <= now) { out.push(this.byId.get(id)!); this.expiring.delete(id); } else if (at < next) next = at;
    }
    this.earliestExpiry = next;
    return out;
  }

  /**
   * The authorized-entry walk for one agent: entries whose parent is one of `roots`
   * (the agent ID and its node-alias IDs), then, breadth first, entries whose parent
   * is the SPIFFE ID of an entry already taken. Expired entries are skipped and do not
   * authorize their children. Returns the entries and every parent ID visited (the
   * reverse index that tells the caller which writes can change this result).
   */
  walk(roots: readonly string[], now: number): { entries: Map<string, RegistrationEntry>; parents: Set<string> } {
    const entries = new Map<string, RegistrationEntry>();
    const parents = new Set<string>(roots);
    parents.delete(this.serverIdStr); // the server ID is the alias namespace, never a root
    const queue = [...parents];
    while (queue.length) {
      const ids = this.byParent.get(queue.pop()!);
      if (!ids) continue;
      for (const id of ids) {
        if (entries.has(id)) continue;
        const e = this.byId.get(id)!;
        if (expired(e, now)) continue;
        entries.set(id, e);
        const sid = e.spiffeId.toString();
        if (!parents.has(sid) && sid !== this.serverIdStr) { parents.add(sid); queue.push(sid); }
      }
    }
    return { entries, parents };
  }
}

export function expired(e: RegistrationEntry, now: number): boolean {
  return e.expiresAt > 0 && e.expiresAt <= now;
}

/** Multimap helpers shared by the graph and the index. */
export function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) { s = new Set(); m.set(k, s); }
  s.add(v);
}

export function removeFrom(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
