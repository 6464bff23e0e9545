import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { serverId, type TrustDomain } from '../../spiffe/id.ts';
import { selectorSet, selectorsSubsetOf } from '../../spiffe/selector.ts';
import type { AttestedAgent, ChangeEvent, Datastore, RegistrationEntry } from '../datastore/types.ts';
import { addTo, EntryGraph, removeFrom } from './entry-graph.ts';

export interface EntryIndexOptions {
  trustDomain: TrustDomain;
  clock: Clock;
  logger: Logger;
}

/** What changed in one agent's authorized set. `sequence`: the store change the index now reflects. */
export interface AuthorizedChange {
  upserted: RegistrationEntry[];
  deletedIds: string[];
  sequence: number;
}

export type AuthorizedChangeListener = (change: AuthorizedChange) => void;

interface AgentState {
  agent: AttestedAgent;
  selectors: Set<string>;
}

/** One agent's computed authorized set and the parent IDs its walk visited. */
interface View {
  entries: Map<string, RegistrationEntry>;
  list: RegistrationEntry[];
  parents: Set<string>;
}

const RETRY_MS = 1000;
/** Entries per datastore read while the index loads. */
const LOAD_PAGE = 10_000;
const MAX_TIMER_MS = 3_600_000;

/**
 * The in-memory authorized-entry index: the datastore is the truth, this answers
 * agent requests without touching it. Built once from the store, then kept current
 * from the store's change events by re-reading only the changed entry or agent.
 *
 * Authorized set of agent A (docs/architecture.md): entries whose parent is A's ID,
 * entries whose parent is a node-alias ID A belongs to (alias entry: parent = server
 * ID, selectors ⊆ A's attested selectors), and recursively entries whose parent is the
 * SPIFFE ID of an entry already in the set. Expired entries are left out (and do not
 * authorize children); a banned or unknown agent gets nothing.
 *
 * Per-agent sets are computed on first use and cached with the parent IDs they
 * visited; a write invalidates only the agents whose walk touched the written entry's
 * old or new parent (plus, for alias entries, the agents whose selectors match).
 * Watched agents are recomputed at once and their listeners get the difference.
 */
