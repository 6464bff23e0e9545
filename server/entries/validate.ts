import { invalidArgument } from '../../common/errors.ts';
import { serverId, SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import { makeSelector, type Selector } from '../../spiffe/selector.ts';
import type { Entry } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { EntryAgentMetadata, EntryUpdate, NewEntry } from '../datastore/types.ts';

/**
 * Parses a wire entry (tessera.v1.Entry) into a NewEntry at the API edge, so the core
 * never re-validates strings. Every failure is InvalidArgument whose code names the
 * field (ERR_ENTRY_<FIELD>) and whose message names the field and the value.
 *
 * Limits (seconds):
 *   x509_svid_ttl  0 (server default) or 60 .. 2_592_000 (30 days)
 *   jwt_svid_ttl   0 (server default) or 30 .. 86_400 (24 hours)
 *   hint, agent metadata fields: at most 256 characters, no control characters
 */
export const ENTRY_LIMITS = {
  x509SvidTtl: { min: 60, max: 30 * 86_400 },
  jwtSvidTtl: { min: 30, max: 86_400 },
  textMax: 256,
  maxSelectors: 64,
  maxDnsNames: 64,
  maxFederatesWith: 64,
} as const;

export interface EntryValidationContext {
  /** The server's own trust domain: every entry's spiffe_id and parent_id must be in it. */
  trustDomain: TrustDomain;
  /** Unix seconds; expires_at must be later. */
  now: number;
}

const ENTRY_ID = /^[A-Za-z0-9._-]{1,128}$/;
// C0, DEL and C1 control characters: they would corrupt logs and terminal output.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED_PREFIX = '/tessera';

/** Create: id optional (the store assigns one), revision ignored. */
export function validateNewEntry(wire: Entry, ctx: EntryValidationContext): NewEntry {
  const e = validateFields(wire, ctx);
  const id = wire.id ?? '';
  if (id !== '') return { ...e, id: validateEntryId(id) };
  return e;
}

/** Update: id required; a non-zero revision becomes expectRevision (optimistic concurrency). */
export function validateEntryUpdate(wire: Entry, ctx: EntryValidationContext): EntryUpdate {
  const id = wire.id ?? '';
  if (id === '') throw invalidArgument('ERR_ENTRY_ID', 'id: is required to update an entry');
  const e = validateFields(wire, ctx);
  const revision = int64(wire.revision, 'revision', 'ERR_ENTRY_REVISION');
  if (revision < 0) throw invalidArgument('ERR_ENTRY_REVISION', `revision: ${revision} must not be negative`);
  const out: EntryUpdate = { ...e, id: validateEntryId(id) };
  if (revision > 0) out.expectRevision = revision;
  return out;
}

export function validateEntryId(id: string): string {
  if (!ENTRY_ID.test(id)) throw invalidArgument('ERR_ENTRY_ID', `id: "${clip(id)}" must be 1-128 characters of [A-Za-z0-9._-]`);
  return id;
}

function validateFields(wire: Entry, ctx: EntryValidationContext): NewEntry {
  const td = ctx.trustDomain;
  const spiffeId = parseId(wire.spiffe_id ?? '', 'spiffe_id', 'ERR_ENTRY_SPIFFE_ID', td);
  if (isReserved(spiffeId)) {
    throw invalidArgument('ERR_ENTRY_SPIFFE_ID',
      `spiffe_id: "${spiffeId}" is in the reserved ${RESERVED_PREFIX}/ namespace (agent and server IDs)`);
  }
  const parentId = parseId(wire.parent_id ?? '', 'parent_id', 'ERR_ENTRY_PARENT_ID', td);
  validateParentForm(parentId, td);
  if (parentId.equals(spiffeId)) {
    throw invalidArgument('ERR_ENTRY_PARENT_ID', `parent_id: "${parentId}" equals spiffe_id; an entry cannot be its own parent`);
  }
  return {
    spiffeId,
    parentId,
    selectors: validateSelectors(wire.selectors ?? []),
    x509SvidTtl: ttl(wire.x509_svid_ttl, 'x509_svid_ttl', 'ERR_ENTRY_X509_SVID_TTL', ENTRY_LIMITS.x509SvidTtl),
    jwtSvidTtl: ttl(wire.jwt_svid_ttl, 'jwt_svid_ttl', 'ERR_ENTRY_JWT_SVID_TTL', ENTRY_LIMITS.jwtSvidTtl),
    dnsNames: validateDnsNames(wire.dns_names ?? []),
    hint: text(wire.hint ?? '', 'hint', 'ERR_ENTRY_HINT'),
    admin: wire.admin === true,
    downstream: wire.downstream === true,
    federatesWith: validateFederatesWith(wire.federates_with ?? [], td),
    expiresAt: validateExpiresAt(wire.expires_at, ctx.now),
    agent: validateAgentMetadata(wire.agent),
  };
}

function parseId(raw: string, field: string, code: string, td: TrustDomain): SpiffeId {
  if (raw === '') throw invalidArgument(code, `${field}: is required`);
  let id: SpiffeId;
  try { id = SpiffeId.parse(raw); } catch (err) {
    throw invalidArgument(code, `${field}: "${clip(raw)}" is not a valid SPIFFE ID: ${(err as Error).message}`, err);
  }
  if (!id.memberOf(td)) {
    throw invalidArgument(code, `${field}: "${id}" is not in this server's trust domain "${td.name}"`);
  }
  if (id.isTrustDomainId) {
    throw invalidArgument(code, `${field}: "${id}" is the trust domain ID; it needs a path`);
  }
  return id;
}

function isReserved(id: SpiffeId): boolean {
  return id.path === RESERVED_PREFIX || id.path.startsWith(RESERVED_PREFIX + '/');
}

/**
 * Parents inside /tessera/ are either the server ID (node-alias entries) or an agent
 * ID /tessera/agent/<method>/<id...>; anything else there is an unknown parent form.
 * Outside /tessera/ a parent is a workload SPIFFE ID (nested entries).
 */
function validateParentForm(parent: SpiffeId, td: TrustDomain): void {
  if (!isReserved(parent) || parent.equals(serverId(td))) return;
  const segs = parent.path.split('/').slice(1);
  if (segs.length >= 4 && segs[0] === 'tessera' && segs[1] === 'agent') return;
  throw invalidArgument('ERR_ENTRY_PARENT_ID',
    `parent_id: "${parent}" is an unknown parent form; use an agent ID (${td.idString}/tessera/agent/<method>/<id>), ` +
    `the server ID (${serverId(td)}) for node aliases, or a workload SPIFFE ID`);
}

function validateSelectors(list: readonly { type?: string; value?: string }[]): Selector[] {
  if (list.length === 0) throw invalidArgument('ERR_ENTRY_SELECTORS', 'selectors: at least one selector is required');
  if (list.length > ENTRY_LIMITS.maxSelectors) {
    throw invalidArgument('ERR_ENTRY_SELECTORS', `selectors: ${list.length} given, at most ${ENTRY_LIMITS.maxSelectors} allowed`);
  }
  return list.map((s, i) => {
    try { return makeSelector(s.type ?? '', s.value ?? ''); } catch (err) {
      throw invalidArgument('ERR_ENTRY_SELECTORS', `selectors[${i}]: "${clip(`${s.type ?? ''}:${s.value ?? ''}`)}": ${(err as Error).message}`, err);
    }
  }).map((s, i) => {
    if (CONTROL.test(s.value)) throw invalidArgument('ERR_ENTRY_SELECTORS', `selectors[${i}]: value contains control characters`);
    return s;
  });
}

function ttl(v: number | undefined, field: string, code: string, range: { min: number; max: number }): number {
  const n = v ?? 0;
  if (!Number.isInteger(n)) throw invalidArgument(code, `${field}: ${n} must be a whole number of seconds`);
  if (n === 0) return 0;
  if (n < range.min || n > range.max) {
    throw invalidArgument(code, `${field}: ${n} is out of range; use 0 (server default) or ${range.min}..${range.max} seconds`);
  }
  return n;
}

function validateDnsNames(list: readonly string[]): string[] {
  if (list.length > ENTRY_LIMITS.maxDnsNames) {
    throw invalidArgument('ERR_ENTRY_DNS_NAMES', `dns_names: ${list.length} given, at most ${ENTRY_LIMITS.maxDnsNames} allowed`);
  }
  const out: string[] = [];
  list.forEach((raw, i) => {
    const name = raw.toLowerCase();
    const labels = name.split('.');
    // A wildcard is allowed only as the whole leftmost label ("*.example.org").
    const check = labels[0] === '*' && labels.length > 2 ? labels.slice(1) : labels;
    const ok = name.length > 0 && name.length <= 253 && check.every((l) => DNS_LABEL.test(l)) &&
      !/^[0-9]+$/.test(labels[labels.length - 1]);
    if (!ok) throw invalidArgument('ERR_ENTRY_DNS_NAMES', `dns_names[${i}]: "${clip(raw)}" is not a valid DNS name`);
    if (!out.includes(name)) out.push(name);
  });
  return out;
}

function validateFederatesWith(list: readonly string[], own: TrustDomain): TrustDomain[] {
  if (list.length > ENTRY_LIMITS.maxFederatesWith) {
    throw invalidArgument('ERR_ENTRY_FEDERATES_WITH', `federates_with: ${list.length} given, at most ${ENTRY_LIMITS.maxFederatesWith} allowed`);
  }
  const out: TrustDomain[] = [];
  list.forEach((raw, i) => {
    let td: TrustDomain;
    try { td = TrustDomain.parse(raw); } catch (err) {
      throw invalidArgument('ERR_ENTRY_FEDERATES_WITH', `federates_with[${i}]: "${clip(raw)}" is not a valid trust domain: ${(err as Error).message}`, err);
    }
    if (td.equals(own)) {
      throw invalidArgument('ERR_ENTRY_FEDERATES_WITH', `federates_with[${i}]: "${raw}" is this server's own trust domain`);
    }
    if (!out.some((x) => x.equals(td))) out.push(td);
  });
  return out;
}

function validateExpiresAt(v: Entry['expires_at'], now: number): number {
  const n = int64(v, 'expires_at', 'ERR_ENTRY_EXPIRES_AT');
  if (n < 0) throw invalidArgument('ERR_ENTRY_EXPIRES_AT', `expires_at: ${n} must not be negative (0 = never)`);
  if (n !== 0 && n <= now) {
    throw invalidArgument('ERR_ENTRY_EXPIRES_AT', `expires_at: ${n} (${new Date(n * 1000).toISOString()}) is in the past`);
  }
  return n;
}

function validateAgentMetadata(a: Entry['agent']): EntryAgentMetadata {
  const out: EntryAgentMetadata = {};
  if (!a) return out;
  const model = text(a.agent_model ?? '', 'agent.agent_model', 'ERR_ENTRY_AGENT_METADATA');
  const provider = text(a.agent_provider ?? '', 'agent.agent_provider', 'ERR_ENTRY_AGENT_METADATA');
  const version = text(a.agent_version ?? '', 'agent.agent_version', 'ERR_ENTRY_AGENT_METADATA');
  if (model) out.model = model;
  if (provider) out.provider = provider;
  if (version) out.version = version;
  return out;
}

function text(v: string, field: string, code: string): string {
  const len = [...v].length;
  if (len > ENTRY_LIMITS.textMax) {
    throw invalidArgument(code, `${field}: "${clip(v)}" is ${len} characters, at most ${ENTRY_LIMITS.textMax} allowed`);
  }
  if (CONTROL.test(v)) throw invalidArgument(code, `${field}: ${JSON.stringify(clip(v))} contains control characters`);
  return v;
}

/** int64 wire fields arrive as numbers with the project's loader options; be lenient about Long/string. */
function int64(v: unknown, field: string, code: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function'
    ? (v as { toNumber(): number }).toNumber() : Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(code, `${field}: ${String(v)} is not an integer`);
  return n;
}

/** Values echoed in messages are clipped so a hostile 1 MB string does not become a 1 MB log line. */
function clip(s: string): string { return s.length > 80 ? s.slice(0, 77) + '...' : s; }
