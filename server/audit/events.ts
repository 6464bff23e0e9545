import { leafHashOfPrefixed } from './merkle.ts';

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

/**
 * Bumped on any incompatible change of the record shape; verifiers read `v` first.
 * 2: admin changes name their caller (actor "admin:uid:<n>", detail admin_uid/admin_gid/admin_pid).
 */
export const AUDIT_SCHEMA_VERSION = 2;

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

/** JSON string text; most strings need no escaping and skip JSON.stringify (lone surrogates go through it, as it escapes them). */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const jsonString = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/**
 * Canonical JSON of any JSON value: sorted keys, undefined members dropped, non-finite
 * numbers refused. Written as one string builder: every issuance event goes through it
 * on the event loop (docs/audit.md "Figures").
 */
export function canonicalJson(v: unknown): string {
  switch (typeof v) {
    case 'string': return jsonString(v);
    case 'boolean': return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`audit events cannot hold the number ${v}`);
      return JSON.stringify(v);
    case 'bigint': return jsonString(v.toString());
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + (v[i] === undefined ? 'null' : canonicalJson(v[i]));
        return out + ']';
      }
      if (v instanceof Uint8Array) return jsonString(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'));
      const o = v as Record<string, unknown>;
      let out = '{';
      for (const k of Object.keys(o).sort()) {
        const x = o[k];
        if (x === undefined) continue;
        out += (out.length > 1 ? ',' : '') + jsonString(k) + ':' + canonicalJson(x);
      }
      return out + '}';
    }
    default: throw new TypeError(`audit events cannot hold a ${typeof v}`);
  }
}

function eventJson(e: AuditEvent): string {
  const rec: Record<string, unknown> = { v: AUDIT_SCHEMA_VERSION, type: e.type, time: new Date(e.time).toISOString() };
  for (const k of TOP_LEVEL) if (e[k] !== undefined && e[k] !== '') rec[k] = e[k];
  if (e.detail && Object.keys(e.detail).length) rec.detail = e.detail;
  return canonicalJson(rec);
}

/** The leaf bytes of an event. */
export function encodeEvent(e: AuditEvent): Uint8Array {
  return Buffer.from(eventJson(e), 'utf8');
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

/**
 * An event as the store appends it: leaf bytes, leaf hash, indexed columns. The bytes
 * are encoded once behind the leaf prefix, so hashing needs no second buffer.
 */
export function leafOf(e: AuditEvent): EventColumns & { data: Uint8Array; leafHash: Uint8Array } {
  const prefixed = Buffer.from(`\u0000${eventJson(e)}`, 'utf8');
  return { data: prefixed.subarray(1), leafHash: leafHashOfPrefixed(prefixed), ...columnsOf(e) };
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
  // An admin change's actor is its caller, whatever the record says about others (a revoked actor, a banned agent).
  const admin = typeof d.admin_uid === 'number' ? `admin:uid:${d.admin_uid}` : undefined;
  const selfActed = /^agent\./.test(rec.event) && rec.subject.startsWith('spiffe://');
  const actor = admin ?? str(d.actor) ?? str(chain[0]) ?? (selfActed ? rec.subject : undefined) ?? str(d.who) ?? str(d.caller);
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
