import { TrustDomain } from '../../spiffe/id.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { JwtBundleSource } from '../../spiffe/bundle/jwtbundle.ts';
import type { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { verifyJwtSvid } from '../../spiffe/jwtsvid/verify.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { rateLimited } from '../../common/logger.ts';
import { permissionDenied } from '../../common/errors.ts';
import type {
  AttestedWorkload, IdentityProvider, WorkloadJwtSvid, WorkloadX509Svid,
} from '../workload-api/provider.ts';
import type { TrustBundle } from '../bootstrap/bundle.ts';
import type { EntryCache, EntryChange, SyncedEntry } from '../sync/entry-cache.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { X509Minter, type SvidSigner } from './x509-minter.ts';
import { JwtCache, jwtCacheKey, type JwtRecord } from './jwt-cache.ts';
import { jwtBundleJwks, jwtSpiffeBundle } from './jwks.ts';
import { jwtRefreshTime, rotationTime } from './rotation.ts';
import { RefusalRetries } from './refusals.ts';
import { RetryGate } from './retry-gate.ts';
import { LoopSleep } from './loop-sleep.ts';
import { SvidWatchers } from './svid-watchers.ts';
import { placeholder, recordKey, type X509Record } from './x509-record.ts';
import { issuerKeyId, jwtKid, TaintedAuthorities } from './taint.ts';

/**
 * The agent's SVID cache and the Workload API's IdentityProvider. Callers match
 * synced entries by selectors (entry selectors ⊆ caller selectors). X.509-SVIDs are
 * minted on first need through batched CSRs: one shared SVID per entry, or, for
 * entries with agent metadata, one per workload instance (dropped when the process
 * is gone or idle). They are rotated at half-life ±10% in batches. Every new SVID,
 * minted on demand or by rotation, goes through one place (`publish`) that tells
 * every stream serving that identity at once. While the server is unreachable the
 * cache keeps serving SVIDs that are still valid, and all calls to the server follow
 * one retry schedule (RetryGate); an SVID that expired meanwhile is re-minted on the
 * first attempt that gets through. A rotation the server refuses is retried on its own
 * backoff but before the SVID expires, and at once when the refusal's cause may have
 * cleared (the agent SVID was renewed, the entry sync reconnected). JWT-SVIDs are
 * minted on demand and reused until half-life.
 */
export interface SvidCacheOptions {
  entries: EntryCache;
  signer: SvidSigner;
  bundle: TrustBundle;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Per-instance SVIDs not fetched for this long are dropped at their next rotation. Default 10 min. */
  instanceIdleMs?: number;
  /** How often to look for exited workload processes. Default 30 s. */
  sweepMs?: number;
  /** Whether a workload process still exists (default: kill(pid, 0)). */
  processAlive?: (pid: number) => boolean;
  /** The shared retry schedule while the server is unreachable. Default 1 s → 30 s, full jitter. */
  retryBackoff?: Backoff;
  /** Retries of rotations the server refused. Default 1 s → 30 s, full jitter. */
  refusalBackoff?: Backoff;
  /** Told after each rotation batch how many SVIDs were re-minted and how many failed (metrics). */
  onRotation?: (rotated: number, failed: number) => void;
}

/** How often a message that every request can cause is logged, at most. */
const REQUEST_LOG_INTERVAL_MS = 10_000;

export class SvidCache implements IdentityProvider {
  private readonly o: Required<Omit<SvidCacheOptions, 'retryBackoff' | 'refusalBackoff'>> & { retryBackoff: Backoff };
  private readonly minter: X509Minter;
  private readonly records = new Map<string, X509Record>();
  private readonly pending = new Map<string, Promise<X509Record>>();
  private readonly jwts = new JwtCache();
  private readonly pendingJwts = new Map<string, Promise<JwtRecord>>();
  private readonly listeners = new Set<() => void>();
  private readonly watchers: SvidWatchers;
  private readonly gate: RetryGate;
  private readonly signer: SvidSigner;
  /** For lines each request can cause (one per fetch while the server is down). */
  private readonly requestLog: Logger;
  /** Rotation retries of SVIDs the server refused (it answered: not an outage). */
  private readonly refusals: RefusalRetries;
  private readonly tainted = new TaintedAuthorities();
  private bundle: TrustBundle;
  /** Built from `bundle` on first JWT use and dropped when the bundle changes. */
  private jwtBundle: SpiffeBundle | undefined;
  private jwks: Uint8Array | undefined;
  private jwtSource: JwtBundleSource | undefined;
  private stopReason: string | undefined;
  private emitQueued = false;
  /** The run loop's sleep until its next due time. */
  private readonly sleep: LoopSleep;

  constructor(opts: SvidCacheOptions) {
    this.o = {
      random: Math.random, instanceIdleMs: 600_000, sweepMs: 30_000, processAlive, onRotation: () => {}, ...opts,
      retryBackoff: opts.retryBackoff ?? new Backoff({ initialMs: 1_000, maxMs: 30_000 }),
    };
    this.refusals = new RefusalRetries(opts.refusalBackoff);
    this.sleep = new LoopSleep(opts.clock, () => this.pending.size > 0 || this.pendingJwts.size > 0);
    this.bundle = opts.bundle;
    this.gate = new RetryGate({ backoff: this.o.retryBackoff, clock: opts.clock, logger: opts.logger });
    this.signer = this.gate.guard(opts.signer);
    this.minter = new X509Minter(this.signer, opts.logger);
    this.requestLog = rateLimited(opts.logger, REQUEST_LOG_INTERVAL_MS, () => opts.clock.now());
    this.watchers = new SvidWatchers((w) => this.o.entries.match(w.selectors, this.o.clock.now()).map((e) => recordKey(e, w)), opts.logger);
    opts.entries.onChange((c) => this.onEntries(c));
    // A renewed agent SVID (or bundle) is a new channel: what it refused, it may now sign.
    opts.signer.onCredentialsChange?.(() => { if (this.retryRefused('agent credentials changed')) this.sleep.rouse(); });
  }

  /** Cached X.509-SVIDs (shared + per-instance) and JWT-SVIDs. */
  get stats(): { x509: number; jwt: number; entries: number } {
    return { x509: this.records.size, jwt: this.jwts.size, entries: this.o.entries.size };
  }

  // ---- IdentityProvider ----

  hasIdentity(w: AttestedWorkload): boolean {
    return this.o.entries.match(w.selectors, this.o.clock.now()).length > 0;
  }

  async x509Svids(w: AttestedWorkload): Promise<WorkloadX509Svid[]> {
    const now = this.o.clock.now();
    const matched = this.o.entries.match(w.selectors, now);
    if (matched.length === 0) return [];
    const got = await Promise.all(matched.map((e) => this.x509For(e, w, now)));
    const out: WorkloadX509Svid[] = [];
    const hints = new Set<string>();
    let failure: Error | undefined;
    for (const r of got) {
      if (r instanceof Error) { failure = r; continue; }
      // Hints must be unique within a response: the first (oldest entry) wins.
      if (r.hint) { if (hints.has(r.hint)) continue; hints.add(r.hint); }
      out.push(this.view(r));
    }
    if (out.length === 0 && failure) throw failure;
    return out;
  }

  async jwtSvids(w: AttestedWorkload, audience: string[], spiffeId?: string): Promise<WorkloadJwtSvid[]> {
    const now = this.o.clock.now();
    let matched = this.o.entries.match(w.selectors, now);
    if (spiffeId) matched = matched.filter((e) => e.spiffeId === spiffeId);
    const got = await Promise.all(matched.map((e) => this.jwtFor(e, w, audience).catch((err: Error) => err)));
    const out: WorkloadJwtSvid[] = [];
    let failure: Error | undefined;
    got.forEach((r, i) => {
      if (r instanceof Error) { failure = r; return; }
      out.push({ spiffeId: matched[i]!.spiffeId, token: r.token, hint: matched[i]!.hint, expiresAt: r.expiresAt });
    });
    if (out.length === 0 && failure) throw failure;
    return out;
  }

  x509Bundles(): Map<string, Uint8Array[]> {
    return new Map([[this.bundle.trustDomain.idString, this.bundle.x509Authorities]]);
  }

  jwtBundles(): Map<string, Uint8Array> {
    this.jwks ??= jwtBundleJwks(this.spiffeJwtBundle());
    return new Map([[this.bundle.trustDomain.idString, this.jwks]]);
  }

  async validateJwtSvid(token: string, audience: string): Promise<{ spiffeId: string; claims: Record<string, unknown> }> {
    if (!this.jwtSource) {
      const b = this.spiffeJwtBundle().jwtBundle();
      this.jwtSource = { getJwtBundleForTrustDomain: (td: TrustDomain) => (td.equals(b.trustDomain) ? b : undefined) };
    }
    const svid = await verifyJwtSvid(token, this.jwtSource, audience, { now: new Date(this.o.clock.now()) });
    return { spiffeId: svid.id.toString(), claims: svid.claims };
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  watchX509Svids(w: AttestedWorkload, notify: () => void): () => void {
    return this.watchers.add(w, notify);
  }

  // ---- agent wiring ----

  setBundle(b: TrustBundle): void {
    this.bundle = b;
    this.jwtBundle = undefined;
    this.jwks = undefined;
    this.jwtSource = undefined;
    this.emit();
  }

  /**
   * Authorities the operator tainted (from the bundle on the sync stream): every SVID
   * they signed is due now and re-minted in one batch; JWT-SVIDs they signed are dropped.
   */
  setTaint(x509Ids: readonly string[], jwtKids: readonly string[]): void {
    const added = this.tainted.update(x509Ids, jwtKids);
    if (added.jwt.length > 0) this.jwts.dropWhere((r) => this.tainted.jwtTainted(r.kid));
    if (added.x509.length === 0) return;
    const now = this.o.clock.now();
    let due = 0;
    for (const r of this.records.values()) if (this.tainted.x509Tainted(r.issuer) && r.rotateAt > now) { r.rotateAt = now; due++; }
    this.o.logger.warn('authority tainted: replacing the X.509-SVIDs it signed', { authority_ids: added.x509, svids: due });
    if (due > 0) this.sleep.rouse();
  }

  /** Whether an authority the operator tainted signed this certificate (the agent's own SVID: renew now). */
  signedByTainted(certDer: Uint8Array): boolean {
    return this.tainted.x509Tainted(issuerKeyId(certDer));
  }

  /** The agent was banned or evicted: no more minting; what is cached serves until it expires. */
  stopIssuing(reason: string): void {
    this.stopReason = reason;
    this.emit();
  }

  /**
   * The server was reached by another path (the entry sync reconnected, e.g. with a
   * renewed agent SVID): SVIDs waiting out an outage, or a refusal, are minted now
   * instead of at their next scheduled attempt.
   */
  serverReachable(): void {
    const outageEnded = this.gate.reachable();
    const refusedDue = this.retryRefused('entry sync reconnected');
    if (outageEnded || refusedDue) this.sleep.rouse();
  }

  /**
   * Resolves once the run loop has done what was due and sleeps until a time still
   * ahead, with no mint in flight: tests that move a fake clock wait on this.
   */
  idle(): Promise<void> {
    return this.sleep.idle();
  }

  /** Rotation, re-mints after an outage and idle-instance sweeps, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.sleep.until(this.nextWake(), signal);
      if (signal.aborted) return;
      try { await this.maintain(); } catch (e) { this.o.logger.error('SVID maintenance failed', { err: e as Error }); }
    }
  }

  // ---- internals ----

  private spiffeJwtBundle(): SpiffeBundle {
    return this.jwtBundle ??= jwtSpiffeBundle(this.bundle);
  }

  private async x509For(e: SyncedEntry, w: AttestedWorkload, now: number): Promise<X509Record | Error> {
    const instanceId = e.perInstance ? w.instanceId : '';
    const key = recordKey(e, w);
    const rec = this.records.get(key);
    if (rec && rec.revision === e.revision && rec.notAfter > now && !this.tainted.x509Tainted(rec.issuer)) { rec.lastUsed = now; return rec; }
    try {
      const fresh = await this.mint(key, e, instanceId, w.pid);
      fresh.lastUsed = this.o.clock.now();
      return fresh;
    } catch (err) {
      // Server unreachable: a still-valid SVID for the same ID beats none.
      if (rec && rec.spiffeId === e.spiffeId && rec.notAfter > this.o.clock.now()) { rec.lastUsed = now; return rec; }
      // A stream waits for this SVID: keep a placeholder (never served) so the run loop
      // mints it on the next attempt and the stream gets it then.
      if (!this.records.has(key) && this.watchers.has(key) && this.o.entries.get(e.id)) this.records.set(key, placeholder(key, e, instanceId, w.pid));
      this.requestLog.warn('cannot mint X.509-SVID', { entry_id: e.id, spiffe_id: e.spiffeId, err: err as Error });
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private mint(key: string, e: SyncedEntry, instanceId: string, pid: number | undefined): Promise<X509Record> {
    const inflight = this.pending.get(key);
    if (inflight) return inflight;
    if (this.stopReason) return Promise.reject(permissionDenied('ERR_AGENT_REVOKED', `agent no longer issues SVIDs: ${this.stopReason}`));
    // Waiting out an outage: fail at once, without a key, a CSR or a call. The run
    // loop re-mints every SVID it keeps on the next attempt.
    try { this.gate.check('mint X.509-SVIDs'); } catch (err) { return Promise.reject(err); }
    const p = this.minter.mint({ entry: e, instanceId }).then((m) => {
      // Shared SVIDs reuse the entry's claims object (never mutated) instead of a copy per record.
      const claims: AgentClaims = instanceId ? { ...e.claims, agent_instance_id: instanceId } : e.claims;
      const rec: X509Record = {
        key, entryId: e.id, instanceId, revision: e.revision, spiffeId: e.spiffeId, hint: e.hint, claims,
        certChain: m.certChain, privateKey: m.privateKey, issuer: issuerKeyId(m.certChain[0]!), notBefore: m.notBefore, notAfter: m.notAfter,
        rotateAt: rotationTime(m.notBefore, m.notAfter, this.o.random, this.o.clock.now()), lastUsed: this.o.clock.now(), pid, refused: false,
      };
      // The entry may have gone while we were signing: then the SVID is not kept.
      if (this.o.entries.get(e.id)) this.publish(rec);
      return rec;
    }).finally(() => {
      this.pending.delete(key);
      // A failed mint may have closed the gate: the loop sleeps until its next attempt.
      if (this.gate.down) this.sleep.rouse();
      this.sleep.check();
    });
    this.pending.set(key, p);
    return p;
  }

  private async jwtFor(e: SyncedEntry, w: AttestedWorkload, audience: string[]): Promise<JwtRecord> {
    // As for X.509: an instance id names a running agent instance, so only entries with
    // agent metadata carry one; a shared identity names no instance (no claim, as SPIRE).
    const instanceId = e.perInstance ? w.instanceId : '';
    const key = jwtCacheKey(e.id, e.revision, instanceId, audience);
    const now = this.o.clock.now();
    const hit = this.jwts.get(key);
    if (hit && now < hit.refreshAt) return hit;
    let p = this.pendingJwts.get(key);
    if (!p) {
      if (this.stopReason) throw permissionDenied('ERR_AGENT_REVOKED', `agent no longer issues SVIDs: ${this.stopReason}`);
      p = this.signer.mintJwtSvid({ entryId: e.id, audience, instanceId }).then((r) => {
        const issuedAt = this.o.clock.now();
        const expiresAt = r.expiresAt * 1000;
        const rec: JwtRecord = { entryId: e.id, token: r.token, kid: jwtKid(r.token), issuedAt, expiresAt, refreshAt: jwtRefreshTime(issuedAt, expiresAt) };
        if (this.o.entries.get(e.id)) this.jwts.set(key, rec, issuedAt);
        return rec;
      }).finally(() => { this.pendingJwts.delete(key); this.sleep.check(); });
      this.pendingJwts.set(key, p);
    }
    try { return await p; } catch (err) {
      if (hit && this.o.clock.now() < hit.expiresAt) return hit;
      throw err;
    }
  }

  private view(r: X509Record): WorkloadX509Svid {
    return {
      spiffeId: r.spiffeId, certChain: r.certChain, privateKey: r.privateKey, bundle: this.bundle.x509Authorities,
      hint: r.hint, expiresAt: r.notAfter, claims: r.claims,
    };
  }

  private onEntries(c: EntryChange): void {
    for (const e of c.removed) {
      for (const [k, r] of this.records) if (r.entryId === e.id) this.records.delete(k);
      this.jwts.dropEntry(e.id);
    }
    // Which SVIDs a caller is served follows its matching entries.
    this.watchers.reindex();
    // Changed entries: their SVIDs no longer match the revision and are re-minted on the next fetch.
    this.emit();
  }

  /**
   * The one place a new X.509-SVID becomes current: kept, and every stream serving
   * that identity is told at once, whether it was minted on demand, by rotation or
   * after an outage.
   */
  private publish(rec: X509Record): void {
    this.records.set(rec.key, rec);
    this.sleep.rouse(rec.rotateAt);
    this.watchers.notify(rec.key);
  }

  /**
   * When the loop must run next: the earliest rotation, or, for SVIDs due (or expired)
   * and not yet re-minted, the retry schedule's next attempt.
   */
  private nextWake(): number {
    const now = this.o.clock.now();
    let at = now + this.o.sweepMs;
    const attemptAt = this.gate.nextAttemptAt || now;
    for (const r of this.records.values()) {
      if (this.stopReason) { if (r.notAfter > now) at = Math.min(at, r.notAfter); continue; }
      if (r.rotateAt > now) at = Math.min(at, r.rotateAt);
      else if (!this.pending.has(r.key)) at = Math.min(at, attemptAt);
    }
    return at;
  }

  /**
   * Drops idle SVIDs and those of exited processes, then re-mints, in one batch, every
   * SVID due for rotation, including those that expired while the server was down
   * (they are kept, not served, until a new one is had).
   */
  private async maintain(): Promise<void> {
    const now = this.o.clock.now();
    for (const [k, r] of this.records) {
      const gone = this.stopReason && r.notAfter <= now ? 'expired'
        : r.instanceId && r.pid !== undefined && !this.o.processAlive(r.pid) ? 'process exited'
          : r.instanceId && r.rotateAt <= now && now - r.lastUsed > this.o.instanceIdleMs && !this.watchers.has(k) ? 'idle'
            : !this.o.entries.get(r.entryId) ? 'entry gone' : undefined;
      if (gone) {
        this.records.delete(k);
        this.o.logger.debug('dropped X.509-SVID', { entry_id: r.entryId, instance_id: r.instanceId || undefined, reason: gone });
      }
    }
    this.jwts.sweep(now);
    if (this.stopReason || this.gate.nextAttemptAt > 0) return;
    const due = [...this.records.values()].filter((r) => r.rotateAt <= now && !this.pending.has(r.key));
    if (due.length === 0) return;
    const mark = this.refusals.mark;
    const results = await Promise.allSettled(due.map((r) =>
      this.mint(r.key, this.o.entries.get(r.entryId)!, r.instanceId, r.pid).then((fresh) => { fresh.lastUsed = r.lastUsed; return fresh; })));
    const failed = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
    this.o.onRotation(results.length - failed.length, failed.length);
    if (failed.length < results.length) {
      this.refusals.succeeded();
      const expired = due.filter((r, i) => results[i]!.status === 'fulfilled' && r.notAfter <= now).length;
      this.o.logger.info('rotated X.509-SVIDs', { rotated: results.length - failed.length, ...(expired ? { expired_or_missing: expired } : {}) });
    }
    if (failed.length === 0) return;
    const err = failed[0]!.reason;
    // Unreachable: the gate logged it and schedules the next attempt for all of them.
    if (this.gate.down) return;
    // Refused: the server answered. Retried on their own schedule, before they expire.
    const at = this.o.clock.now();
    const next = this.refusals.refused(due.filter((r) => this.records.get(r.key) === r), mark, at);
    this.o.logger.warn('SVID rotation refused; serving current SVIDs while valid and retrying',
      { failed: failed.length, of: results.length, retry_in_ms: Math.round(next - at), err: err instanceof Error ? err : String(err) });
  }

  /** A refusal's cause may have cleared: refused SVIDs are due now, on a fresh backoff. True if any is. */
  private retryRefused(why: string): boolean {
    const due = this.refusals.cleared(this.records.values(), this.o.clock.now());
    if (due > 0) this.o.logger.info('retrying refused X.509-SVIDs now', { svids: due, why });
    return due > 0;
  }

  /** Listeners hear once per tick, however many changes happened in it. */
  private emit(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      for (const l of this.listeners) {
        try { l(); } catch (e) { this.o.logger.error('onChange listener failed', { err: e as Error }); }
      }
    });
  }
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

