import { RevocationIndex } from '../delegation/revocation-index.ts';
import type { DelegatedToken, RevocationChecker, RevocationKind, RevocationRecord } from '../delegation/types.ts';
import type { SecurityEvent } from './set.ts';

export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

export interface SsfRevocationsOptions {
  /**
   * How long a revocation learnt from a SET keeps matching, seconds: at least the
   * authorization server's longest token lifetime (SETs carry no expiry). Default 86 400.
   */
  retainSeconds?: number;
  /** Test seam: wall clock, ms. */
  now?: () => number;
}

/**
 * A revocation checker fed by Shared Signals instead of Tessera's own feed: pass it as
 * `revocations` to verifyDelegatedToken (or the middleware) and feed it the SETs a push
 * handler or a poll client verified. Tessera's SETs map back to revocation records:
 *   session-revoked  sub_id jwt_id {iss, jti}  → that token and every token derived from it
 *                    sub_id opaque {id}        → the grant (or Biscuit block) with that id
 *                    sub_id iss_sub {iss, sub} → the user's tokens issued at or before event_timestamp
 *                    sub_id uri {uri}          → tokens with that actor, issued at or before
 *   credential-change revoke|delete of an agent (uri = a SPIFFE ID with a path) → as an actor revocation
 * Unlike the SSE feed it cannot tell a silent stream from a quiet one (SSF has no
 * heartbeat): ask for verification events to watch the stream's health.
 */
export class SsfRevocations implements RevocationChecker {
  private readonly index = new RevocationIndex();
  private readonly listeners = new Set<(r: RevocationRecord, ev: SecurityEvent) => void>();
  private readonly retain: number;
  private readonly now: () => number;
  private seq = 0;
  private sweptAt = 0;

  constructor(o: SsfRevocationsOptions = {}) {
    this.retain = o.retainSeconds ?? 86_400;
    this.now = o.now ?? Date.now;
  }

  revocationOf(token: DelegatedToken): RevocationRecord | undefined {
    return this.index.match(token, this.now() / 1000);
  }

  get size(): number { return this.index.size; }

  /** Applies a verified SET; returns the revocation records it added (none for other events). */
  apply(ev: SecurityEvent): RevocationRecord[] {
    const nowSec = this.now() / 1000;
    if (nowSec - this.sweptAt > 60) { this.index.sweep(nowSec); this.sweptAt = nowSec; }
    const at = typeof ev.event.event_timestamp === 'number' ? ev.event.event_timestamp : ev.iat;
    const add = (kind: RevocationKind, value: unknown): RevocationRecord | undefined => {
      if (typeof value !== 'string' || !value) return undefined;
      const r: RevocationRecord = { seq: ++this.seq, kind, value, at, expiresAt: Math.max(at, nowSec) + this.retain };
      this.index.add(r);
      return r;
    };
    const s = ev.subject;
    const out: (RevocationRecord | undefined)[] = [];
    if (ev.type === SESSION_REVOKED) {
      if (s.format === 'jwt_id' && s.iss === ev.iss) out.push(add('jti', s.jti));
      else if (s.format === 'opaque') out.push(add('grant', s.id), add('biscuit', s.id));
      else if (s.format === 'iss_sub' && typeof s.iss === 'string' && typeof s.sub === 'string') out.push(add('subject', `${s.iss}#${s.sub}`));
      else if (s.format === 'uri') out.push(add('actor', s.uri));
    } else if (ev.type === CREDENTIAL_CHANGE && s.format === 'uri' && isWorkloadId(s.uri)
      && (ev.event.change_type === 'revoke' || ev.event.change_type === 'delete')) {
      out.push(add('actor', s.uri));
    }
    const added = out.filter((r): r is RevocationRecord => r !== undefined);
    for (const r of added) for (const l of [...this.listeners]) l(r, ev);
    return added;
  }

  /** Called for each record a SET added. */
  onRevocation(listener: (r: RevocationRecord, ev: SecurityEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
}

/** spiffe://td/path: a workload or agent, not a whole trust domain (a tainted authority's subject). */
const isWorkloadId = (u: unknown): u is string => typeof u === 'string' && /^spiffe:\/\/[^/]+\/./.test(u);
