import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import { auditRevocation, type AuditDeps, type RevocationContext } from './audit.ts';
import type { RevocableToken, RevocationKind, RevocationRecord } from './types.ts';

const RETRY_MS = 1000;
const DEFAULT_PRUNE_MS = 60_000;
/**
 * Records stay this long past expires_at (memory and store): a verifier may accept a
 * token up to its clock-skew leeway after exp, and the record must still match it then.
 */
export const REVOCATION_GRACE_S = 60;

export interface RevocationIndexOptions {
  clock: Clock;
  logger: Logger;
  /** Stops following the store and the pruning loop. */
  signal: AbortSignal;
  /** How often expired records are dropped (memory and store). Default 60 s. */
  pruneIntervalMs?: number;
}

export interface RevocationSnapshot {
  /** The highest revocation seq this index has applied (0: none yet). */
  seq: number;
  /** Every live record, in seq order. */
  revocations: RevocationRecord[];
}

/**
 * Writes one revocation record (at = now, expires_at = at + maxTokenTtl: after that no
 * token it could match is alive) and audits it. Every server's index learns it from the
 * change feed; RevocationIndex.revoke also waits until its own index applied it.
 */
export async function writeRevocation(d: AuditDeps, kind: RevocationKind, value: string, by: string, maxTokenTtl: number,
  ctx?: RevocationContext): Promise<RevocationRecord> {
  const at = Math.floor(d.clock.now() / 1000);
  const rec = await d.store.addRevocation({ kind, value, at, expiresAt: at + maxTokenTtl, by });
  await auditRevocation(d, rec, ctx);
  return rec;
}

/**
 * The live revocation records in memory, answering "is this token revoked?" without a
 * datastore read (docs/delegation.md "Revocation"). Loaded from the store, kept current
 * from its change feed ('revocation' events: this server's writes and, on PostgreSQL,
 * every other server's), applied strictly in seq order. Subscribers (the push feed)
 * hear each new record once, in seq order, wherever it was written.
 */
export class RevocationIndex {
  private readonly records = new Map<number, RevocationRecord>();
  private readonly byKind: Record<RevocationKind, Map<string, RevocationRecord[]>> = {
    grant: new Map(), jti: new Map(), subject: new Map(), actor: new Map(), biscuit: new Map(),
  };
  private lastSeq = 0;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private readonly listeners = new Set<(rec: RevocationRecord) => void>();
  private readonly closing = new AbortController();
  private unsubscribe: () => void = () => undefined;

  private constructor(private readonly store: Datastore, private readonly clock: Clock, private readonly logger: Logger) {}

  static async load(store: Datastore, opts: RevocationIndexOptions): Promise<RevocationIndex> {
    const index = new RevocationIndex(store, opts.clock, opts.logger.child({ component: 'revocations' }));
    if (opts.signal.aborted) throw opts.signal.reason ?? new Error('aborted');
    opts.signal.addEventListener('abort', () => index.close(), { once: true });
    let loaded = false;
    // Subscribe first, load second; an event racing the load triggers a read after it.
    index.unsubscribe = store.subscribe((ev) => {
      if (ev.kind === 'revocation' && loaded && Number(ev.id) > index.lastSeq) void index.catchUp();
    });
    try {
      const live = await store.listRevocations({ liveAt: index.nowSec() - REVOCATION_GRACE_S });
      for (const r of live) index.apply(r, false);
    } catch (err) {
      index.close();
      throw err;
    }
    loaded = true;
    await index.catchUp();
    index.logger.info('revocation index loaded', { revocations: index.records.size, seq: index.lastSeq });
    void index.pruneLoop(opts.pruneIntervalMs ?? DEFAULT_PRUNE_MS);
    return index;
  }

  /** The highest revocation seq applied. */
  get seq(): number { return this.lastSeq; }

  get size(): number { return this.records.size; }

  /** The first record that revokes this token, or undefined. */
  isRevoked(t: RevocableToken): RevocationRecord | undefined {
    const { grant, jti, subject, actor } = this.byKind;
    const g = grant.get(t.grantId)?.[0];
    if (g) return g;
    for (const id of [t.jti, ...t.chain]) {
      const j = jti.get(id)?.[0];
      if (j) return j;
    }
    // subject/actor records revoke what was issued at or before the revocation, not after.
    const s = subject.get(t.sub)?.find((r) => t.iat <= r.at);
    if (s) return s;
    for (const a of t.actors) {
      const r = actor.get(a)?.find((x) => t.iat <= x.at);
      if (r) return r;
    }
    // A Biscuit block's revocation id revokes every token derived from that block.
    for (const id of t.biscuitIds ?? []) {
      const b = this.byKind.biscuit.get(id)?.[0];
      if (b) return b;
    }
    return undefined;
  }

