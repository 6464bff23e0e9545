import { formatSelector, makeSelector, type Selector } from '../../spiffe/selector.ts';
import { cleanAgentClaims, hasAgentClaims, type AgentClaims } from '../../spiffe/agent-claims.ts';
import type { Logger } from '../../common/logger.ts';
import type { Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { SyncEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/SyncEntriesResponse.ts';

/**
 * The agent's copy of its authorized entries, kept by the sync stream. Entries are
 * parsed once on arrival; matching a caller is an index lookup (selector -> entries),
 * not a scan: an entry matches when all its selectors are among the caller's.
 */
export interface SyncedEntry {
  id: string;
  spiffeId: string;
  selectors: Selector[];
  /** Seconds; 0 = server default. */
  x509SvidTtl: number;
  jwtSvidTtl: number;
  dnsNames: string[];
  hint: string;
  revision: number;
  /** Unix seconds; 0 = never. */
  expiresAt: number;
  createdAt: number;
  /** Entry-level agent claims (model, provider, version); non-empty = per-instance SVIDs. */
  claims: AgentClaims;
  perInstance: boolean;
  /** Foreign trust domain names whose bundles this entry's workloads get (docs/federation.md). */
  federatesWith: string[];
}

export interface EntryChange {
  full: boolean;
  /** New or changed (revision or content). */
  upserted: SyncedEntry[];
  removed: SyncedEntry[];
}

export class EntryCache {
  private readonly entries = new Map<string, SyncedEntry>();
  private readonly bySelector = new Map<string, Set<string>>();
  private readonly listeners = new Set<(c: EntryChange) => void>();
  private seq = 0;
  private synced = false;

  constructor(private readonly logger: Logger) {}

  get sequence(): number { return this.seq; }
  /** True once a full snapshot has arrived. */
  get ready(): boolean { return this.synced; }
  get size(): number { return this.entries.size; }
  get(id: string): SyncedEntry | undefined { return this.entries.get(id); }
  all(): SyncedEntry[] { return [...this.entries.values()]; }

  /** Applies one sync message (a full snapshot replaces everything) and tells listeners what changed. */
  apply(msg: Omit<SyncEntriesResponse__Output, 'federated_bundles'>): EntryChange {
    const change: EntryChange = { full: msg.full, upserted: [], removed: [] };
    const incoming = new Map<string, SyncedEntry>();
    for (const raw of msg.upserted) {
      const e = this.parse(raw);
      if (e) incoming.set(e.id, e);
    }
    if (msg.full) {
      for (const old of [...this.entries.values()]) if (!incoming.has(old.id)) { this.remove(old.id); change.removed.push(old); }
      this.synced = true;
    }
    for (const id of msg.deleted_ids) {
      const old = this.entries.get(id);
      if (old) { this.remove(id); change.removed.push(old); }
    }
    for (const e of incoming.values()) {
      const old = this.entries.get(e.id);
      if (old && sameEntry(old, e)) continue;
      if (old) this.remove(old.id);
      this.add(e);
      change.upserted.push(e);
    }
    if (msg.sequence > this.seq || msg.full) this.seq = msg.sequence;
    if (change.upserted.length || change.removed.length) for (const l of this.listeners) l(change);
    return change;
  }

  /** Entries whose selectors are all among `selectors`, oldest first (the first is the default identity). */
  match(selectors: readonly Selector[], nowMs = Date.now()): SyncedEntry[] {
    const hits = new Map<string, number>();
    for (const s of new Set(selectors.map(formatSelector))) {
      const ids = this.bySelector.get(s);
      if (ids) for (const id of ids) hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    const out: SyncedEntry[] = [];
    for (const [id, n] of hits) {
      const e = this.entries.get(id)!;
      if (n === e.selectors.length && (e.expiresAt === 0 || e.expiresAt * 1000 > nowMs)) out.push(e);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  onChange(l: (c: EntryChange) => void): () => void { this.listeners.add(l); return () => this.listeners.delete(l); }

  private add(e: SyncedEntry): void {
    this.entries.set(e.id, e);
    for (const s of e.selectors) {
      const k = formatSelector(s);
      let set = this.bySelector.get(k);
      if (!set) this.bySelector.set(k, set = new Set());
      set.add(e.id);
    }
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    for (const s of e.selectors) {
      const k = formatSelector(s);
      const set = this.bySelector.get(k);
      set?.delete(id);
      if (set?.size === 0) this.bySelector.delete(k);
    }
  }

  private parse(raw: Entry__Output): SyncedEntry | undefined {
    try {
      const selectors = raw.selectors.map((s) => makeSelector(s.type, s.value));
      // An entry without selectors would match every caller: never accept one.
      if (selectors.length === 0) throw new Error('entry has no selectors');
      const claims = cleanAgentClaims(raw.agent ? { ...raw.agent } : undefined);
      return {
        id: raw.id, spiffeId: raw.spiffe_id, selectors,
        x509SvidTtl: raw.x509_svid_ttl, jwtSvidTtl: raw.jwt_svid_ttl, dnsNames: [...raw.dns_names], hint: raw.hint,
        revision: raw.revision, expiresAt: raw.expires_at, createdAt: raw.created_at,
        claims, perInstance: hasAgentClaims(claims), federatesWith: [...raw.federates_with].sort(),
      };
    } catch (e) {
      this.logger.warn('ignoring malformed entry from server', { entry_id: raw.id, err: e as Error });
      return undefined;
    }
  }
}

function sameEntry(a: SyncedEntry, b: SyncedEntry): boolean {
  return a.revision === b.revision && a.spiffeId === b.spiffeId && a.x509SvidTtl === b.x509SvidTtl && a.jwtSvidTtl === b.jwtSvidTtl
    && a.hint === b.hint && a.expiresAt === b.expiresAt && a.createdAt === b.createdAt
    && JSON.stringify([a.selectors, a.dnsNames, a.claims, a.federatesWith]) === JSON.stringify([b.selectors, b.dnsNames, b.claims, b.federatesWith]);
}
