import type { ChangeEvent, Datastore } from '../datastore/types.ts';

/**
 * Entry and agent counts for the gauges, without a datastore scan per scrape: the ids
 * are listed once, at the first scrape, and then kept current from the change feed
 * (on PostgreSQL that feed carries every server's writes). Events that arrive while
 * the listing runs may or may not be reflected in it, so each of those is re-read.
 */
export class StoreCounts {
  private entries = new Set<string>();
  private agents = new Set<string>();
  private loading: Promise<void> | undefined;
  private unsubscribe = () => {};

  constructor(private readonly store: Pick<Datastore, 'subscribe' | 'listEntries' | 'listAgents' | 'getEntry' | 'getAgent'>) {}

  async counts(): Promise<{ entries: number; agents: number }> {
    this.loading ??= this.load().catch((e: unknown) => { this.unsubscribe(); this.loading = undefined; throw e; });
    await this.loading;
    return { entries: this.entries.size, agents: this.agents.size };
  }

  close(): void {
    this.unsubscribe();
  }

  private async load(): Promise<void> {
    const queued: ChangeEvent[] = [];
    let live = false;
    this.unsubscribe = this.store.subscribe((ev) => { if (live) this.apply(ev); else queued.push(ev); });
    const [entries, agents] = await Promise.all([this.store.listEntries(), this.store.listAgents()]);
    this.entries = new Set(entries.map((e) => e.id));
    this.agents = new Set(agents.map((a) => a.spiffeId.toString()));
    for (let ev = queued.shift(); ev; ev = queued.shift()) await this.recheck(ev);
    live = true; // no await since the queue emptied: nothing can fall in between
  }

  private apply(ev: ChangeEvent): void {
    if (ev.kind === 'entry_upsert') this.entries.add(ev.id);
    else if (ev.kind === 'entry_delete') this.entries.delete(ev.id);
    else if (ev.kind === 'agent_upsert') this.agents.add(ev.id);
    else if (ev.kind === 'agent_delete') this.agents.delete(ev.id);
  }

  private async recheck(ev: ChangeEvent): Promise<void> {
    if (ev.kind === 'entry_upsert' || ev.kind === 'entry_delete') {
      if (await this.store.getEntry(ev.id)) this.entries.add(ev.id); else this.entries.delete(ev.id);
    } else if (ev.kind === 'agent_upsert' || ev.kind === 'agent_delete') {
      if (await this.store.getAgent(ev.id)) this.agents.add(ev.id); else this.agents.delete(ev.id);
    }
  }
}