export class AuthorizedEntryIndex {
  private readonly graph: EntryGraph;
  private readonly agents = new Map<string, AgentState>();
  private readonly views = new Map<string, View>();
  /** parent ID -> agents whose cached view visited it. */
  private readonly parentRefs = new Map<string, Set<string>>();
  private readonly watchers = new Map<string, Set<AuthorizedChangeListener>>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private seq = 0;
  private pending: ChangeEvent[] = [];
  private draining: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};
  private closed = false;
  /** Events arriving while the snapshot loads wait until it is in place. */
  private loaded = false;
  private readonly closing = new AbortController();
  private timer: { at: number; abort: AbortController } | undefined;

  private constructor(private readonly store: Datastore, opts: EntryIndexOptions) {
    this.graph = new EntryGraph(serverId(opts.trustDomain).toString());
    this.clock = opts.clock;
    this.logger = opts.logger.child({ component: 'entry-index' });
  }

  static async load(store: Datastore, opts: EntryIndexOptions): Promise<AuthorizedEntryIndex> {
    const index = new AuthorizedEntryIndex(store, opts);
    await index.init();
    return index;
  }

  private async init(): Promise<void> {
    const started = this.clock.now();
    // Subscribe first, snapshot second: a write racing the snapshot is queued and
    // re-read afterwards (re-reading by id is idempotent), so nothing falls in between.
    this.unsubscribe = this.store.subscribe((ev) => this.enqueue(ev));
    this.seq = await this.store.currentSequence();
    const [entries, agents] = await Promise.all([this.loadEntries(), this.store.listAgents()]);
    for (const a of agents) this.agents.set(a.spiffeId.toString(), { agent: Object.freeze(a), selectors: selectorSet(a.selectors) });
    this.graph.takeExpired(this.nowSec()); // already-expired entries need no timer
    this.armTimer();
    this.logger.info('entry index loaded', {
      entries, agents: agents.length, sequence: this.seq, ms: this.clock.now() - started,
    });
    this.loaded = true;
    if (this.pending.length) this.kick();
  }

  /**
   * All entries into the graph, a page at a time (keyset on id): each page is its own
   * short statement (a single SELECT of 1M rows outlives a statement timeout and holds
   * every row twice, as driver rows and as entries, at once). Writes racing the scan
   * are queued by the subscription above and re-read afterwards, as for one snapshot.
   */
  private async loadEntries(): Promise<number> {
    let count = 0;
    for (let afterId: string | undefined; ;) {
      const page = await this.store.listEntries(afterId === undefined ? { limit: LOAD_PAGE } : { afterId, limit: LOAD_PAGE });
      for (const e of page) this.graph.put(e.id, Object.freeze(e));
      count += page.length;
      // More than a page: a store that ignores the limit returned everything.
      if (page.length !== LOAD_PAGE) return count;
      afterId = page[page.length - 1]!.id;
    }
  }

  // ---- queries (no I/O) ----

  /** The agent's authorized entries (shared, frozen objects: do not mutate). */
  authorizedEntries(agentId: string): RegistrationEntry[] {
    this.expireDue();
    return this.view(agentId).list;
  }

  /** The entry if it is in the agent's authorized set, else undefined. */
  isAuthorized(agentId: string, entryId: string): RegistrationEntry | undefined {
    this.expireDue();
    return this.view(agentId).entries.get(entryId);
  }

  /** The attested agent as of the last applied change (banned flag, selectors, serial). */
  getAgent(agentId: string): AttestedAgent | undefined {
    return this.agents.get(agentId)?.agent;
  }

  /** The datastore change sequence the index reflects. */
  get sequence(): number { return this.seq; }

  /**
   * Calls `listener` synchronously after each applied change that alters this agent's
   * authorized set. Returns the unsubscribe function.
   */
  watch(agentId: string, listener: AuthorizedChangeListener): () => void {
    this.view(agentId); // the baseline the first difference is computed against
    let set = this.watchers.get(agentId);
    if (!set) { set = new Set(); this.watchers.set(agentId, set); }
    const own = (c: AuthorizedChange) => listener(c);
    set.add(own);
    return () => {
      const s = this.watchers.get(agentId);
      if (!s) return;
      s.delete(own);
      if (s.size === 0) this.watchers.delete(agentId);
    };
  }

  /** Resolves once every change event received so far has been applied. */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.closing.abort();
    this.timer?.abort.abort();
    this.watchers.clear();
    this.pending = [];
  }

  // ---- per-agent views ----

  private nowSec(): number { return Math.floor(this.clock.now() / 1000); }

  private view(agentId: string): View {
    let v = this.views.get(agentId);
    if (!v) {
      v = this.compute(agentId);
      this.views.set(agentId, v);
      for (const p of v.parents) addTo(this.parentRefs, p, agentId);
    }
    return v;
  }

  private compute(agentId: string): View {
    const st = this.agents.get(agentId);
    if (!st || st.agent.banned) return { entries: new Map(), list: Object.freeze([]) as unknown as RegistrationEntry[], parents: new Set() };
    const now = this.nowSec();
    const roots = [agentId, ...this.graph.aliasesFor(st.selectors, now)];
    const { entries, parents } = this.graph.walk(roots, now);
    return { entries, list: Object.freeze([...entries.values()]) as unknown as RegistrationEntry[], parents };
  }

  private dropView(agentId: string): View | undefined {
    const v = this.views.get(agentId);
    if (!v) return undefined;
    this.views.delete(agentId);
    for (const p of v.parents) removeFrom(this.parentRefs, p, agentId);
    return v;
  }

  /** Recomputes watched agents (notifying on a difference) and drops the rest for lazy recompute. */
  private refresh(affected: Set<string>): void {
    for (const agentId of affected) {
      const old = this.dropView(agentId);
      const listeners = this.watchers.get(agentId);
      if (!listeners || !old) continue;
      const next = this.view(agentId);
      const upserted: RegistrationEntry[] = [];
      for (const [id, e] of next.entries) {
        const before = old.entries.get(id);
        if (!before || before.revision !== e.revision) upserted.push(e);
      }
      const deletedIds = [...old.entries.keys()].filter((id) => !next.entries.has(id));
      if (!upserted.length && !deletedIds.length) continue;
      const change: AuthorizedChange = { upserted, deletedIds, sequence: this.seq };
      for (const l of [...listeners]) {
        try { l(change); } catch (err) { this.logger.error('entry index watcher threw', { err: err as Error, agent: agentId }); }
      }
    }
  }

  /** Agents whose view depends on `parentId`. */
  private refsOf(parentId: string, into: Set<string>): void {
    const s = this.parentRefs.get(parentId);
    if (s) for (const a of s) into.add(a);
  }

  /** A node-alias entry changed: every cached agent whose selectors cover its selectors may have joined or left. */
  private aliasAffected(e: RegistrationEntry, into: Set<string>): void {
    for (const agentId of this.views.keys()) {
      const st = this.agents.get(agentId);
      if (st && selectorsSubsetOf(e.selectors, st.selectors)) into.add(agentId);
    }
  }

  private entryAffected(e: RegistrationEntry, into: Set<string>): void {
    if (this.graph.isAlias(e)) this.aliasAffected(e, into);
    else this.refsOf(e.parentId.toString(), into);
  }

  // ---- change events ----

  private enqueue(ev: ChangeEvent): void {
    if (this.closed) return;
    this.pending.push(ev);
    if (this.loaded) this.kick();
  }

  private kick(): void {
    if (this.draining || this.closed) return;
    this.draining = this.drain().finally(() => { this.draining = undefined; if (this.pending.length && !this.closed) this.kick(); });
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.closed) {
      const batch = this.pending;
      this.pending = [];
      const entryIds = new Set<string>();
      const agentIds = new Set<string>();
      let maxSeq = this.seq;
      for (const ev of batch) {
        if (ev.seq > maxSeq) maxSeq = ev.seq;
        if (ev.kind === 'entry_upsert' || ev.kind === 'entry_delete') entryIds.add(ev.id);
        else if (ev.kind === 'agent_upsert' || ev.kind === 'agent_delete') agentIds.add(ev.id);
      }
      let entries: (RegistrationEntry | undefined)[];
      let agents: (AttestedAgent | undefined)[];
      try {
        [entries, agents] = await Promise.all([
          Promise.all([...entryIds].map((id) => this.store.getEntry(id))),
          Promise.all([...agentIds].map((id) => this.store.getAgent(id))),
        ]);
      } catch (err) {
        // The store is unreachable: keep the events and try again; answers stay as of the last good read.
        this.logger.warn('entry index could not re-read changed records; retrying', { err: err as Error });
        this.pending = [...batch, ...this.pending];
        await this.clock.sleep(RETRY_MS * (0.5 + Math.random()), this.closing.signal).catch(() => undefined);
        continue;
      }
      if (this.closed) return;
      this.seq = maxSeq;
      this.apply([...entryIds], entries, [...agentIds], agents);
    }
  }

  private apply(entryIds: string[], entries: (RegistrationEntry | undefined)[], agentIds: string[], agents: (AttestedAgent | undefined)[]): void {
    const affected = new Set<string>();
    entryIds.forEach((id, i) => {
      const next = entries[i];
      const prev = this.graph.byId.get(id);
      if (prev && next && prev.revision === next.revision) return; // replay of an applied write
      if (!prev && !next) return;
      this.graph.put(id, next ? Object.freeze(next) : undefined);
      if (prev) this.entryAffected(prev, affected);
      if (next) this.entryAffected(next, affected);
    });
    agentIds.forEach((id, i) => {
      const next = agents[i];
      const prev = this.agents.get(id);
      if (!next) {
        if (prev) { this.agents.delete(id); affected.add(id); }
        return;
      }
      const selectors = selectorSet(next.selectors);
      this.agents.set(id, { agent: Object.freeze(next), selectors });
      // A new serial or expiry does not change what the agent may have.
      if (!prev || prev.agent.banned !== next.banned || !sameSet(prev.selectors, selectors)) affected.add(id);
    });
    this.graph.takeExpired(this.nowSec()).forEach((e) => this.entryAffected(e, affected));
    this.refresh(affected);
    this.armTimer();
  }

  // ---- expiry ----

  /** Entries expire without a write: process them before answering, and on a timer for watchers. */
  private expireDue(): void {
    if (this.nowSec() < this.graph.nextExpiry) return;
    const affected = new Set<string>();
    for (const e of this.graph.takeExpired(this.nowSec())) this.entryAffected(e, affected);
    this.refresh(affected);
    this.armTimer();
  }

  private armTimer(): void {
    if (this.closed) return;
    const at = this.graph.nextExpiry;
    if (this.timer?.at === at) return;
    this.timer?.abort.abort();
    this.timer = undefined;
    if (at === Infinity) return;
    const abort = new AbortController();
    this.timer = { at, abort };
    const delay = Math.min(Math.max(0, at * 1000 - this.clock.now()), MAX_TIMER_MS);
    this.clock.sleep(delay, abort.signal).then(() => {
      if (abort.signal.aborted || this.closed) return;
      this.timer = undefined;
      this.expireDue();
      this.armTimer();
    }, () => undefined);
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

