import { randomUUID, X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import { alreadyExists, failedPrecondition, internal, invalidArgument } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { normalizeSelectors } from '../../spiffe/selector.ts';
import { entryFilterSql } from './entry-filter.ts';
import { entryExists, entryIdExists, entryNotFound, revisionMismatch } from './errors.ts';
import { AuditAppender, GroupCommit, insertAuditRows, type AuditRow, type WriteFn } from './group-commit.ts';
import { ChangeListeners } from './listeners.ts';
import {
  agentParams, bundleParams, ENTRY_COLUMNS, entryParams, IdCache, joinTokenHash, rowToAgent, rowToAudit,
  rowToBundle, rowToChange, rowToEntry, selectorsKey, unixSeconds, type Row,
} from './rows.ts';
import type { SqlConn, SqlDriver } from './sql-driver.ts';
import * as dlg from './sql-delegation.ts';
import * as agentSql from './sql-agents.ts';
import * as clients from './sql-clients.ts';
import * as federation from './sql-federation.ts';
import type { FederationRelationshipRecord, NewFederationRelationship } from './sql-federation.ts';
import * as budgetSql from './sql-budgets.ts';
import * as refresh from './sql-refresh.ts';
import type { NewRefreshToken, RefreshTokenRecord } from './sql-refresh.ts';
import * as approvalSql from './sql-approvals.ts';
import { insertApprovalWithinLimit, type PendingLimitResult } from './sql-approval-limits.ts';
import type { AuthorizationCodeRedemption, OAuthClientRecord } from './sql-clients.ts';
import type {
  AgentRenewal, AttestedAgent, AttestWriteOutcome, AuditRecord, BundleRecord, ChangeEvent, ChangeKind, Datastore,
  EntryFilter, EntryUpdate, ItemResult, JoinTokenRecord, NewEntry, OAuthKeyRecord, RegistrationEntry, RenewOutcome,
} from './types.ts';
import type { DelegationPolicy, NewDelegationPolicy, RevocationRecord } from '../delegation/types.ts';
import * as tlog from './sql-tlog.ts';
import { SqlSsfStore, type SsfStore } from './sql-ssf.ts';
import type { TlogCheckpoint, TlogLeaf, TlogLeafInput, TlogQuery } from './sql-tlog.ts';
import { Batcher } from '../audit/batcher.ts';
import { consistencyRanges, foldRange, inclusionRanges, nodeKey, nodesOf, rangeNodes, type Range } from '../audit/merkle.ts';
import { eventFromAuditRecord, leafOf } from '../audit/events.ts';

export interface SqlStoreOptions {
  clock: Clock;
  logger: Logger;
}

const ENTRY_INSERT = `INSERT INTO registration_entries (${ENTRY_COLUMNS.join(', ')})
  VALUES (${ENTRY_COLUMNS.map(() => '?').join(', ')})`;
const ENTRY_UPDATE = `UPDATE registration_entries SET ${ENTRY_COLUMNS.filter((c) => c !== 'id' && c !== 'created_at')
  .map((c) => `${c} = ?`).join(', ')} WHERE id = ?`;
const AGENT_UPSERT = `INSERT INTO attested_agents
  (spiffe_id, attestation_type, selectors, serial, previous_serial, expires_at, banned, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (spiffe_id) DO UPDATE SET attestation_type = excluded.attestation_type,
    selectors = excluded.selectors, serial = excluded.serial, previous_serial = excluded.previous_serial,
    expires_at = excluded.expires_at,
    banned = (attested_agents.banned OR excluded.banned), updated_at = excluded.updated_at`;
const BUNDLE_UPSERT = `INSERT INTO bundles (trust_domain, x509_authorities, jwt_authorities, refresh_hint, updated_at, sequence)
  VALUES (?, ?, ?, ?, ?, 1)
  ON CONFLICT (trust_domain) DO UPDATE SET x509_authorities = excluded.x509_authorities,
    jwt_authorities = excluded.jwt_authorities, refresh_hint = excluded.refresh_hint,
    updated_at = excluded.updated_at, sequence = bundles.sequence + 1
  RETURNING *`;
const BUNDLE_INSERT = `INSERT INTO bundles (trust_domain, x509_authorities, jwt_authorities, refresh_hint, updated_at, sequence)
  VALUES (?, ?, ?, ?, ?, 1) RETURNING *`;
const BUNDLE_UPDATE = `UPDATE bundles SET x509_authorities = ?, jwt_authorities = ?, refresh_hint = ?, updated_at = ?,
  sequence = sequence + 1 WHERE trust_domain = ? RETURNING *`;

/** Batching window of transparency-log appends: ≤ this much latency buys one commit per window, not per event. */
const TLOG_LINGER_MS = 50;

/**
 * The Datastore over any SqlDriver: every rule (duplicates, revisions, change log,
 * token consumption) is written once here and holds for SQLite and PostgreSQL alike.
 * Each write appends its change events in the same transaction; `afterCommit`
 * decides how subscribers hear about them.
 */
export abstract class SqlStore implements Datastore {
  protected readonly listeners: ChangeListeners;
  protected readonly ids = new IdCache();
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  private readonly writes: GroupCommit;
  /**
   * Single-use writes (used token hashes, code redemptions, new refresh tokens), batched
   * into one plain transaction per turn of the event loop: one commit for all of them,
   * and no change-log lock, since each write's conditional statement decides alone.
   */
  private readonly singleUse: GroupCommit;
  private readonly audits: AuditAppender;
  /**
   * Transparency-log appends, batched into one serialised write transaction each
   * (sql-tlog.ts); an item may carry its audit-table row, written in the same transaction.
   */
  private readonly tlogAppends: Batcher<{ leaf: TlogLeafInput; row?: AuditRow }, number>;

  protected constructor(protected readonly driver: SqlDriver, opts: SqlStoreOptions) {
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.listeners = new ChangeListeners(opts.logger);
    this.writes = new GroupCommit(driver, () => this.now(), (events) => this.afterCommit(events));
    this.singleUse = new GroupCommit(driver, () => this.now(), () => undefined, { changeLog: false });
    this.audits = new AuditAppender(driver);
    this.tlogAppends = new Batcher({
      clock: opts.clock, logger: opts.logger.child({ component: 'audit-log' }), lingerMs: TLOG_LINGER_MS,
      flush: (items) => driver.writeTransaction(async (c) => {
        const first = await tlog.appendLeaves(c, items.map((i) => i.leaf));
        await insertAuditRows(c, items.flatMap((i) => (i.row ? [i.row] : [])));
        return items.map((_, i) => first + i);
      }),
    });
  }

  /** Called once per committed write transaction with the events it appended, in order. */
  protected abstract afterCommit(events: ChangeEvent[]): void;

  private now(): number { return unixSeconds(this.clock.now()); }

  private ssfStore: SsfStore | undefined;
  /** Shared Signals streams and SET queue (sql-ssf.ts). */
  get ssf(): SsfStore { return (this.ssfStore ??= new SqlSsfStore(this.driver)); }

  /** Runs `fn` in a change-logging write transaction, coalesced with concurrent writes (group-commit.ts). */
  private write<T>(fn: WriteFn<T>): Promise<T> {
    return this.writes.submit(fn);
  }

  // ---- entries ----

  async createEntries(entries: NewEntry[]): Promise<ItemResult<RegistrationEntry>[]> {
    const now = this.now();
    return this.write(async (c, log) => {
      const out: ItemResult<RegistrationEntry>[] = [];
      for (const e of entries) {
        const id = e.id ?? randomUUID();
        if (e.id !== undefined && (await c.all('SELECT 1 FROM registration_entries WHERE id = ?', [id])).length) {
          out.push({ ok: false, error: entryIdExists(id) });
          continue;
        }
        if (await this.findDuplicate(c, e)) {
          out.push({ ok: false, error: entryExists(e.spiffeId.toString(), e.parentId.toString()) });
          continue;
        }
        await c.run(ENTRY_INSERT, entryParams({ ...e, id }, 1, now, now));
        await this.insertSelectors(c, id, e);
        await log('entry_upsert', id);
        out.push({ ok: true, value: toEntry({ ...e, id }, 1, now) });
      }
      return out;
    });
  }

  async updateEntries(entries: EntryUpdate[]): Promise<ItemResult<RegistrationEntry>[]> {
    const now = this.now();
    return this.write(async (c, log) => {
      const out: ItemResult<RegistrationEntry>[] = [];
      for (const e of entries) {
        const cur = (await c.all('SELECT revision, created_at, selectors_key FROM registration_entries WHERE id = ?', [e.id]))[0];
        if (!cur) { out.push({ ok: false, error: entryNotFound(e.id) }); continue; }
        const revision = Number(cur.revision);
        if (e.expectRevision !== undefined && e.expectRevision !== revision) {
          out.push({ ok: false, error: revisionMismatch(e.id, e.expectRevision, revision) });
          continue;
        }
        if (await this.findDuplicate(c, e, e.id)) {
          out.push({ ok: false, error: entryExists(e.spiffeId.toString(), e.parentId.toString()) });
          continue;
        }
        const params = entryParams(e, revision + 1, Number(cur.created_at), now);
        // Same column order as ENTRY_COLUMNS minus id and created_at, then id for the WHERE.
        const set = params.filter((_, i) => ENTRY_COLUMNS[i] !== 'id' && ENTRY_COLUMNS[i] !== 'created_at');
        await c.run(ENTRY_UPDATE, [...set, e.id]);
        if (cur.selectors_key !== selectorsKey(e.selectors)) {
          await c.run('DELETE FROM entry_selectors WHERE entry_id = ?', [e.id]);
          await this.insertSelectors(c, e.id, e);
        }
        await log('entry_upsert', e.id);
        out.push({ ok: true, value: toEntry(e, revision + 1, Number(cur.created_at)) });
      }
      return out;
    });
  }

  async deleteEntries(ids: string[]): Promise<ItemResult<string>[]> {
    return this.write(async (c, log) => {
      const out: ItemResult<string>[] = [];
      for (const id of ids) {
        // entry_selectors rows go with it (ON DELETE CASCADE).
        if (await c.run('DELETE FROM registration_entries WHERE id = ?', [id]) === 0) {
          out.push({ ok: false, error: entryNotFound(id) });
          continue;
        }
        await log('entry_delete', id);
        out.push({ ok: true, value: id });
      }
      return out;
    });
  }

  private async findDuplicate(c: SqlConn, e: NewEntry, exceptId?: string): Promise<boolean> {
    const rows = await c.all(
      'SELECT id FROM registration_entries WHERE spiffe_id = ? AND parent_id = ? AND selectors_key = ?',
      [e.spiffeId.toString(), e.parentId.toString(), selectorsKey(e.selectors)]);
    return rows.some((r) => r.id !== exceptId);
  }

  private async insertSelectors(c: SqlConn, id: string, e: NewEntry): Promise<void> {
    const sels = normalizeSelectors(e.selectors);
    if (!sels.length) return;
    await c.run(`INSERT INTO entry_selectors (entry_id, type, value) VALUES ${sels.map(() => '(?, ?, ?)').join(', ')}`,
      sels.flatMap((s) => [id, s.type, s.value]));
  }

  async getEntry(id: string): Promise<RegistrationEntry | undefined> {
    const rows = await this.driver.read((c) => c.all('SELECT * FROM registration_entries WHERE id = ?', [id]));
    return rows[0] ? rowToEntry(rows[0], this.ids) : undefined;
  }

  async listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]> {
    const { where, params, limit } = entryFilterSql(filter);
    // Ordered by id only when paging (keyset pagination needs it); a full load skips the sort.
    const order = filter?.afterId !== undefined || limit ? ' ORDER BY e.id' : '';
    const rows = await this.driver.read((c) => c.all(`SELECT e.* FROM registration_entries e ${where}${order}${limit}`, params));
    return rows.map((r) => rowToEntry(r, this.ids));
  }

  // ---- agents ----

  async upsertAgent(agent: AttestedAgent): Promise<void> {
    await this.write(async (c, log) => {
      await c.run(AGENT_UPSERT, agentParams(agent));
      await log('agent_upsert', agent.spiffeId.toString());
    });
  }

  /** Conditional writes (SQL in sql-agents.ts): these decide races with bans and evictions made through other servers. */
  async recordAttestedAgent(agent: AttestedAgent, o: { firstUse: boolean }): Promise<AttestWriteOutcome> {
    return this.write((c, log) => agentSql.recordAttestedAgent(c, log, this.ids, agent, o));
  }

  async renewAgent(spiffeId: string, r: AgentRenewal): Promise<RenewOutcome> {
    return this.write((c, log) => agentSql.renewAgent(c, log, this.ids, spiffeId, r));
  }

  async getAgent(spiffeId: string): Promise<AttestedAgent | undefined> {
    const rows = await this.driver.read((c) => c.all('SELECT * FROM attested_agents WHERE spiffe_id = ?', [spiffeId]));
    return rows[0] ? rowToAgent(rows[0], this.ids) : undefined;
  }

  async listAgents(filter: { attestationType?: string; banned?: boolean } = {}): Promise<AttestedAgent[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.attestationType !== undefined) { clauses.push('attestation_type = ?'); params.push(filter.attestationType); }
    if (filter.banned !== undefined) { clauses.push('banned = ?'); params.push(filter.banned ? 1 : 0); }
    const where = clauses.length ? 'WHERE ' + clauses.join(' AND ') : '';
    const rows = await this.driver.read((c) => c.all(`SELECT * FROM attested_agents ${where} ORDER BY spiffe_id`, params));
    return rows.map((r) => rowToAgent(r, this.ids));
  }

  async setAgentBanned(spiffeId: string, banned: boolean): Promise<AttestedAgent | undefined> {
    return this.write(async (c, log) => {
      const rows = await c.all('UPDATE attested_agents SET banned = ?, updated_at = ? WHERE spiffe_id = ? RETURNING *',
        [banned ? 1 : 0, this.now(), spiffeId]);
      if (!rows[0]) return undefined;
      await log('agent_upsert', spiffeId);
      return rowToAgent(rows[0], this.ids);
    });
  }

  async deleteAgent(spiffeId: string): Promise<boolean> {
    return this.write(async (c, log) => {
      if (await c.run('DELETE FROM attested_agents WHERE spiffe_id = ?', [spiffeId]) === 0) return false;
      await log('agent_delete', spiffeId);
      return true;
    });
  }

  // ---- join tokens ----

  async createJoinToken(token: JoinTokenRecord): Promise<void> {
    const n = await this.driver.read((c) => c.run(
      'INSERT INTO join_tokens (token_hash, expires_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING',
      [joinTokenHash(token.token), token.expiresAt]));
    if (n === 0) throw alreadyExists('ERR_JOIN_TOKEN_EXISTS', 'join token already exists');
  }

  /** One conditional DELETE ... RETURNING: the row goes to exactly one caller, whatever the engine. */
  async consumeJoinToken(token: string, now: number): Promise<'ok' | 'unknown' | 'expired'> {
    const rows = await this.driver.read((c) => c.all(
      'DELETE FROM join_tokens WHERE token_hash = ? RETURNING expires_at', [joinTokenHash(token)]));
    if (!rows[0]) return 'unknown';
    return Number(rows[0].expires_at) <= now ? 'expired' : 'ok';
  }

  async pruneJoinTokens(now: number): Promise<number> {
    return this.driver.read((c) => c.run('DELETE FROM join_tokens WHERE expires_at <= ?', [now]));
  }

  // ---- bundles ----

  async getBundle(trustDomain: string): Promise<BundleRecord | undefined> {
    const rows = await this.driver.read((c) => c.all('SELECT * FROM bundles WHERE trust_domain = ?', [trustDomain]));
    return rows[0] ? rowToBundle(rows[0], this.ids) : undefined;
  }

  async listBundles(): Promise<BundleRecord[]> {
    const rows = await this.driver.read((c) => c.all('SELECT * FROM bundles ORDER BY trust_domain'));
    return rows.map((r) => rowToBundle(r, this.ids));
  }

  async deleteBundle(trustDomain: string): Promise<boolean> {
    return this.write(async (c, log) => {
      const n = await c.run('DELETE FROM bundles WHERE trust_domain = ?', [trustDomain]);
      if (n > 0) await log('bundle', trustDomain);
      return n > 0;
    });
  }

  async putBundle(bundle: Omit<BundleRecord, 'sequence'>): Promise<BundleRecord> {
    return this.write(async (c, log) => {
      const rows = await c.all(BUNDLE_UPSERT, bundleParams(bundle, this.now()));
      await log('bundle', bundle.trustDomain.name);
      return rowToBundle(rows[0], this.ids);
    });
  }

  /**
   * Read-modify-write under a row lock (PostgreSQL FOR UPDATE; SQLite's write lock),
   * inside the change-log write transaction: two servers appending at once are
   * serialised, and the second one merges into what the first committed.
   */
  async appendBundle(bundle: Omit<BundleRecord, 'sequence'>): Promise<BundleRecord> {
    const now = this.now();
    return this.write(async (c, log) => {
      const cur = await this.lockBundle(c, bundle.trustDomain.name);
      if (!cur) {
        const rows = await c.all(BUNDLE_INSERT, bundleParams(mergeBundle(undefined, bundle), now));
        await log('bundle', bundle.trustDomain.name);
        return rowToBundle(rows[0], this.ids);
      }
      const merged = mergeBundle(cur, bundle);
      if (sameContent(cur, merged)) return cur;
      return this.rewriteBundle(c, log, merged, now);
    });
  }

  async pruneBundle(trustDomain: string, expiresBefore: number): Promise<BundleRecord | undefined> {
    const now = this.now();
    return this.write(async (c, log) => {
      const cur = await this.lockBundle(c, trustDomain);
      if (!cur) return undefined;
      let x509Authorities = cur.x509Authorities.filter((der) => {
        const notAfter = certificateNotAfter(der);
        return notAfter === undefined || notAfter > expiresBefore;
      });
      if (x509Authorities.length === 0 && cur.x509Authorities.length > 0) {
        // Every root has expired (all servers down past their CA's lifetime): keep them
        // until a server appends a new one rather than publish a bundle trusting nothing.
        this.logger.warn('not pruning the last X.509 authorities of the bundle', { trust_domain: trustDomain });
        x509Authorities = cur.x509Authorities;
      }
      const jwtAuthorities = cur.jwtAuthorities.filter((k) => k.expiresAt === 0 || k.expiresAt > expiresBefore);
      const next = { ...cur, x509Authorities, jwtAuthorities };
      if (sameContent(cur, next)) return cur;
      return this.rewriteBundle(c, log, next, now);
    });
  }

  private async lockBundle(c: SqlConn, trustDomain: string): Promise<BundleRecord | undefined> {
    const rows = await c.all(`SELECT * FROM bundles WHERE trust_domain = ?${this.driver.lockRows}`, [trustDomain]);
    return rows[0] ? rowToBundle(rows[0], this.ids) : undefined;
  }

  private async rewriteBundle(c: SqlConn, log: (kind: ChangeKind, id: string) => Promise<void>,
    b: Omit<BundleRecord, 'sequence'>, now: number): Promise<BundleRecord> {
    const [td, x509, jwt, hint, updatedAt] = bundleParams(b, now);
    const rows = await c.all(BUNDLE_UPDATE, [x509, jwt, hint, updatedAt, td]);
    await log('bundle', b.trustDomain.name);
    return rowToBundle(rows[0], this.ids);
  }

  // ---- change feed ----

  async currentSequence(): Promise<number> {
    const rows = await this.driver.read((c) => c.all('SELECT MAX(seq) AS seq FROM changes'));
    return Number(rows[0]?.seq ?? 0);
  }

  async changesSince(seq: number, limit = 1000): Promise<ChangeEvent[]> {
    const rows = await this.driver.read((c) => c.all('SELECT seq, kind, id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?', [seq, limit]));
    return rows.map(rowToChange);
  }

  /**
   * Drops change-log rows older than `before` (unix seconds), always keeping the newest
   * so currentSequence() never goes backwards. The log exists for catch-up after a
   * short disconnect, not as history (that is the audit table).
   */
  async pruneChanges(before: number): Promise<number> {
    return this.driver.read((c) => c.run(
      'DELETE FROM changes WHERE time < ? AND seq < (SELECT MAX(seq) FROM changes)', [before]));
  }

  subscribe(listener: (ev: ChangeEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  // ---- audit ----

  /** The audit-table row, and the same record as an event in the transparency log (docs/audit.md). */
  async appendAudit(rec: AuditRecord): Promise<void> {
    await Promise.all([
      this.audits.append(auditRow(rec)),
      this.appendLog(leafOf(eventFromAuditRecord(rec))),
    ]);
  }

  /**
   * The audit row and its log leaf through the log's batcher: one transaction per batch
   * for both (not a commit per record), never dropped (retried while the database is
   * away; producers bound the queue with logRoom). Resolves with the leaf index.
   */
  appendAuditBatched(rec: AuditRecord): Promise<number> {
    return this.tlogAppends.submit({ leaf: leafOf(eventFromAuditRecord(rec)), row: auditRow(rec) });
  }

  async listAudit(filter: { subject?: string; event?: string; sinceSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.subject !== undefined) { clauses.push('subject = ?'); params.push(filter.subject); }
    if (filter.event !== undefined) { clauses.push('event = ?'); params.push(filter.event); }
    if (filter.sinceSeq !== undefined) { clauses.push('seq > ?'); params.push(filter.sinceSeq); }
    const where = clauses.length ? 'WHERE ' + clauses.join(' AND ') : '';
    const limit = filter.limit && filter.limit > 0 ? ` LIMIT ${Math.floor(filter.limit)}` : '';
    const rows = await this.driver.read((c) => c.all(`SELECT * FROM audit ${where} ORDER BY seq${limit}`, params));
    return rows.map(rowToAudit);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    // Audit events already accepted get a bounded chance to land (a real-time bound: the
    // database, not the injected clock, decides how long a write takes).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.tlogAppends.flushed(), new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    this.tlogAppends.close();
    await this.driver.close();
  }

  // ---- delegated authority (SQL in sql-delegation.ts) ----

  /** Unix seconds of the last opportunistic prune of used_tokens. */
  private usedTokensPrunedAt = 0;

  async createDelegationPolicy(p: NewDelegationPolicy): Promise<DelegationPolicy> {
    const now = unixSeconds(this.clock.now());
    return this.write(async (c, log) => approvalSql.writePolicyApproval(c, await dlg.insertPolicy(c, log, p, now), p.approval));
  }

  async updateDelegationPolicy(p: NewDelegationPolicy & { id: string; expectRevision?: number }): Promise<DelegationPolicy> {
    const now = unixSeconds(this.clock.now());
    return this.write(async (c, log) => approvalSql.writePolicyApproval(c, await dlg.updatePolicy(c, log, p, now), p.approval));
  }

  async deleteDelegationPolicy(id: string): Promise<boolean> {
    return this.write((c, log) => dlg.deletePolicy(c, log, id));
  }

  async getDelegationPolicy(id: string): Promise<DelegationPolicy | undefined> {
    return this.driver.read(async (c) => (await approvalSql.readPolicyApprovals(c, [await dlg.selectPolicy(c, id)]))[0]);
  }

  async listDelegationPolicies(): Promise<DelegationPolicy[]> {
    return this.driver.read(async (c) => approvalSql.readPolicyApprovals(c, await dlg.selectPolicies(c)));
  }

  async addRevocation(r: Omit<RevocationRecord, 'seq'>): Promise<RevocationRecord> {
    return this.write(async (c, log) => {
      const rec = await dlg.insertRevocation(c, log, r);
      // Refresh families outlive the record: mark them here, in the same transaction.
      await refresh.revokeRefreshFor(c, rec);
      return rec;
    });
  }

  async listRevocations(opts?: { afterSeq?: number; liveAt?: number }): Promise<RevocationRecord[]> {
    return this.driver.read((c) => dlg.selectRevocations(c, opts));
  }

  async pruneRevocations(before: number): Promise<number> {
    return this.driver.read((c) => dlg.deleteRevocations(c, before));
  }

  async useTokenOnce(hash: string, expiresAt: number): Promise<boolean> {
    const now = unixSeconds(this.clock.now());
    if (now - this.usedTokensPrunedAt >= 60) {
      // At most once a minute per store. Rows outlive their exp by 5 minutes, more than
      // any verifier's clock-skew leeway, so a token still accepted with leeway stays single-use.
      this.usedTokensPrunedAt = now;
      this.singleUse.submit((c) => dlg.deleteUsedTokens(c, now - 300)).catch((err: unknown) =>
        this.logger.warn('could not prune used single-use tokens', { err: err as Error }));
    }
    // The INSERT ... ON CONFLICT DO NOTHING decides: in one batch the second of a hash
    // finds the first's row; across servers PostgreSQL's unique index makes one wait and lose.
    return this.singleUse.submit((c) => dlg.insertUsedToken(c, hash, expiresAt), `used:${hash}`);
  }

  async putOAuthKey(k: OAuthKeyRecord): Promise<void> {
    await this.write((c, log) => dlg.upsertOAuthKey(c, log, k));
  }

  async listOAuthKeys(): Promise<OAuthKeyRecord[]> {
    return this.driver.read((c) => dlg.selectOAuthKeys(c));
  }

  async pruneOAuthKeys(before: number): Promise<number> {
    return this.write((c, log) => dlg.deleteOAuthKeys(c, log, before));
  }

  // ---- SPIFFE federation relationships (SQL in sql-federation.ts) ----

  async createFederationRelationship(r: NewFederationRelationship): Promise<FederationRelationshipRecord> {
    const now = this.now();
    return this.write((c, log) => federation.insertRelationship(c, log, r, now));
  }

  async updateFederationRelationship(r: NewFederationRelationship): Promise<FederationRelationshipRecord> {
    const now = this.now();
    return this.write((c, log) => federation.updateRelationship(c, log, r, now));
  }

  async deleteFederationRelationship(trustDomain: string): Promise<boolean> {
    return this.write((c, log) => federation.deleteRelationship(c, log, trustDomain));
  }

  async getFederationRelationship(trustDomain: string): Promise<FederationRelationshipRecord | undefined> {
    return this.driver.read((c) => federation.selectRelationship(c, trustDomain));
  }

  async listFederationRelationships(): Promise<FederationRelationshipRecord[]> {
    return this.driver.read((c) => federation.selectRelationships(c));
  }

  async raiseFederationBundleSequence(trustDomain: string, sequence: number): Promise<void> {
    await this.driver.read((c) => federation.raiseBundleSequence(c, trustDomain, sequence));
  }

  // ---- MCP authorization: clients and codes (SQL in sql-clients.ts) ----

  /** Unix seconds of the last opportunistic prune of oauth_codes. */
  private codesPrunedAt = 0;

  async createOAuthClient(rec: OAuthClientRecord): Promise<OAuthClientRecord> {
    return this.driver.read((c) => clients.insertClient(c, rec));
  }

  async getOAuthClient(clientId: string): Promise<OAuthClientRecord | undefined> {
    return this.driver.read((c) => clients.selectClient(c, clientId));
  }

  async listOAuthClients(): Promise<OAuthClientRecord[]> {
    return this.driver.read((c) => clients.selectClients(c));
  }

  async deleteOAuthClient(clientId: string): Promise<boolean> {
    return this.driver.read((c) => clients.deleteClient(c, clientId));
  }

  async putAuthorizationCode(codeHash: string, data: string, expiresAt: number): Promise<void> {
    const now = unixSeconds(this.clock.now());
    if (now - this.codesPrunedAt >= 60) {
      this.codesPrunedAt = now;
      await this.driver.read((c) => clients.deleteCodes(c, now - clients.CODE_RETENTION_S)).catch((err: unknown) =>
        this.logger.warn('could not prune expired authorization codes', { err: err as Error }));
    }
    await this.driver.read((c) => clients.insertCode(c, codeHash, data, expiresAt));
  }

  async redeemAuthorizationCode(codeHash: string, issue: { jti: string; grantId: string }): Promise<AuthorizationCodeRedemption | undefined> {
    const now = unixSeconds(this.clock.now());
    // UPDATE ... WHERE used_at = 0 decides the one first redemption (row lock across servers), and
    // the row read back in the same transaction carries what that redemption issued.
    return this.singleUse.submit((c) => clients.redeemCode(c, codeHash, now, issue), `code:${codeHash}`);
  }

  // ---- execution budgets (docs/attenuation.md; SQL in sql-budgets.ts) ----

  private budgetsPrunedAt = 0;

  async putBudgets(grantId: string, budgets: Record<string, number>, expiresAt: number): Promise<void> {
    if (Object.keys(budgets).length === 0) return;
    await this.driver.read((c) => budgetSql.insertBudgets(c, grantId, budgets, expiresAt));
  }

  async consumeBudget(grantId: string, operation: string, n: number, tokenLimit: number): Promise<budgetSql.BudgetUse | undefined> {
    const now = unixSeconds(this.clock.now());
    if (now - this.budgetsPrunedAt >= 60) {
      // Rows outlive the grant's last token by 5 minutes (verifiers' clock-skew leeway).
      this.budgetsPrunedAt = now;
      await this.driver.read((c) => budgetSql.deleteBudgets(c, now - 300)).catch((err: unknown) =>
        this.logger.warn('could not prune expired budgets', { err: err as Error }));
    }
    return this.driver.read((c) => budgetSql.spendBudget(c, grantId, operation, n, tokenLimit));
  }

  async listBudgets(grantId: string): Promise<budgetSql.BudgetRow[]> {
    return this.driver.read((c) => budgetSql.selectBudgets(c, grantId));
  }

  // ---- transparency log (docs/audit.md; SQL in sql-tlog.ts, tree arithmetic in audit/merkle.ts) ----

  appendLog(leaf: TlogLeafInput): Promise<number> {
    return this.tlogAppends.submit({ leaf });
  }

  logRoom(timeoutMs: number): Promise<void> {
    return this.tlogAppends.waitForRoom(timeoutMs);
  }

  logFlushed(): Promise<void> {
    return this.tlogAppends.flushed();
  }

  async logSize(): Promise<number> {
    return this.driver.read((c) => tlog.treeSize(c));
  }

  async logRoot(size: number): Promise<Uint8Array> {
    return this.driver.read(async (c) => {
      await this.checkLogRange(c, size, 'size');
      return foldRange(await this.logHashes(c, [[0, size]]).then((h) => h[0]!));
    });
  }

  async logLeaves(from: number, to: number): Promise<TlogLeaf[]> {
    return this.driver.read((c) => tlog.selectLeaves(c, from, to));
  }

  async queryLog(q: TlogQuery): Promise<TlogLeaf[]> {
    return this.driver.read((c) => tlog.queryLeaves(c, q));
  }

  async logNodes(level: number, from: number, to: number): Promise<{ level: number; index: number; hash: Uint8Array }[]> {
    return this.driver.read((c) => tlog.selectNodes(c, level, from, to));
  }

  async logInclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    return this.driver.read(async (c) => {
      await this.checkLogRange(c, size, 'size');
      if (!(Number.isSafeInteger(index) && index >= 0 && index < size)) {
        throw invalidArgument('ERR_AUDIT_RANGE', `index ${index} is not a leaf of the tree of size ${size}`);
      }
      return this.proof(c, inclusionRanges(index, size));
    });
  }

  async logConsistencyProof(first: number, second: number): Promise<Uint8Array[]> {
    return this.driver.read(async (c) => {
      await this.checkLogRange(c, second, 'second size');
      if (!(Number.isSafeInteger(first) && first > 0 && first <= second)) {
        throw invalidArgument('ERR_AUDIT_RANGE', `a consistency proof needs 0 < first ≤ second (got first ${first}, second ${second})`);
      }
      return first === second ? [] : this.proof(c, consistencyRanges(first, second));
    });
  }

  async putCheckpoint(cp: TlogCheckpoint): Promise<boolean> {
    return this.driver.read((c) => tlog.insertCheckpoint(c, cp));
  }

  async getCheckpoint(opts?: { atLeast?: number; atMost?: number }): Promise<TlogCheckpoint | undefined> {
    return this.driver.read((c) => tlog.selectCheckpoint(c, opts));
  }

  async listCheckpoints(afterSize?: number, limit?: number): Promise<TlogCheckpoint[]> {
    return this.driver.read((c) => tlog.selectCheckpoints(c, afterSize, limit));
  }

  private async checkLogRange(c: SqlConn, size: number, what: string): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('ERR_AUDIT_RANGE', `${what} ${size} is not a tree size`);
    const have = await tlog.treeSize(c);
    if (size > have) throw invalidArgument('ERR_AUDIT_RANGE', `${what} ${size} is beyond the log's ${have} entries`);
  }

  /** One query for every stored subtree the ranges need; the hashes of each range's subtrees, in order. */
  private async logHashes(c: SqlConn, ranges: readonly Range[]): Promise<Uint8Array[][]> {
    const stored = await tlog.readNodes(c, nodesOf(ranges));
    return ranges.map(([b, e]) => rangeNodes(b, e).map((n) => {
      const h = stored.get(nodeKey(n));
      if (!h) throw internal('ERR_AUDIT_TREE', `transparency log: subtree (level ${n.level}, index ${n.index}) is missing from the store`);
      return h;
    }));
  }

  private async proof(c: SqlConn, ranges: readonly Range[]): Promise<Uint8Array[]> {
    return (await this.logHashes(c, ranges)).map((h) => foldRange(h));
  }

  // ---- refresh tokens (docs/mcp.md; SQL in sql-refresh.ts) ----

  /** Unix seconds of the last opportunistic prune of oauth_refresh_tokens. */
  private refreshPrunedAt = 0;

  async putRefreshToken(t: NewRefreshToken): Promise<void> {
    const now = unixSeconds(this.clock.now());
    if (now - this.refreshPrunedAt >= 60) {
      this.refreshPrunedAt = now;
      this.singleUse.submit((c) => refresh.deleteRefresh(c, now - refresh.REFRESH_RETENTION_S)).catch((err: unknown) =>
        this.logger.warn('could not prune expired refresh tokens', { err: err as Error }));
    }
    await this.singleUse.submit((c) => refresh.insertRefresh(c, t), `refresh:${t.hash}`);
  }

  async getRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    return this.driver.read((c) => refresh.selectRefresh(c, hash));
  }

  async rotateRefreshToken(oldHash: string, next: NewRefreshToken): Promise<boolean> {
    const now = unixSeconds(this.clock.now());
    // A write transaction (group-committed with concurrent writes): the UPDATE and the INSERT commit together or not at all.
    return this.write((c) => refresh.rotateRefresh(c, oldHash, now, next));
  }

  // ---- human approval of escalations (docs/attenuation.md; SQL in sql-approvals.ts) ----

  /** Unix seconds of the last opportunistic prune of approval_requests. */
  private approvalsPrunedAt = 0;

  async putApprovalRequest(r: approvalSql.NewApprovalRequest): Promise<void> {
    await this.pruneApprovals();
    await this.write((c) => approvalSql.insertApproval(c, r));
  }

  async putApprovalRequestWithin(r: approvalSql.NewApprovalRequest, maxPending: number): Promise<PendingLimitResult> {
    const now = await this.pruneApprovals();
    return this.write((c) => insertApprovalWithinLimit(c, r, maxPending, now));
  }

  private async pruneApprovals(): Promise<number> {
    const now = unixSeconds(this.clock.now());
    if (now - this.approvalsPrunedAt >= 60) {
      this.approvalsPrunedAt = now;
      await this.write((c) => approvalSql.deleteApprovals(c, now - approvalSql.APPROVAL_RETENTION_S)).catch((err: unknown) =>
        this.logger.warn('could not prune expired approval requests', { err: err as Error }));
    }
    return now;
  }

  async getApprovalRequest(by: { id: string } | { reqHash: string }): Promise<approvalSql.ApprovalRequestRecord | undefined> {
    return this.driver.read((c) => approvalSql.selectApproval(c, by));
  }

  async listApprovalRequests(f?: { principals?: string[]; pendingAt?: number; limit?: number }): Promise<approvalSql.ApprovalRequestRecord[]> {
    return this.driver.read((c) => approvalSql.selectApprovals(c, f));
  }

  async decideApprovalRequest(id: string, d: approvalSql.ApprovalDecision): Promise<boolean> {
    return this.driver.read((c) => approvalSql.decideApproval(c, id, d));
  }

  async pollApprovalRequest(reqHash: string, clientId: string, nowMs: number): Promise<approvalSql.ApprovalPoll | undefined> {
    return this.driver.read((c) => approvalSql.pollApproval(c, reqHash, clientId, nowMs));
  }

  async redeemApprovalRequest(reqHash: string, clientId: string, jti: string, now: number): Promise<boolean> {
    return this.driver.read((c) => approvalSql.redeemApproval(c, reqHash, clientId, jti, now));
  }
}

