import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { TrustDomain } from '../../spiffe/id.ts';
import type { FederationRelationshipRecord, NewFederationRelationship } from '../datastore/sql-federation.ts';
import type { Datastore } from '../datastore/types.ts';
import { federationError } from './errors.ts';
import { BundleRefresher, type RefresherDeps, type RefreshStatus } from './refresher.ts';
import { sameParameters } from './relationship.ts';

/**
 * Runs one fetch loop (refresher.ts) per federation relationship. Relationships live in
 * the datastore; those of the config file are written there at start (source
 * 'config'; ones the config no longer names are removed), those of the admin API as
 * they come. Every server sharing the store follows the 'federation' change events, so
 * a relationship created on one server is fetched by all of them (each writes the same
 * bundle; an unchanged bundle is not written again).
 */
export type FederationStore = Pick<Datastore,
  'getBundle' | 'putBundle' | 'raiseFederationBundleSequence' | 'subscribe'
  | 'createFederationRelationship' | 'updateFederationRelationship' | 'deleteFederationRelationship'
  | 'getFederationRelationship' | 'listFederationRelationships'>;

export interface RelationshipView {
  relationship: FederationRelationshipRecord;
  /** Undefined until this server's loop for it has started. */
  status?: RefreshStatus;
}

export class FederationManager {
  private readonly refreshers = new Map<string, { r: BundleRefresher; stop: AbortController; done?: Promise<void> }>();
  private unsubscribe: () => void = () => {};
  private signal: AbortSignal | undefined;
  private queue: Promise<void> = Promise.resolve();

  private constructor(private readonly o: {
    own: TrustDomain; store: FederationStore; refresher: Omit<RefresherDeps, 'store'>; clock: Clock; logger: Logger;
  }) {}

  /** Writes the config file's relationships to the store and loads every relationship (loops start with run()). */
  static async open(o: {
    own: TrustDomain; store: FederationStore; configured: NewFederationRelationship[];
    refresher: Omit<RefresherDeps, 'store'>; clock: Clock; logger: Logger;
  }): Promise<FederationManager> {
    const m = new FederationManager(o);
    await m.applyConfig(o.configured);
    m.unsubscribe = o.store.subscribe((ev) => { if (ev.kind === 'federation') m.reload(ev.id); });
    return m;
  }

  /** Starts every relationship's loop; they stop when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    for (const rel of await this.o.store.listFederationRelationships()) this.start(rel);
    // Refreshed by hand before the loops started (refresh()): their loops start now.
    for (const x of this.refreshers.values()) x.done ??= x.r.run(AbortSignal.any([signal, x.stop.signal]));
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.unsubscribe();
    await Promise.allSettled([...this.refreshers.values()].map((x) => x.done));
  }

  async list(): Promise<RelationshipView[]> {
    return (await this.o.store.listFederationRelationships()).map((relationship) => this.view(relationship));
  }

  async get(trustDomain: string): Promise<RelationshipView> {
    const rel = await this.o.store.getFederationRelationship(trustDomain);
    if (!rel) throw notFound(trustDomain);
    return this.view(rel);
  }

  async exists(trustDomain: string): Promise<boolean> {
    return (await this.o.store.getFederationRelationship(trustDomain)) !== undefined;
  }

  async create(r: NewFederationRelationship): Promise<FederationRelationshipRecord> {
    const rel = await this.o.store.createFederationRelationship(r);
    this.logger.info('federation relationship created', describe(rel));
    return rel;
  }

  async update(r: NewFederationRelationship): Promise<FederationRelationshipRecord> {
    await this.refuseConfigured(r.trustDomain.name, 'updated');
    const rel = await this.o.store.updateFederationRelationship(r);
    this.logger.info('federation relationship updated', describe(rel));
    return rel;
  }

  async delete(trustDomain: string): Promise<void> {
    await this.refuseConfigured(trustDomain, 'deleted');
    if (!(await this.o.store.deleteFederationRelationship(trustDomain))) throw notFound(trustDomain);
    this.logger.info('federation relationship deleted', { trust_domain: trustDomain });
  }

  /** Fetches now on this server; rejects with the FederationError when the fetch fails. */
  async refresh(trustDomain: string): Promise<RelationshipView> {
    const rel = await this.o.store.getFederationRelationship(trustDomain);
    if (!rel) throw notFound(trustDomain);
    // The change event may not have reached us yet (a relationship just created).
    const running = this.refreshers.get(trustDomain)?.r ?? this.start(rel);
    await running.refresh();
    return this.view(rel);
  }

  close(): void { this.unsubscribe(); }

  private get logger(): Logger { return this.o.logger; }

  private view(relationship: FederationRelationshipRecord): RelationshipView {
    const r = this.refreshers.get(relationship.trustDomain.name)?.r;
    return r ? { relationship, status: r.status() } : { relationship };
  }

  private async refuseConfigured(trustDomain: string, verb: string): Promise<void> {
    const cur = await this.o.store.getFederationRelationship(trustDomain);
    if (!cur) throw notFound(trustDomain);
    if (cur.source === 'config') {
      throw federationError('ERR_FEDERATION_FROM_CONFIG', `the relationship with ${trustDomain} is defined in the server config file (federation.federates_with): it can only be ${verb} there`);
    }
  }

  private async applyConfig(configured: NewFederationRelationship[]): Promise<void> {
    const { store } = this.o;
    const names = new Set(configured.map((r) => r.trustDomain.name));
    for (const r of configured) {
      const cur = await store.getFederationRelationship(r.trustDomain.name);
      if (!cur) await store.createFederationRelationship(r);
      else if (cur.source !== 'config' || !sameParameters(cur, r)) await store.updateFederationRelationship(r);
    }
    for (const cur of await store.listFederationRelationships()) {
      if (cur.source === 'config' && !names.has(cur.trustDomain.name)) {
        await store.deleteFederationRelationship(cur.trustDomain.name);
        this.logger.warn('federation relationship removed: no longer in the config file', { trust_domain: cur.trustDomain.name });
      }
    }
  }

  /** A 'federation' change event: start, update or stop that relationship's loop. */
  private reload(trustDomain: string): void {
    this.queue = this.queue.then(async () => {
      if (!this.signal || this.signal.aborted) return;
      const rel = await this.o.store.getFederationRelationship(trustDomain);
      const running = this.refreshers.get(trustDomain);
      if (!rel) {
        if (running) { running.stop.abort(); this.refreshers.delete(trustDomain); }
        return;
      }
      if (running) running.r.update(rel); else this.start(rel);
    }).catch((err: unknown) => this.logger.warn('could not reload a federation relationship', { err: err as Error, trust_domain: trustDomain }));
  }

  private start(rel: FederationRelationshipRecord): BundleRefresher {
    const name = rel.trustDomain.name;
    const existing = this.refreshers.get(name);
    if (existing) return existing.r;
    const r = new BundleRefresher(rel, { ...this.o.refresher, store: this.o.store, logger: this.logger.child({ federated_trust_domain: name }) });
    const stop = new AbortController();
    const done = this.signal ? r.run(AbortSignal.any([this.signal, stop.signal])) : undefined;
    this.refreshers.set(name, { r, stop, done });
    return r;
  }
}

function notFound(trustDomain: string) {
  return federationError('ERR_FEDERATION_NOT_FOUND', `no federation relationship with trust domain "${trustDomain}" (see federation list)`);
}

function describe(r: FederationRelationshipRecord): Record<string, unknown> {
  return { trust_domain: r.trustDomain.name, url: r.bundleEndpointUrl, profile: r.profile, endpoint_spiffe_id: r.endpointSpiffeId?.toString(), source: r.source };
}
