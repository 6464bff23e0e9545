import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { permissionDenied } from '../../common/errors.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { privateJwk } from '../../spiffe/wit/jwk.ts';
import type { EntryCache, SyncedEntry } from '../sync/entry-cache.ts';
import type { AttestedWorkload } from '../workload-api/provider.ts';
import { rotationTime } from '../cache/rotation.ts';
import { LoopSleep } from '../cache/loop-sleep.ts';
import type { WitMinter } from './minter.ts';

const generate = promisify(generateKeyPair);
/** The workload key type: P-256, so proofs are ES256, which every WIMSE implementation must support. */
const ALG = 'ES256';
/** The loop's longest sleep: unwatched WIT-SVIDs are dropped at expiry, watched ones rotated, in between. */
const SWEEP_MS = 30_000;

/** One WIT-SVID as served: the token and the private key of its cnf, as a JWK (wit_svid_key). */
export interface WitRecord {
  key: string;
  entryId: string;
  revision: number;
  instanceId: string;
  spiffeId: string;
  hint: string;
  token: string;
  privateJwk: string;
  issuedAt: number;
  expiresAt: number;
  refreshAt: number;
}

export interface WitCacheOptions {
  entries: EntryCache;
  minter: WitMinter;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Retries of failed rotations. Default 1 s → 30 s, full jitter. */
  retryBackoff?: Backoff;
}

interface Watcher { w: AttestedWorkload; notify: () => void }

/**
 * WIT-SVIDs the agent holds for its workloads. The key pair of each one is generated
 * here, in the agent (the Workload API hands the workload the private key, WIT-SVID
 * profile 7.1), fresh for every WIT-SVID (the WPT draft: SHOULD be individual per WIT).
 * Minted on first need, one per entry, or per workload instance for entries with agent
 * metadata; rotated at half-life ±10% while a stream serves them; the previous one
 * serves until it expires if the server cannot be reached. Those no stream serves are
 * dropped when they expire. Once the agent is revoked nothing is minted or rotated.
 */
export class WitCache {
  private readonly records = new Map<string, WitRecord>();
  private readonly pending = new Map<string, Promise<WitRecord>>();
  private readonly watchers = new Set<Watcher>();
  private readonly backoff: Backoff;
  /** The run loop's sleep until the next rotation or expiry. */
  private readonly sleep: LoopSleep;
  private stopReason: string | undefined;

  constructor(private readonly o: WitCacheOptions) {
    this.backoff = o.retryBackoff ?? new Backoff({ initialMs: 1_000, maxMs: 30_000 });
    this.sleep = new LoopSleep(o.clock, () => this.pending.size > 0);
  }

  get size(): number { return this.records.size; }

  /** The caller's WIT-SVIDs (default identity first; hints unique, first wins); [] = no identity. */
  async svidsFor(w: AttestedWorkload, spiffeId?: string): Promise<WitRecord[]> {
    const now = this.o.clock.now();
    let matched = this.o.entries.match(w.selectors, now);
    if (spiffeId) matched = matched.filter((e) => e.spiffeId === spiffeId);
    const got = await Promise.all(matched.map((e) => this.recordFor(e, w).catch((err: Error) => err)));
    const out: WitRecord[] = [];
    const hints = new Set<string>();
    let failure: Error | undefined;
    for (const r of got) {
      if (r instanceof Error) { failure = r; continue; }
      if (r.hint) { if (hints.has(r.hint)) continue; hints.add(r.hint); }
      out.push(r);
    }
    if (out.length === 0 && failure) throw failure;
    return out;
  }

  /** Calls `notify` whenever a WIT-SVID `w` is served is replaced (rotation), until the returned function runs. */
  watch(w: AttestedWorkload, notify: () => void): () => void {
    const entry = { w, notify };
    this.watchers.add(entry);
    // What it is served may already be held, unwatched, and due for rotation sooner than planned.
    this.sleep.rouse();
    return () => { this.watchers.delete(entry); };
  }

  /** The agent was banned or evicted: no more minting or rotation; what is held serves until it expires. */
  stopIssuing(reason: string): void {
    this.stopReason = reason;
    this.sleep.rouse();
  }

  /**
   * Resolves once the run loop has done what was due and sleeps until a time still
   * ahead, with no mint in flight: tests that move a fake clock wait on this.
   */
  idle(): Promise<void> {
    return this.sleep.idle();
  }

