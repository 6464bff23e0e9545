import { leafHash } from './merkle.ts';

/**
 * Audit events: the records the transparency log holds (docs/audit.md). One leaf is the
 * UTF-8 bytes of one event in canonical JSON: keys sorted (by UTF-16 code units, as
 * RFC 8785), no insignificant whitespace, absent fields left out. Anyone can re-encode a
 * decoded event and get the same bytes, so the leaf hash is reproducible from the JSON.
 *
 * The top-level fields are the ones draft-ietf-wimse-aims asks every audit event to
 * carry (agent identifier, delegated subject, resource/tool, action and decision,
 * timestamp and correlation id, posture, remediation cause); `detail` holds what is
 * particular to the event type.
 */

/** Bumped on any incompatible change of the record shape; verifiers read `v` first. */
export const AUDIT_SCHEMA_VERSION = 1;

export type Decision = 'allow' | 'deny';

export interface AuditEvent {
  /** Dotted event type, e.g. "x509svid.issued" (docs/audit.md lists them). */
  type: string;
  /** Unix milliseconds (the server's clock). Encoded as RFC 3339 UTC text. */
  time: number;
  /** Agent identifier: the SPIFFE ID that acted (node agent, workload, or "admin:uid:<n>"). */
  actor?: string;
  /** Delegated subject: the user the actor acted for, when any. */
  subject?: string;
  /** agent_instance_id of the acting instance. */
  instance?: string;
  /** Resource or tool acted on (an SVID's SPIFFE ID, an entry id, a tool name). */
  resource?: string;
  action?: string;
  decision?: Decision;
  /** Why a refusal happened, or the cause of a remediation (ban, eviction, revocation). */
  reason?: string;
  correlation_id?: string;
  /** Posture / risk state reported by whoever produced the event. */
  posture?: string;
  detail?: Record<string, unknown>;
}

/** A decoded leaf: the event plus its schema version. */
export interface DecodedEvent extends AuditEvent { v: number }

const TOP_LEVEL = ['actor', 'subject', 'instance', 'resource', 'action', 'decision', 'reason', 'correlation_id', 'posture'] as const;

/** Canonical JSON of any JSON value: sorted keys, undefined members dropped, non-finite numbers refused. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`audit events cannot hold the number ${v}`);
    return JSON.stringify(v);
  }
  if (typeof v === 'bigint') return JSON.stringify(v.toString());
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`audit events cannot hold a ${typeof v}`);
}

/** The leaf bytes of an event. */
export function encodeEvent(e: AuditEvent): Uint8Array {
  const rec: Record<string, unknown> = { v: AUDIT_SCHEMA_VERSION, type: e.type, time: new Date(e.time).toISOString() };
  for (const k of TOP_LEVEL) if (e[k] !== undefined && e[k] !== '') rec[k] = e[k];
  if (e.detail && Object.keys(e.detail).length) rec.detail = e.detail;
  return Buffer.from(canonicalJson(rec), 'utf8');
}

export class EventDecodeError extends Error {
  readonly code = 'ERR_AUDIT_EVENT';
}

/** Parses leaf bytes back into an event; throws EventDecodeError naming what is wrong. */
export function decodeEvent(data: Uint8Array): DecodedEvent {
  let o: unknown;
  try { o = JSON.parse(Buffer.from(data).toString('utf8')); } catch (e) {
    throw new EventDecodeError(`leaf is not JSON: ${(e as Error).message}`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new EventDecodeError('leaf is not a JSON object');
  const r = o as Record<string, unknown>;
  if (typeof r.v !== 'number') throw new EventDecodeError('leaf has no schema version "v"');
  if (typeof r.type !== 'string' || !r.type) throw new EventDecodeError('leaf has no "type"');
  const time = typeof r.time === 'string' ? Date.parse(r.time) : NaN;
  if (!Number.isFinite(time)) throw new EventDecodeError('leaf has no RFC 3339 "time"');
  const out: DecodedEvent = { v: r.v, type: r.type, time };
  for (const k of TOP_LEVEL) if (typeof r[k] === 'string') (out as unknown as Record<string, unknown>)[k] = r[k];
  if (r.detail && typeof r.detail === 'object') out.detail = r.detail as Record<string, unknown>;
  return out;
}

/** The indexed columns of a leaf (sql-tlog.ts): what `tessera-server audit query` filters on. */
export interface EventColumns { type: string; time: number; actor?: string; subject?: string; instance?: string }

export const columnsOf = (e: AuditEvent): EventColumns => ({
  type: e.type, time: e.time, actor: e.actor || undefined, subject: e.subject || undefined, instance: e.instance || undefined,
});

/** An event as the store appends it: leaf bytes, leaf hash, indexed columns. */
export function leafOf(e: AuditEvent): EventColumns & { data: Uint8Array; leafHash: Uint8Array } {
  const data = encodeEvent(e);
  return { data, leafHash: leafHash(data), ...columnsOf(e) };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const DENY = /(refused|failed|denied|rejected)$/;

/**
 * An audit-table record (Datastore.appendAudit, written by attestation, admin, delegation
 * and OAuth code) as a log event: the record's subject is the resource acted on, unless
 * it is the agent that acted; well-known data fields fill the AIMS fields.
 */
export function eventFromAuditRecord(rec: { time: number; event: string; subject: string; data: Record<string, unknown> }): AuditEvent {
  const d = rec.data ?? {};
  const chain = Array.isArray(d.actor_chain) ? d.actor_chain : [];
  const selfActed = /^agent\./.test(rec.event) && rec.subject.startsWith('spiffe://');
  const actor = str(d.actor) ?? str(chain[0]) ?? (selfActed ? rec.subject : undefined) ?? str(d.who) ?? str(d.caller);
  return {
    type: rec.event,
    time: rec.time * 1000,
    actor,
    subject: str(d.subject),
    instance: str(d.instance_id) ?? str(d.agent_instance_id),
    resource: rec.subject || undefined,
    decision: DENY.test(rec.event) ? 'deny' : 'allow',
    reason: str(d.reason) ?? (DENY.test(rec.event) ? str(d.error_description) ?? str(d.message) ?? str(d.code) : undefined),
    correlation_id: str(d.correlation_id) ?? str(d.grant_id),
    detail: d,
  };
}
