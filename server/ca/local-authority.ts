import { failedPrecondition, invalidArgument } from '../../common/errors.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { AuthorityKind, CaManager, CaSlot } from './manager.ts';

/**
 * The operator's view of this server's authorities (tessera-server localauthority,
 * after SPIRE's): each CA slot is one X.509 authority, named by its certificate's
 * subject key ID (hex, the same ID agents read from a leaf's authority key ID), and
 * one JWT authority, named by its key ID. State: active, prepared, or old.
 */
export interface AuthorityView {
  kind: AuthorityKind;
  authority_id: string;
  state: 'active' | 'prepared' | 'old';
  expires_at: number;
  tainted: boolean;
  revoked: boolean;
  slot: string;
}

/** Subject key IDs never change for a slot: computed once per certificate. */
const skiCache = new WeakMap<CaSlot, string>();

export function x509AuthorityId(s: CaSlot): string {
  let id = skiCache.get(s);
  if (id === undefined) {
    const ski = readCertificate(s.certificate).subjectKeyId;
    id = ski ? Buffer.from(ski).toString('hex') : '';
    skiCache.set(s, id);
  }
  return id;
}

export function authorityId(kind: AuthorityKind, s: CaSlot): string {
  return kind === 'x509' ? x509AuthorityId(s) : s.jwtKey.kid;
}

export function parseKind(kind: string): AuthorityKind {
  if (kind === 'x509' || kind === 'jwt') return kind;
  throw invalidArgument('ERR_AUTHORITY_KIND', `kind: "${kind}" must be x509 or jwt`);
}

/** Active first, then prepared, then old (newest first). */
export function authorityViews(ca: CaManager, kind: AuthorityKind): AuthorityView[] {
  const active = ca.active(), prepared = ca.prepared();
  const state = (s: CaSlot): AuthorityView['state'] => (s === active ? 'active' : s === prepared ? 'prepared' : 'old');
  const rank = { active: 0, prepared: 1, old: 2 };
  return ca.slots().map((s) => view(kind, s, state(s)))
    .sort((a, b) => rank[a.state] - rank[b.state] || b.expires_at - a.expires_at);
}

export function view(kind: AuthorityKind, s: CaSlot, state: AuthorityView['state']): AuthorityView {
  const mark = kind === 'x509' ? s.x509Mark : s.jwtMark;
  return {
    kind, authority_id: authorityId(kind, s), state, expires_at: Math.floor(s.notAfter / 1000),
    tainted: mark !== undefined, revoked: mark === 'revoked', slot: s.id,
  };
}

/** The slot whose `kind` authority has this ID (the slot directory name is accepted too). */
export function slotByAuthorityId(ca: CaManager, kind: AuthorityKind, id: string): CaSlot {
  if (!id) throw invalidArgument('ERR_AUTHORITY_ID', 'authority_id is required');
  const want = id.toLowerCase().replace(/:/g, '');
  const s = ca.slots().find((x) => (kind === 'jwt' ? x.jwtKey.kid === id : x509AuthorityId(x) === want) || x.id === id);
  if (!s) throw failedPrecondition('ERR_AUTHORITY_NOT_FOUND', `no ${kind} authority "${id}" on this server (see localauthority ${kind} show)`);
  return s;
}

/** The wire bundle with this server's tainted authorities marked (sync streams, GetBundle). */
export function withTaint(b: Bundle__Output, ca: Pick<CaManager, 'taintedSlots'>): Bundle__Output {
  const x509 = ca.taintedSlots('x509').map(x509AuthorityId);
  const jwt = ca.taintedSlots('jwt').map((s) => s.jwtKey.kid);
  if (x509.length === 0 && jwt.length === 0) return b;
  return { ...b, tainted_x509_authority_ids: x509, tainted_jwt_key_ids: jwt };
}