  /**
   * Writes a revocation record (expires_at = now + maxTokenTtl: after that no token it
   * could match is alive), audits it, and resolves once this index (and so this
   * server's feed subscribers) has applied it.
   */
  async revoke(kind: RevocationKind, value: string, by: string, maxTokenTtl: number, ctx?: RevocationContext): Promise<RevocationRecord> {
    const rec = await writeRevocation({ store: this.store, clock: this.clock, logger: this.logger }, kind, value, by, maxTokenTtl, ctx);
    while (this.lastSeq < rec.seq && !this.closing.signal.aborted) await this.catchUp();
    return rec;
  }

  /** Every live record, in seq order, with the seq they reflect. */
  snapshot(): RevocationSnapshot {
    return { seq: this.lastSeq, revocations: [...this.records.values()].sort((a, b) => a.seq - b.seq) };
  }

  /**
   * The live records after `seq`, for a subscriber resuming with ?since: undefined when
   * this index cannot say (a seq it has never reached: another database, or a reset).
   * Expired records after `seq` are not needed: they match no live token.
   */
  since(seq: number): RevocationRecord[] | undefined {
    if (seq > this.lastSeq) return undefined;
    return this.snapshot().revocations.filter((r) => r.seq > seq);
  }

  /** Called once per new record, in seq order, whichever server wrote it. */
  subscribe(listener: (rec: RevocationRecord) => void): () => void {
    const l = (r: RevocationRecord) => listener(r);
    this.listeners.add(l);
    return () => { this.listeners.delete(l); };
  }

  /** Drops records expired (plus grace) by now; returns how many went. */
  pruneMemory(): number {
    const cutoff = this.nowSec() - REVOCATION_GRACE_S;
    let n = 0;
    for (const r of [...this.records.values()]) {
      if (r.expiresAt > cutoff) continue;
      this.records.delete(r.seq);
      const m = this.byKind[r.kind];
      const left = (m.get(r.value) ?? []).filter((x) => x.seq !== r.seq);
      if (left.length) m.set(r.value, left); else m.delete(r.value);
      n++;
    }
    return n;
  }

  close(): void {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.unsubscribe();
    this.listeners.clear();
  }

  private nowSec(): number { return Math.floor(this.clock.now() / 1000); }

  private apply(r: RevocationRecord, notify: boolean): void {
    if (r.seq <= this.lastSeq) return; // already applied (reads are in seq order)
    this.lastSeq = r.seq;
    if (r.expiresAt <= this.nowSec() - REVOCATION_GRACE_S) return; // matches nothing alive
    this.records.set(r.seq, r);
    const m = this.byKind[r.kind];
    const list = m.get(r.value);
    // Latest `at` first: for subject/actor records it covers the most tokens.
    if (list) { list.push(r); list.sort((a, b) => b.at - a.at); } else m.set(r.value, [r]);
    if (!notify) return;
    for (const l of [...this.listeners]) {
      try { l(r); } catch (err) { this.logger.error('revocation listener threw', { err: err as Error, seq: r.seq }); }
    }
  }

  /** Reads and applies every record after lastSeq; one reader at a time, re-run when poked meanwhile. */
  private catchUp(): Promise<void> {
    if (this.reading) { this.readAgain = true; return this.reading; }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        try {
          for (const r of await this.store.listRevocations({ afterSeq: this.lastSeq })) this.apply(r, true);
        } catch (err) {
          if (this.closing.signal.aborted) return;
          // Store unreachable: answers stay as of the last read; the next event or retry catches up.
          this.logger.warn('could not read new revocations; retrying', { err: err as Error });
          this.readAgain = true;
          await this.clock.sleep(RETRY_MS * (0.5 + Math.random()), this.closing.signal).catch(() => undefined);
        }
      } while (this.readAgain && !this.closing.signal.aborted);
    })().finally(() => { this.reading = undefined; });
    return this.reading;
  }

  private async pruneLoop(intervalMs: number): Promise<void> {
    const signal = this.closing.signal;
    while (!signal.aborted) {
      try { await this.clock.sleep(intervalMs, signal); } catch { return; }
      const n = this.pruneMemory();
      try {
        // Every server prunes; the DELETE is idempotent.
        const gone = await this.store.pruneRevocations(this.nowSec() - REVOCATION_GRACE_S);
        if (n || gone) this.logger.debug('pruned expired revocations', { memory: n, store: gone });
      } catch (err) {
        if (!signal.aborted) this.logger.warn('could not prune expired revocations', { err: err as Error });
      }
    }
  }
}