/**
 * The stored bundle plus whatever `add` has that it lacks: X.509 authorities by DER,
 * JWT authorities by kid, existing ones first (their order is what relying parties
 * already saw). A known kid with a different key is refused: kids are random, so this
 * is a bug or an attack, never a rotation.
 */
function mergeBundle(cur: BundleRecord | undefined, add: Omit<BundleRecord, 'sequence'>): Omit<BundleRecord, 'sequence'> {
  const x509Authorities = [...(cur?.x509Authorities ?? [])];
  const seen = new Set(x509Authorities.map(hex));
  for (const der of add.x509Authorities) {
    if (!seen.has(hex(der))) { seen.add(hex(der)); x509Authorities.push(der); }
  }
  const jwtAuthorities = [...(cur?.jwtAuthorities ?? [])];
  const byKid = new Map(jwtAuthorities.map((k) => [k.kid, k]));
  for (const k of add.jwtAuthorities) {
    const have = byKid.get(k.kid);
    if (!have) { byKid.set(k.kid, k); jwtAuthorities.push(k); continue; }
    if (hex(have.publicKey) !== hex(k.publicKey)) {
      throw failedPrecondition('ERR_BUNDLE_KID_CONFLICT', `bundle ${add.trustDomain.name} already has JWT key "${k.kid}" with a different public key`);
    }
  }
  return { trustDomain: add.trustDomain, x509Authorities, jwtAuthorities, refreshHint: add.refreshHint };
}

