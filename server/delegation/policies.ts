import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import { evaluateExchange } from './policy-engine.ts';
import { fromStored } from './policy-record.ts';
import type { DelegationPolicy, ExchangeDecision, ExchangeInput } from './types.ts';

const RETRY_MS = 1000;

export interface PolicyCacheOptions {
  clock: Clock;
  logger: Logger;
  /** Aborting stops following the store (same as close()). */
  signal?: AbortSignal;
}

/**
 * Every delegation policy in memory, loaded once and kept current from the store's
 * change feed ('delegation_policy' events, which on PostgreSQL include other servers'
 * writes): the token endpoint decides without a datastore read per request.
 */
export class PolicyCache {
  private readonly byId = new Map<string, DelegationPolicy>();
  private sorted: readonly DelegationPolicy[] = [];
  private pending = new Set<string>();
  private draining: Promise<void> | undefined;
  private loaded = false;
  private readonly closing = new AbortController();
  private unsubscribe: () => void = () => undefined;
  private readonly changeListeners = new Set<(policyId: string) => void>();

  private constructor(private readonly store: Datastore, private readonly clock: Clock, private readonly logger: Logger) {}

  static async load(store: Datastore, opts: PolicyCacheOptions): Promise<PolicyCache> {
    const cache = new PolicyCache(store, opts.clock, opts.logger.child({ component: 'delegation-policies' }));
    opts.signal?.addEventListener('abort', () => cache.close(), { once: true });
    // Subscribe first, load second: a write racing the load is re-read afterwards.
    cache.unsubscribe = store.subscribe((ev) => {
      if (ev.kind !== 'delegation_policy') return;
      cache.pending.add(ev.id);
      if (cache.loaded) cache.kick();
    });
    try {
      for (const p of await store.listDelegationPolicies()) cache.byId.set(p.id, Object.freeze(fromStored(p)));
    } catch (err) {
      cache.close();
      throw err;
    }
    cache.resort();
    cache.loaded = true;
    cache.logger.info('delegation policies loaded', { policies: cache.byId.size });
    if (cache.pending.size) cache.kick();
    return cache;
  }

  /** Every policy, ordered by id (shared frozen objects). */
  list(): readonly DelegationPolicy[] { return this.sorted; }

  get(id: string): DelegationPolicy | undefined { return this.byId.get(id); }

  /** The policy decision against the current policies (see policy-engine.ts). */
  evaluate(input: ExchangeInput): ExchangeDecision { return evaluateExchange(input, this.sorted); }

  /** Called after each applied change (create, update or delete) with the policy id. */
  onChange(listener: (policyId: string) => void): () => void {
    const l = (id: string) => listener(id);
    this.changeListeners.add(l);
    return () => { this.changeListeners.delete(l); };
  }

  /** Resolves once every change heard so far is applied (tests, orderly shutdown). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  close(): void {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.unsubscribe();
    this.changeListeners.clear();
  }

  private kick(): void {
    if (this.draining || this.closing.signal.aborted) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.size && !this.closing.signal.aborted) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size && !this.closing.signal.aborted) {
      const ids = [...this.pending];
      this.pending.clear();
      let fresh: (DelegationPolicy | undefined)[];
      try {
        fresh = await Promise.all(ids.map((id) => this.store.getDelegationPolicy(id)));
      } catch (err) {
        // Store unreachable: decisions stay as of the last good read; try again.
        this.logger.warn('could not re-read changed delegation policies; retrying', { err: err as Error });
        for (const id of ids) this.pending.add(id);
        await this.clock.sleep(RETRY_MS * (0.5 + Math.random()), this.closing.signal).catch(() => undefined);
        continue;
      }
      if (this.closing.signal.aborted) return;
      ids.forEach((id, i) => {
        const p = fresh[i];
        if (p) this.byId.set(id, Object.freeze(fromStored(p)));
        else this.byId.delete(id);
      });
      this.resort();
      for (const id of ids) {
        for (const l of [...this.changeListeners]) {
          try { l(id); } catch (err) { this.logger.error('policy change listener threw', { err: err as Error }); }
        }
      }
    }
  }

  private resort(): void {
    this.sorted = Object.freeze([...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }
}
