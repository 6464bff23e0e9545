import { sign, X509Certificate, type KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import type { RevocationRecord } from '../delegation/types.ts';

/**
 * The Security Event Tokens (RFC 8417) this transmitter sends, as SSF 1.0 profiles
 * them: header {alg: ES256, typ: secevent+jwt, kid} signed by the trust domain's
 * OAuth token-signing key (so jwks_uri is /oauth2/jwks); top-level `sub_id`, no `sub`,
 * no `exp`; one event per SET; `txn` names the underlying event, the same on every
 * stream (a receiver of several streams can tell one cause from two).
 *
 * What maps to what (docs/shared-signals.md):
 *   revocation grant   → CAEP session-revoked, sub_id {format: opaque, id: grant_id}
 *   revocation jti     → CAEP session-revoked, sub_id {format: jwt_id, iss, jti}
 *   revocation subject → CAEP session-revoked, sub_id {format: iss_sub, iss, sub} (tokens issued at or before)
 *   revocation actor   → CAEP session-revoked, sub_id {format: uri, uri: the agent's SPIFFE ID}
 *   revocation biscuit → CAEP session-revoked, sub_id {format: opaque, id: block revocation id}
 *   agent banned       → CAEP credential-change x509 revoke, sub_id {format: uri, uri: agent SPIFFE ID}
 *   agent evicted      → CAEP credential-change x509 delete
 *   CA authority tainted → CAEP credential-change revoke of the authority (x509_issuer/x509_serial)
 */
export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
export const SSF_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/';
export const SESSION_REVOKED = `${CAEP}session-revoked`;
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
export const VERIFICATION = `${SSF_EVENT}verification`;
export const STREAM_UPDATED = `${SSF_EVENT}stream-updated`;
/** What a stream may request; anything else in events_requested is ignored (SSF §8.1.1). */
export const EVENTS_SUPPORTED: readonly string[] = [SESSION_REVOKED, CREDENTIAL_CHANGE];

export type SubjectId = Record<string, unknown> & { format: string };

/** One event before it is addressed to a stream: the stream adds aud and the signature. */
export interface SourceEvent {
  /** The underlying cause, unique across servers: `rev:<seq>`, `chg:<seq>`, `taint:<kid>`, `verify:<random>`. */
  src: string;
  type: string;
  subject: SubjectId;
  payload: Record<string, unknown>;
}

export function revocationEvent(r: RevocationRecord, issuer: string): SourceEvent {
  return {
    src: `rev:${r.seq}`, type: SESSION_REVOKED, subject: revocationSubject(r, issuer),
    payload: { event_timestamp: r.at, initiating_entity: initiator(r.by), reason_admin: { en: `tessera revocation ${r.kind} #${r.seq}` } },
  };
}

function revocationSubject(r: RevocationRecord, issuer: string): SubjectId {
  switch (r.kind) {
    case 'jti': return { format: 'jwt_id', iss: issuer, jti: r.value };
    case 'subject': {
      // `<issuer>#<name>`: an issuer URL has no fragment, so the first '#' splits.
      const i = r.value.indexOf('#');
      return i > 0 ? { format: 'iss_sub', iss: r.value.slice(0, i), sub: r.value.slice(i + 1) } : { format: 'opaque', id: r.value };
    }
    case 'actor': return { format: 'uri', uri: r.value };
    default: return { format: 'opaque', id: r.value };
  }
}

/** CAEP initiating_entity from the revocation's `by` (audit text: "admin uid 0", "rfc7009 spiffe://…", "policy …"). */
function initiator(by: string | undefined): string {
  if (!by) return 'system';
  if (by.startsWith('admin')) return 'admin';
  if (by.startsWith('rfc7009') || by.startsWith('user')) return 'user';
  if (by.startsWith('policy')) return 'policy';
  return 'system';
}

export function agentEvent(changeSeq: number, spiffeId: string, change: 'revoke' | 'delete', at: number): SourceEvent {
  return {
    src: `chg:${changeSeq}`, type: CREDENTIAL_CHANGE, subject: { format: 'uri', uri: spiffeId },
    payload: {
      credential_type: 'x509', change_type: change, event_timestamp: at, initiating_entity: 'admin',
      reason_admin: { en: change === 'revoke' ? 'agent banned: its X.509-SVID is no longer renewed or accepted' : 'agent evicted: it must attest again' },
    },
  };
}

/** A tainted authority of this server's CA: what it signed is being re-issued and should not be trusted for long. */
export function taintEvent(trustDomain: string, kind: 'x509' | 'jwt', authorityId: string, certificate: Uint8Array | undefined, at: number): SourceEvent {
  const x = certificate ? new X509Certificate(certificate) : undefined;
  return {
    src: `taint:${kind}:${authorityId}`, type: CREDENTIAL_CHANGE, subject: { format: 'uri', uri: `spiffe://${trustDomain}` },
    payload: {
      credential_type: kind === 'x509' ? 'x509' : 'spiffe-jwt-authority', change_type: 'revoke', event_timestamp: at, initiating_entity: 'admin',
      friendly_name: `${kind} authority ${authorityId}`,
      ...(x ? { x509_issuer: x.issuer.replace(/\n/g, ', '), x509_serial: x.serialNumber.toLowerCase() } : {}),
      reason_admin: { en: `the trust domain's ${kind} authority ${authorityId} was tainted: SVIDs it signed are being re-issued` },
    },
  };
}

export function verificationEvent(streamId: string, state: string | undefined): SourceEvent {
  return { src: `verify:${randomBytes(9).toString('base64url')}`, type: VERIFICATION, subject: { format: 'opaque', id: streamId }, payload: state === undefined ? {} : { state } };
}

export interface SignedSet { jti: string; set: string }

/** The SET of `ev` for one stream's audience. */
export function signSet(ev: SourceEvent, o: { issuer: string; aud: string; key: { kid: string; privateKey: KeyObject }; nowSec: number }): SignedSet {
  const jti = `set_${randomBytes(16).toString('base64url')}`;
  const claims = { iss: o.issuer, jti, iat: o.nowSec, aud: o.aud, txn: ev.src, sub_id: ev.subject, events: { [ev.type]: ev.payload } };
  const input = `${b64(JSON.stringify({ alg: 'ES256', typ: 'secevent+jwt', kid: o.key.kid }))}.${b64(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key: o.key.privateKey, dsaEncoding: 'ieee-p1363' });
  return { jti, set: `${input}.${sig.toString('base64url')}` };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
