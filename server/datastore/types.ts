import type { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { AuthorizationCodeRedemption, OAuthClientRecord } from './sql-clients.ts';
import type { BudgetRow, BudgetUse } from './sql-budgets.ts';
import type { Selector } from '../../spiffe/selector.ts';
import type { DelegationPolicy, NewDelegationPolicy, RevocationRecord } from '../delegation/types.ts';
import type { TlogCheckpoint, TlogLeaf, TlogLeafInput, TlogQuery } from './sql-tlog.ts';
import type { NewRefreshToken, RefreshTokenRecord } from './sql-refresh.ts';
import type { ApprovalDecision, ApprovalPoll, ApprovalRequestRecord, NewApprovalRequest } from './sql-approvals.ts';
import type { PendingLimitResult } from './sql-approval-limits.ts';
import type { FederationRelationshipRecord, NewFederationRelationship } from './sql-federation.ts';
import type { SsfStore } from './sql-ssf.ts';

/**
 * The datastore is the server's source of truth; the in-memory entry index answers
 * agent requests. Callers only see this interface: SQLite (default, embedded) and
 * PostgreSQL (several servers sharing one store) implement it. Times are unix
 * seconds. Every write bumps a monotonically increasing change sequence.
 */

export interface EntryAgentMetadata {
  model?: string;
  provider?: string;
  version?: string;
}

export interface RegistrationEntry {
  id: string;
  spiffeId: SpiffeId;
  parentId: SpiffeId;
  selectors: Selector[];
  /** Seconds; 0 = server default. */
  x509SvidTtl: number;
  jwtSvidTtl: number;
  dnsNames: string[];
  hint: string;
  admin: boolean;
  downstream: boolean;
  federatesWith: TrustDomain[];
  /** 0 = never. */
  expiresAt: number;
  revision: number;
  createdAt: number;
  agent: EntryAgentMetadata;
}

/** What a caller provides to create an entry: the store assigns id (unless given), revision, createdAt. */
export type NewEntry = Omit<RegistrationEntry, 'id' | 'revision' | 'createdAt'> & { id?: string };

/**
 * An update replaces every field of the entry with this id. `expectRevision`, when
 * set, must equal the stored revision (optimistic concurrency); a full
 * RegistrationEntry is also a valid EntryUpdate.
 */
export type EntryUpdate = NewEntry & { id: string; expectRevision?: number };

export interface AttestedAgent {
  spiffeId: SpiffeId;
  attestationType: string;
  selectors: Selector[];
  /** Serial (hex) of the agent's current SVID; a renewal must present this one or the previous. */
  serial: string;
  /**
   * Serial of the SVID before the last renewal ('' or absent: none). Kept in the store,
   * not in one server's memory, because a gRPC channel keeps its TLS session (and so
   * the old certificate) after a renewal: the old SVID must keep working across a
   * server restart and on every other server sharing the store. Writers set it
   * explicitly: a renewal passes the serial it replaced, an attestation leaves it out
   * (a fresh attestation clears it).
   */
  previousSerial?: string;
  expiresAt: number;
  banned: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * A renewal's conditional write (Datastore.renewAgent): the new SVID's serial and
 * expiry, written only while `expectSerial` (the serial the renewer read and checked)
 * is still the agent's current one and the agent is not banned. The replaced serial
 * becomes `previousSerial`.
 */
export interface AgentRenewal {
  expectSerial: string;
  serial: string;
  expiresAt: number;
  updatedAt: number;
}

/**
 * What a conditional agent write did, decided in one transaction: on every server
 * sharing the store, of a renewal and a ban, eviction or other renewal, exactly one
 * outcome holds. A refusal carries the record as the write found it (none: evicted),
 * so the caller words it by the same rules it checked the record with.
 */
export type RenewOutcome =
  | { ok: true; agent: AttestedAgent }
  | { ok: false; reason: 'evicted' }
  | { ok: false; reason: 'banned' | 'serial_changed'; agent: AttestedAgent };

/** recordAttestedAgent's outcome: 'exists' only for a first-use write (the ID was attested meanwhile). */
export type AttestWriteOutcome =
  | { ok: true; agent: AttestedAgent }
  | { ok: false; reason: 'banned' | 'exists'; agent: AttestedAgent };

export interface JoinTokenRecord {
  token: string;
  expiresAt: number;
}

export interface JwtAuthority {
  kid: string;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  expiresAt: number;
}

export interface BundleRecord {
  trustDomain: TrustDomain;
  /** DER CA certificates. */
  x509Authorities: Uint8Array[];
  jwtAuthorities: JwtAuthority[];
  sequence: number;
  refreshHint: number;
}

export type ChangeKind = 'entry_upsert' | 'entry_delete' | 'agent_upsert' | 'agent_delete' | 'bundle'
  // Delegated authority (docs/delegation.md): id = policy id, revocation seq, signing-key kid.
  | 'delegation_policy' | 'revocation' | 'oauth_key'
  // SPIFFE federation (docs/federation.md): id = the foreign trust domain of a relationship.
  | 'federation';

export interface ChangeEvent {
  seq: number;
  kind: ChangeKind;
  /** Entry id, agent SPIFFE ID, trust domain name, policy id, revocation seq (decimal) or OAuth key kid. */
  id: string;
}

/** A token-signing public key of the OAuth authorization server (one per server, rotated). */
export interface OAuthKeyRecord {
  kid: string;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  alg: string;
  notAfter: number;
}

export interface AuditRecord {
  seq?: number;
  time: number;
  /** e.g. "agent.attested", "agent.banned", "entry.created", "svid.signed". */
  event: string;
  subject: string;
  data: Record<string, unknown>;
}

export interface EntryFilter {
  spiffeId?: string;
  parentId?: string;
  selectors?: { selectors: Selector[]; match: 'exact' | 'subset' | 'superset' | 'any' };
  hint?: string;
  /** Keyset pagination: with afterId or limit set, entries come ordered by id; return those with id > afterId. */
  afterId?: string;
  /** At most this many entries (0/undefined = all). */
  limit?: number;
}

export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: Error };

export interface Datastore {
  // Registration entries. Batch calls return one result per input, in order; one bad
  // item (duplicate, unknown id, revision conflict) fails alone with a typed error.
  createEntries(entries: NewEntry[]): Promise<ItemResult<RegistrationEntry>[]>;
  /** Matched by id; bumps revision. `expectRevision`, when set, must equal the stored one. */
  updateEntries(entries: EntryUpdate[]): Promise<ItemResult<RegistrationEntry>[]>;
  deleteEntries(ids: string[]): Promise<ItemResult<string>[]>;
  getEntry(id: string): Promise<RegistrationEntry | undefined>;
  listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]>;

  // Attested agents.
  upsertAgent(agent: AttestedAgent): Promise<void>;
  /**
   * An attestation's write: an upsert that never touches a banned agent (refused,
   * 'banned'); with `firstUse` (trust-on-first-use methods) an insert that refuses an
   * ID already present ('exists'). Bans and TOFU hold across servers this way.
   */
  recordAttestedAgent(agent: AttestedAgent, o: { firstUse: boolean }): Promise<AttestWriteOutcome>;
  /** A renewal's compare-and-set on the agent's serial (AgentRenewal); a refusal writes nothing. */
  renewAgent(spiffeId: string, r: AgentRenewal): Promise<RenewOutcome>;
  getAgent(spiffeId: string): Promise<AttestedAgent | undefined>;
  listAgents(filter?: { attestationType?: string; banned?: boolean }): Promise<AttestedAgent[]>;
  setAgentBanned(spiffeId: string, banned: boolean): Promise<AttestedAgent | undefined>;
  deleteAgent(spiffeId: string): Promise<boolean>;

  // Join tokens: consume is atomic; of two racing consumers exactly one gets true.
  createJoinToken(token: JoinTokenRecord): Promise<void>;
  consumeJoinToken(token: string, now: number): Promise<'ok' | 'unknown' | 'expired'>;
  pruneJoinTokens(now: number): Promise<number>;

  // Bundles (own trust domain and, later, federated ones).
  getBundle(trustDomain: string): Promise<BundleRecord | undefined>;
  /** Every stored bundle (own and foreign trust domains), ordered by trust domain. */
  listBundles(): Promise<BundleRecord[]>;
  /** Removes a trust domain's bundle (a change event when one was there); false when there was none. */
  deleteBundle(trustDomain: string): Promise<boolean>;
  /**
   * Replaces the bundle; the store assigns the next sequence number and returns it.
   * Only for a single writer (tests, tools): servers sharing a store use appendBundle
   * and pruneBundle, which never drop another server's live authorities.
   */
  putBundle(bundle: Omit<BundleRecord, 'sequence'>): Promise<BundleRecord>;
  /**
   * Adds the given X.509 authorities (matched by DER) and JWT authorities (matched by
   * kid) that the stored bundle lacks, in one locked read-modify-write transaction, so
   * several servers appending at once lose nothing. Creates the bundle when missing.
   * `refreshHint` is written along with a change (or when it differs and nothing else
   * does). The sequence grows by one when anything changed and stays put otherwise (no
   * change event then). A kid already present with another key is ERR_BUNDLE_KID_CONFLICT.
   */
  appendBundle(bundle: Omit<BundleRecord, 'sequence'>): Promise<BundleRecord>;
  /**
   * Drops X.509 authorities whose notAfter and JWT authorities whose expiresAt is at or
   * before `expiresBefore` (unix seconds), in one locked transaction; the sequence grows
   * when anything went. Never removes the last X.509 authority (a bundle that trusts
   * nothing helps no one) nor a certificate it cannot parse. Undefined: no such bundle.
   */
  pruneBundle(trustDomain: string, expiresBefore: number): Promise<BundleRecord | undefined>;

  // SPIFFE federation relationships (docs/federation.md; SQL in sql-federation.ts). Writes
  // append a 'federation' change event; the fetched bundles are rows of the bundle table above.
  /** A taken trust domain is already_exists ERR_FEDERATION_EXISTS. */
  createFederationRelationship(r: NewFederationRelationship): Promise<FederationRelationshipRecord>;
  /** Replaces the endpoint parameters (matched by trust domain); not_found ERR_FEDERATION_NOT_FOUND. */
  updateFederationRelationship(r: NewFederationRelationship): Promise<FederationRelationshipRecord>;
  deleteFederationRelationship(trustDomain: string): Promise<boolean>;
  getFederationRelationship(trustDomain: string): Promise<FederationRelationshipRecord | undefined>;
  listFederationRelationships(): Promise<FederationRelationshipRecord[]>;
  /** Records the spiffe_sequence of a bundle just accepted from the endpoint; never lowers it. No change event. */
  raiseFederationBundleSequence(trustDomain: string, sequence: number): Promise<void>;

  // Change feed: every write above appends one event.
  currentSequence(): Promise<number>;
  changesSince(seq: number, limit?: number): Promise<ChangeEvent[]>;
  /** Drops change-log rows older than `before` (unix seconds), keeping the newest; returns how many went. */
  pruneChanges(before: number): Promise<number>;
  /**
   * Notification after commit, in sequence order, each event once. SQLite: writes made
   * through this store object. PostgreSQL: writes by any server sharing the database
   * (LISTEN/NOTIFY, with changesSince catch-up after a lost connection).
   */
  subscribe(listener: (ev: ChangeEvent) => void): () => void;

  // Delegated authority (docs/delegation.md). Policy and revocation writes and OAuth key
  // changes append change events ('delegation_policy', 'revocation', 'oauth_key').
  /** Assigns `pol_…` when `id` is absent; a taken id is already_exists ERR_POLICY_EXISTS. */
  createDelegationPolicy(p: NewDelegationPolicy): Promise<DelegationPolicy>;
  /** Replaces every field; bumps revision. not_found ERR_POLICY_NOT_FOUND; failed_precondition ERR_POLICY_REVISION. */
  updateDelegationPolicy(p: NewDelegationPolicy & { id: string; expectRevision?: number }): Promise<DelegationPolicy>;
  deleteDelegationPolicy(id: string): Promise<boolean>;
  getDelegationPolicy(id: string): Promise<DelegationPolicy | undefined>;
  listDelegationPolicies(): Promise<DelegationPolicy[]>;
  /** The store assigns `seq`, increasing in commit order. */
  addRevocation(r: Omit<RevocationRecord, 'seq'>): Promise<RevocationRecord>;
  /** Ordered by seq; `afterSeq`: only later records; `liveAt`: only those with expiresAt > liveAt. */
  listRevocations(opts?: { afterSeq?: number; liveAt?: number }): Promise<RevocationRecord[]>;
  /**
   * Drops records with expiresAt <= before. No change event: an expired record matches
   * no live token, and every revocation index drops it by its own clock.
   */
  pruneRevocations(before: number): Promise<number>;
  /**
   * Records a single-use token's hash until `expiresAt`: true the first time a hash is
   * seen, false after, atomically across every store object on the database.
   */
  useTokenOnce(hash: string, expiresAt: number): Promise<boolean>;
  /** Upsert by kid. */
  putOAuthKey(k: OAuthKeyRecord): Promise<void>;
  listOAuthKeys(): Promise<OAuthKeyRecord[]>;
  /** Drops keys with notAfter <= before (one 'oauth_key' change event per key). */
  pruneOAuthKeys(before: number): Promise<number>;

  // Execution budgets (docs/attenuation.md; SQL in sql-budgets.ts), keyed by grant and operation.
  /** Creates the grant's budget rows; an existing row keeps its limit and counter. */
  putBudgets(grantId: string, budgets: Record<string, number>, expiresAt: number): Promise<void>;
  /**
   * Spends `n` uses atomically (across servers) when used + n fits both the grant's limit
   * and `tokenLimit`; undefined when the grant has no budget for `operation`.
   */
  consumeBudget(grantId: string, operation: string, n: number, tokenLimit: number): Promise<BudgetUse | undefined>;
  listBudgets(grantId: string): Promise<BudgetRow[]>;

  // MCP authorization (docs/mcp.md; SQL in sql-clients.ts): pre-registered clients and codes.
  /** A taken client_id is already_exists ERR_CLIENT_EXISTS. */
  createOAuthClient(c: OAuthClientRecord): Promise<OAuthClientRecord>;
  getOAuthClient(clientId: string): Promise<OAuthClientRecord | undefined>;
  listOAuthClients(): Promise<OAuthClientRecord[]>;
  deleteOAuthClient(clientId: string): Promise<boolean>;
  /** Stores an authorization code by the SHA-256 of its value. */
  putAuthorizationCode(codeHash: string, data: string, expiresAt: number): Promise<void>;
  /** First redemption wins on every server sharing the store; undefined for an unknown code. */
  redeemAuthorizationCode(codeHash: string, issue: { jti: string; grantId: string }): Promise<AuthorizationCodeRedemption | undefined>;

  // Audit trail (append-only).
  appendAudit(rec: AuditRecord): Promise<void>;
  /**
   * The same row and leaf as appendAudit, through the log's batcher (one transaction per
   * batch for both; never dropped: retried while the datastore is away, the queue bounded
   * by logRoom). Resolves with the leaf index once committed.
   */
  appendAuditBatched(rec: AuditRecord): Promise<number>;
  listAudit(filter?: { subject?: string; event?: string; sinceSeq?: number; limit?: number }): Promise<AuditRecord[]>;

  // Transparency log (docs/audit.md; SQL in sql-tlog.ts). appendAudit lands here too.
  /** Batched (audit/batcher.ts): resolves with the leaf's index once committed. Never dropped. */
  appendLog(leaf: TlogLeafInput): Promise<number>;
  /** Resolves when the append queue has room; unavailable ERR_AUDIT_BACKLOG after `timeoutMs` of it being full. */
  logRoom(timeoutMs: number): Promise<void>;
  /** Resolves when every append submitted so far is committed (or failed for good). */
  logFlushed(): Promise<void>;
  logSize(): Promise<number>;
  /** Root hash of the tree's first `size` leaves; invalid_argument ERR_AUDIT_RANGE beyond the tree. */
  logRoot(size: number): Promise<Uint8Array>;
  /** Leaves [from, to), in index order. */
  logLeaves(from: number, to: number): Promise<TlogLeaf[]>;
  queryLog(q: TlogQuery): Promise<TlogLeaf[]>;
  /** Stored complete-subtree hashes of one level ≥ 1, indices [from, to) (export). */
  logNodes(level: number, from: number, to: number): Promise<{ level: number; index: number; hash: Uint8Array }[]>;
  logInclusionProof(index: number, size: number): Promise<Uint8Array[]>;
  logConsistencyProof(first: number, second: number): Promise<Uint8Array[]>;
  /** False when a checkpoint of that size already exists. */
  putCheckpoint(cp: TlogCheckpoint): Promise<boolean>;
  /** The newest checkpoint (size ≤ atMost), or the oldest one with size ≥ atLeast. */
  getCheckpoint(opts?: { atLeast?: number; atMost?: number }): Promise<TlogCheckpoint | undefined>;
  listCheckpoints(afterSize?: number, limit?: number): Promise<TlogCheckpoint[]>;

  // Refresh tokens (docs/mcp.md; SQL in sql-refresh.ts). addRevocation also revokes the
  // refresh families a grant/subject/actor record covers, in the same transaction.
  putRefreshToken(t: NewRefreshToken): Promise<void>;
  getRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined>;
  /** Marks `oldHash` used and stores `next`, atomically, only if `oldHash` is live; exactly one caller wins across servers. */
  rotateRefreshToken(oldHash: string, next: NewRefreshToken): Promise<boolean>;

  // Human approval of escalations (OpenID CIBA; docs/attenuation.md; SQL in sql-approvals.ts).
  // Delegation policies carry their `approval` (scopes, approvers) through the policy calls above.
  putApprovalRequest(r: NewApprovalRequest): Promise<void>;
  /** putApprovalRequest unless its client already has `maxPending` pending for its subject; holds across servers (sql-approval-limits.ts). */
  putApprovalRequestWithin(r: NewApprovalRequest, maxPending: number): Promise<PendingLimitResult>;
  getApprovalRequest(by: { id: string } | { reqHash: string }): Promise<ApprovalRequestRecord | undefined>;
  /** Oldest first; `principals`: requests one of them may decide; `pendingAt`: pending and unexpired then. */
  listApprovalRequests(filter?: { principals?: string[]; pendingAt?: number; limit?: number }): Promise<ApprovalRequestRecord[]>;
  /** pending → approved/denied while unexpired; false otherwise (already decided, expired, unknown). */
  decideApprovalRequest(id: string, d: ApprovalDecision): Promise<boolean>;
  /** Records a poll by `clientId` at `nowMs`, refusing one inside the interval (which then grows); undefined: no such request of that client. */
  pollApprovalRequest(reqHash: string, clientId: string, nowMs: number): Promise<ApprovalPoll | undefined>;
  /** approved → issued for `clientId` while unexpired: exactly one caller wins across servers. */
  redeemApprovalRequest(reqHash: string, clientId: string, jti: string, now: number): Promise<boolean>;

  // OpenID Shared Signals transmitter (docs/shared-signals.md; SQL in sql-ssf.ts): streams and the SET queue.
  readonly ssf: SsfStore;

  close(): Promise<void>;
}