function sameContent(a: Omit<BundleRecord, 'sequence'>, b: Omit<BundleRecord, 'sequence'>): boolean {
  const jwt = (l: BundleRecord['jwtAuthorities']) => l.map((k) => `${k.kid}:${hex(k.publicKey)}:${k.expiresAt}`).join(',');
  return a.refreshHint === b.refreshHint && a.x509Authorities.map(hex).join(',') === b.x509Authorities.map(hex).join(',') &&
    jwt(a.jwtAuthorities) === jwt(b.jwtAuthorities);
}

const hex = (d: Uint8Array): string => Buffer.from(d).toString('hex');
const auditRow = (rec: AuditRecord): AuditRow => [rec.time, rec.event, rec.subject, JSON.stringify(rec.data ?? {})];

/** A CA certificate's notAfter in unix seconds; undefined when it does not parse (then it is never pruned). */
export function certificateNotAfter(der: Uint8Array): number | undefined {
  try { return Math.floor(Date.parse(new X509Certificate(der).validTo) / 1000); } catch { return undefined; }
}

function toEntry(e: NewEntry & { id: string }, revision: number, createdAt: number): RegistrationEntry {
  return {
    id: e.id, spiffeId: e.spiffeId, parentId: e.parentId, selectors: normalizeSelectors(e.selectors),
    x509SvidTtl: e.x509SvidTtl, jwtSvidTtl: e.jwtSvidTtl, dnsNames: [...e.dnsNames], hint: e.hint,
    admin: e.admin, downstream: e.downstream, federatesWith: [...e.federatesWith], expiresAt: e.expiresAt,
    revision, createdAt, agent: compactAgent(e.agent),
  };
}

/** Same shape as rows.ts reads back: empty metadata fields are absent. */
function compactAgent(a: RegistrationEntry['agent']): RegistrationEntry['agent'] {
  const out: RegistrationEntry['agent'] = {};
  if (a.model) out.model = a.model;
  if (a.provider) out.provider = a.provider;
  if (a.version) out.version = a.version;
  return out;
}