  /** Rotation of watched WIT-SVIDs and dropping of expired unwatched ones, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const now = this.o.clock.now();
      // Revoked: nothing is wanted, so nothing rotates and everything goes at expiry.
      const wanted = this.stopReason ? new Map<string, SyncedEntry & { instanceId: string }>() : this.watchedKeys(now);
      let next = now + SWEEP_MS;
      for (const [k, r] of this.records) {
        if (r.expiresAt <= now && !wanted.has(k)) {
          this.records.delete(k);
          this.o.logger.debug('dropped WIT-SVID', { entry_id: r.entryId, instance_id: r.instanceId || undefined, reason: 'expired' });
          continue;
        }
        next = Math.min(next, wanted.has(k) ? r.refreshAt : r.expiresAt);
      }
      if (next > now) { await this.sleep.until(next, signal); continue; }
      await this.rotateDue(wanted);
    }
  }

  private async rotateDue(wanted: Map<string, SyncedEntry & { instanceId: string }>): Promise<void> {
    const now = this.o.clock.now();
    const due = [...this.records.values()].filter((r) => r.refreshAt <= now && wanted.has(r.key));
    const results = await Promise.allSettled(due.map((r) => this.mint(r.key, wanted.get(r.key)!, r.instanceId)));
    const failed = results.filter((x) => x.status === 'rejected').length;
    if (failed === 0) { if (due.length) this.o.logger.info('rotated WIT-SVIDs', { rotated: due.length }); this.backoff.reset(); return; }
    // Serve the current ones while valid; try again later (never in a tight loop).
    const retryAt = this.o.clock.now() + this.backoff.next();
    for (const r of due) { const cur = this.records.get(r.key); if (cur === r) r.refreshAt = Math.min(retryAt, Math.max(r.expiresAt - 1_000, now + 1_000)); }
    this.o.logger.warn('WIT-SVID rotation failed; serving current ones while valid', { failed, of: due.length, err: (results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason as Error });
  }

  /** Record keys of every watched workload's current entries, with the entry and instance to mint for. */
  private watchedKeys(now: number): Map<string, SyncedEntry & { instanceId: string }> {
    const out = new Map<string, SyncedEntry & { instanceId: string }>();
    for (const { w } of this.watchers) {
      for (const e of this.o.entries.match(w.selectors, now)) {
        const instanceId = e.perInstance ? w.instanceId : '';
        out.set(recordKey(e.id, instanceId), { ...e, instanceId });
      }
    }
    return out;
  }

  private async recordFor(e: SyncedEntry, w: AttestedWorkload): Promise<WitRecord> {
    const instanceId = e.perInstance ? w.instanceId : '';
    const key = recordKey(e.id, instanceId);
    const rec = this.records.get(key);
    const now = this.o.clock.now();
    if (rec && rec.revision === e.revision && now < rec.refreshAt) return rec;
    try {
      return await this.mint(key, e, instanceId);
    } catch (err) {
      if (rec && rec.revision === e.revision && now < rec.expiresAt) return rec;
      throw err;
    }
  }

  private mint(key: string, e: SyncedEntry, instanceId: string): Promise<WitRecord> {
    let p = this.pending.get(key);
    if (p) return p;
    if (this.stopReason) return Promise.reject(permissionDenied('ERR_AGENT_REVOKED', `agent no longer issues WIT-SVIDs: ${this.stopReason}`));
    p = (async () => {
      const { publicKey, privateKey } = await generate('ec', { namedCurve: 'P-256' }) as { publicKey: KeyObject; privateKey: KeyObject };
      const r = await this.o.minter.mintWitSvid({ entryId: e.id, instanceId, publicKey: publicKey.export({ type: 'spki', format: 'der' }), alg: ALG });
      const issuedAt = this.o.clock.now();
      const expiresAt = r.expiresAt * 1000;
      if (!(expiresAt > issuedAt)) throw permissionDenied('ERR_WIT_EXPIRED', `server returned a WIT-SVID for ${e.spiffeId} that is already expired`);
      const rec: WitRecord = {
        key, entryId: e.id, revision: e.revision, instanceId, spiffeId: e.spiffeId, hint: e.hint, token: r.token,
        privateJwk: JSON.stringify(privateJwk(privateKey, ALG)), issuedAt, expiresAt,
        refreshAt: rotationTime(issuedAt, expiresAt, this.o.random ?? Math.random, issuedAt),
      };
      // The entry may have gone while the server signed: then nothing is kept.
      if (this.o.entries.get(e.id)) this.publish(rec);
      return rec;
    })().finally(() => { this.pending.delete(key); this.sleep.check(); });
    this.pending.set(key, p);
    return p;
  }

  /** The one place a new WIT-SVID becomes current: kept, the run loop re-plans, and streams serving it are told. */
  private publish(rec: WitRecord): void {
    const old = this.records.get(rec.key);
    this.records.set(rec.key, rec);
    this.sleep.rouse(rec.refreshAt);
    if (!old) return;
    const now = this.o.clock.now();
    for (const { w, notify } of this.watchers) {
      const serves = this.o.entries.match(w.selectors, now).some((e) => recordKey(e.id, e.perInstance ? w.instanceId : '') === rec.key);
      if (serves) notify();
    }
  }
}

function recordKey(entryId: string, instanceId: string): string {
  return JSON.stringify([entryId, instanceId]);
}
