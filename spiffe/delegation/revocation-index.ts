import type { DelegatedToken, RevocationKind, RevocationRecord } from './types.ts';
import { invalid } from './errors.ts';

const KINDS: readonly RevocationKind[] = ['grant', 'jti', 'subject', 'actor', 'biscuit'];

/** A feed record from its wire form (`expires_at`); throws on anything else. */
export function parseRevocationRecord(x: unknown): RevocationRecord {
  const r = x as Record<string, unknown> | null;
  const ok = typeof r === 'object' && r !== null
    && Number.isSafeInteger(r.seq) && KINDS.includes(r.kind as RevocationKind)
    && typeof r.value === 'string' && r.value.length > 0
    && typeof r.at === 'number' && Number.isFinite(r.at) && typeof r.expires_at === 'number' && Number.isFinite(r.expires_at);
  if (!ok) throw invalid('malformed', `revocation record ${JSON.stringify(x)?.slice(0, 200)} is not {seq, kind, value, at, expires_at}`);
  return { seq: r.seq as number, kind: r.kind as RevocationKind, value: r.value as string, at: r.at as number, expiresAt: r.expires_at as number };
}

/**
 * The live revocation records, indexed by kind and value so that a check costs a few
 * map lookups per token (jti + each chain element + each actor), whatever the number
 * of records. Matching rules of docs/delegation.md:
 *   grant: grant_id == value; jti: jti == value or value ∈ chain;
 *   subject: sub == value and iat <= at; actor: value is any actor and iat <= at;
 *   biscuit: value is the revocation id of any block of a Biscuit (docs/attenuation.md).
 * A record stops matching at its expires_at (then no token it could match is alive).
 */
export class RevocationIndex {
  private readonly bySeq = new Map<number, RevocationRecord>();
  private readonly byKind: Record<RevocationKind, Map<string, RevocationRecord[]>> = {
    grant: new Map(), jti: new Map(), subject: new Map(), actor: new Map(), biscuit: new Map(),
  };

  get size(): number { return this.bySeq.size; }
  has(seq: number): boolean { return this.bySeq.has(seq); }
  records(): RevocationRecord[] { return [...this.bySeq.values()]; }

  /** Adds a record; false when this seq is already known. */
  add(r: RevocationRecord): boolean {
    if (this.bySeq.has(r.seq)) return false;
    this.bySeq.set(r.seq, r);
    const m = this.byKind[r.kind];
    const list = m.get(r.value);
    if (list) list.push(r); else m.set(r.value, [r]);
    return true;
  }

  /** A snapshot replaces everything; returns the records that were not known before. */
  replace(records: RevocationRecord[]): RevocationRecord[] {
    const known = new Set(this.bySeq.keys());
    this.bySeq.clear();
    for (const m of Object.values(this.byKind)) m.clear();
    const fresh: RevocationRecord[] = [];
    for (const r of records) if (this.add(r) && !known.has(r.seq)) fresh.push(r);
    return fresh;
  }

  /** Drops records whose expires_at has passed. */
  sweep(nowSec: number): void {
    for (const [seq, r] of this.bySeq) {
      if (r.expiresAt > nowSec) continue;
      this.bySeq.delete(seq);
      const m = this.byKind[r.kind];
      const rest = (m.get(r.value) ?? []).filter((x) => x !== r);
      if (rest.length) m.set(r.value, rest); else m.delete(r.value);
    }
  }

  /** The first live record matching the token, or undefined. Allocation-free: it runs on every request. */
  match(t: DelegatedToken, nowSec: number): RevocationRecord | undefined {
    const iat = t.issuedAt.getTime() / 1000;
    const k = this.byKind;
    let hit = live(k.grant.get(t.grantId), nowSec, Infinity) ?? live(k.jti.get(t.jti), nowSec, Infinity) ?? live(k.subject.get(t.subject), nowSec, iat);
    if (hit) return hit;
    for (let i = 0; i < t.chain.length; i++) if ((hit = live(k.jti.get(t.chain[i]!), nowSec, Infinity))) return hit;
    for (let i = 0; i < t.actors.length; i++) if ((hit = live(k.actor.get(t.actors[i]!.id.toString()), nowSec, iat))) return hit;
    const rids = t.biscuitRevocationIds;
    if (rids) for (let i = 0; i < rids.length; i++) if ((hit = live(k.biscuit.get(rids[i]!), nowSec, Infinity))) return hit;
    return undefined;
  }
}

/** A record of `list` still live at `nowSec` whose `at` is not before `iat` (Infinity: any). */
function live(list: RevocationRecord[] | undefined, nowSec: number, iat: number): RevocationRecord | undefined {
  if (!list) return undefined;
  for (const r of list) if (r.expiresAt > nowSec && (iat === Infinity || iat <= r.at)) return r;
  return undefined;
}
