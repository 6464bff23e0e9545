import type { Logger } from '../../common/logger.ts';
import type { ChangeEvent } from './types.ts';

/**
 * Change-event subscribers. A throwing listener is logged and skipped: one bad
 * consumer must not stop the others (or the writer that triggered the event).
 */
export class ChangeListeners {
  private listeners = new Set<(ev: ChangeEvent) => void>();
  constructor(private readonly logger: Logger) {}

  add(listener: (ev: ChangeEvent) => void): () => void {
    // Wrapped so the same function can subscribe twice and unsubscribe each independently.
    const entry = (ev: ChangeEvent) => listener(ev);
    this.listeners.add(entry);
    return () => { this.listeners.delete(entry); };
  }

  emit(ev: ChangeEvent): void {
    for (const l of [...this.listeners]) {
      try { l(ev); } catch (err) {
        this.logger.error('datastore change listener threw', { err: err as Error, seq: ev.seq, kind: ev.kind });
      }
    }
  }

  get size(): number { return this.listeners.size; }
  clear(): void { this.listeners.clear(); }
}
