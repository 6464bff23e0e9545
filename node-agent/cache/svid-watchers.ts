import type { Logger } from '../../common/logger.ts';
import type { AttestedWorkload } from '../workload-api/provider.ts';

interface Watch { w: AttestedWorkload; notify: () => void; keys: string[] }

/**
 * Which open streams are served which X.509-SVIDs: record key -> the watches of the
 * callers that SVID is served to. A new SVID for a key reaches exactly those streams,
 * at once, without waking every other stream of the agent. Keys follow the caller's
 * matching entries, so the index is rebuilt when entries change.
 */
export class SvidWatchers {
  private readonly byKey = new Map<string, Set<Watch>>();
  private readonly all = new Set<Watch>();

  constructor(private readonly keysOf: (w: AttestedWorkload) => string[], private readonly logger: Logger) {}

  add(w: AttestedWorkload, notify: () => void): () => void {
    const watch: Watch = { w, notify, keys: [] };
    this.all.add(watch);
    this.index(watch);
    return () => { this.unindex(watch); this.all.delete(watch); };
  }

  /** Whether an open stream is served this SVID. */
  has(key: string): boolean { return this.byKey.has(key); }

  notify(key: string): void {
    for (const watch of this.byKey.get(key) ?? []) {
      try { watch.notify(); } catch (e) { this.logger.error('SVID watcher failed', { err: e as Error }); }
    }
  }

  /** Entries changed: recompute every caller's keys. */
  reindex(): void {
    for (const watch of this.all) { this.unindex(watch); this.index(watch); }
  }

  private index(watch: Watch): void {
    watch.keys = this.keysOf(watch.w);
    for (const k of watch.keys) {
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, set = new Set());
      set.add(watch);
    }
  }

  private unindex(watch: Watch): void {
    for (const k of watch.keys) {
      const set = this.byKey.get(k);
      set?.delete(watch);
      if (set?.size === 0) this.byKey.delete(k);
    }
    watch.keys = [];
  }
}
