import { createHash } from 'node:crypto';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { makeSelector, normalizeSelectors, type Selector } from '../../spiffe/selector.ts';
import type {
  AttestedAgent, AuditRecord, BundleRecord, ChangeEvent, ChangeKind, JwtAuthority, NewEntry, RegistrationEntry,
} from './types.ts';

/**
 * Row <-> domain mapping shared by the SQLite and PostgreSQL stores. Both schemas have
 * the same columns; pg returns BIGINT as strings and BOOLEAN as booleans, SQLite
 * returns numbers, so readers go through num()/bool().
 */
export type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));

/** Duplicate-detection key: equal selector sets (in any order) give equal keys. */
export function selectorsKey(selectors: readonly Selector[]): string {
  const canon = normalizeSelectors(selectors).map((s) => [s.type, s.value]);
  return createHash('sha256').update(JSON.stringify(canon)).digest('hex');
}

/** Join tokens are secrets: the store keeps only their SHA-256, so a leaked database file cannot be replayed. */
export function joinTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export const ENTRY_COLUMNS = [
  'id', 'spiffe_id', 'parent_id', 'selectors_key', 'selectors', 'x509_svid_ttl', 'jwt_svid_ttl', 'dns_names', 'hint',
  'admin', 'downstream', 'federates_with', 'expires_at', 'revision', 'created_at', 'updated_at',
  'agent_model', 'agent_provider', 'agent_version',
] as const;

/** Parameters in ENTRY_COLUMNS order. Selectors are stored normalised (sorted, de-duplicated). */
export function entryParams(e: NewEntry & { id: string }, revision: number, createdAt: number, updatedAt: number): unknown[] {
  const sels = normalizeSelectors(e.selectors);
  return [
    e.id, e.spiffeId.toString(), e.parentId.toString(), selectorsKey(sels),
    JSON.stringify(sels.map((s) => [s.type, s.value])),
    e.x509SvidTtl, e.jwtSvidTtl, JSON.stringify(e.dnsNames), e.hint,
    e.admin ? 1 : 0, e.downstream ? 1 : 0, JSON.stringify(e.federatesWith.map((td) => td.name)),
    e.expiresAt, revision, createdAt, updatedAt,
    e.agent.model ?? '', e.agent.provider ?? '', e.agent.version ?? '',
  ];
}

/**
 * Parses are memoised per store: 100k entries typically share a few thousand parent
 * IDs and trust domains, and SpiffeId values are immutable.
 */
export class IdCache {
  private ids = new Map<string, SpiffeId>();
  private tds = new Map<string, TrustDomain>();
  id(s: string): SpiffeId {
    let v = this.ids.get(s);
    if (!v) {
      v = SpiffeId.parse(s);
      if (this.ids.size > 50_000) this.ids.clear();
      this.ids.set(s, v);
    }
    return v;
  }
  td(s: string): TrustDomain {
    let v = this.tds.get(s);
    if (!v) { v = TrustDomain.parse(s); this.tds.set(s, v); }
    return v;
  }
}

function selectorsFromJson(json: string): Selector[] {
  return (JSON.parse(json) as [string, string][]).map(([t, v]) => makeSelector(t, v));
}

export function rowToEntry(r: Row, ids: IdCache): RegistrationEntry {
  const agent: RegistrationEntry['agent'] = {};
  if (r.agent_model) agent.model = str(r.agent_model);
  if (r.agent_provider) agent.provider = str(r.agent_provider);
  if (r.agent_version) agent.version = str(r.agent_version);
  return {
    id: str(r.id),
    spiffeId: ids.id(str(r.spiffe_id)),
    parentId: ids.id(str(r.parent_id)),
    selectors: selectorsFromJson(str(r.selectors)),
    x509SvidTtl: num(r.x509_svid_ttl),
    jwtSvidTtl: num(r.jwt_svid_ttl),
    dnsNames: JSON.parse(str(r.dns_names)) as string[],
    hint: str(r.hint),
    admin: bool(r.admin),
    downstream: bool(r.downstream),
    federatesWith: (JSON.parse(str(r.federates_with)) as string[]).map((n) => ids.td(n)),
    expiresAt: num(r.expires_at),
    revision: num(r.revision),
    createdAt: num(r.created_at),
    agent,
  };
}

export function agentParams(a: AttestedAgent): unknown[] {
  const sels = normalizeSelectors(a.selectors);
  return [
    a.spiffeId.toString(), a.attestationType, JSON.stringify(sels.map((s) => [s.type, s.value])),
    a.serial, a.previousSerial ?? '', a.expiresAt, a.banned ? 1 : 0, a.createdAt, a.updatedAt,
  ];
}

export function rowToAgent(r: Row, ids: IdCache): AttestedAgent {
  return {
    spiffeId: ids.id(str(r.spiffe_id)),
    attestationType: str(r.attestation_type),
    selectors: selectorsFromJson(str(r.selectors)),
    serial: str(r.serial),
    previousSerial: r.previous_serial == null ? '' : str(r.previous_serial),
    expiresAt: num(r.expires_at),
    banned: bool(r.banned),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function bundleParams(b: Omit<BundleRecord, 'sequence'>, updatedAt: number): unknown[] {
  return [
    b.trustDomain.name,
    JSON.stringify(b.x509Authorities.map((d) => Buffer.from(d).toString('base64'))),
    JSON.stringify(b.jwtAuthorities.map((k) => ({ kid: k.kid, key: Buffer.from(k.publicKey).toString('base64'), exp: k.expiresAt }))),
    b.refreshHint, updatedAt,
  ];
}

export function rowToBundle(r: Row, ids: IdCache): BundleRecord {
  const jwt = JSON.parse(str(r.jwt_authorities)) as { kid: string; key: string; exp: number }[];
  return {
    trustDomain: ids.td(str(r.trust_domain)),
    x509Authorities: (JSON.parse(str(r.x509_authorities)) as string[]).map((b) => new Uint8Array(Buffer.from(b, 'base64'))),
    jwtAuthorities: jwt.map((k): JwtAuthority => ({ kid: k.kid, publicKey: new Uint8Array(Buffer.from(k.key, 'base64')), expiresAt: k.exp })),
    sequence: num(r.sequence),
    refreshHint: num(r.refresh_hint),
  };
}

export function rowToChange(r: Row): ChangeEvent {
  return { seq: num(r.seq), kind: str(r.kind) as ChangeKind, id: str(r.id) };
}

export function rowToAudit(r: Row): AuditRecord {
  return { seq: num(r.seq), time: num(r.time), event: str(r.event), subject: str(r.subject), data: JSON.parse(str(r.data)) as Record<string, unknown> };
}

/** Seconds since the epoch from a millisecond clock. */
export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);
