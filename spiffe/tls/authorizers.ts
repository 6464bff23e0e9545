import type { AgentClaims } from '../agent-claims.ts';
import { AuthorizationError } from '../errors.ts';
import { SpiffeId, TrustDomain } from '../id.ts';
import type { Peer } from './peer.ts';

/**
 * Authorizers are plain functions (go-spiffe's tlsconfig.Authorizer): they run after
 * the peer's SVID is verified and throw AuthorizationError (ERR_AUTHORIZATION) to
 * refuse it. They see the peer's SPIFFE ID and its agent claims.
 */
export type Authorizer = (peer: Peer) => void;

const toId = (id: SpiffeId | string): SpiffeId => (typeof id === 'string' ? SpiffeId.parse(id) : id);
const toTd = (td: TrustDomain | string): TrustDomain => (typeof td === 'string' ? TrustDomain.parse(td) : td);

/** Any verified SPIFFE ID (from any trust domain whose bundle we hold). */
export function authorizeAny(): Authorizer {
  return () => {};
}

/** Exactly this SPIFFE ID. */
export function authorizeID(expected: SpiffeId | string): Authorizer {
  const id = toId(expected);
  return (peer) => {
    if (!peer.id.equals(id)) throw new AuthorizationError(`unexpected peer ID ${peer.id}; want ${id}`);
  };
}

/** One of these SPIFFE IDs. */
export function authorizeOneOf(...allowed: (SpiffeId | string)[]): Authorizer {
  const set = new Set(allowed.map((a) => toId(a).toString()));
  return (peer) => {
    if (!set.has(peer.id.toString())) throw new AuthorizationError(`peer ID ${peer.id} is not one of ${[...set].join(', ')}`);
  };
}

/** Any SPIFFE ID in this trust domain. */
export function authorizeMemberOf(trustDomain: TrustDomain | string): Authorizer {
  const td = toTd(trustDomain);
  return (peer) => {
    if (!peer.id.memberOf(td)) throw new AuthorizationError(`peer ID ${peer.id} is not a member of trust domain ${td}`);
  };
}

/** The predicate form: `authorizeIf((p) => p.id.path.startsWith('/agents/'), 'an agent')`. */
export function authorizeIf(predicate: (peer: Peer) => boolean, description = 'the predicate'): Authorizer {
  return (peer) => {
    if (!predicate(peer)) throw new AuthorizationError(`peer ${peer.id} does not satisfy ${description}`);
  };
}

/**
 * Agent claims must equal these values (each given key; a string[] means any of them):
 * `authorizeAgent({ agent_provider: 'anthropic' })` = "only agents of provider anthropic".
 * A peer without agent claims never matches.
 */
export function authorizeAgent(match: { [K in keyof AgentClaims]?: string | string[] }): Authorizer {
  const entries = Object.entries(match).filter(([, v]) => v !== undefined) as [keyof AgentClaims, string | string[]][];
  return (peer) => {
    for (const [k, want] of entries) {
      const have = peer.claims[k];
      const ok = have !== undefined && (Array.isArray(want) ? want.includes(have) : want === have);
      if (!ok) throw new AuthorizationError(`peer ${peer.id} has ${k}=${have ?? '(none)'}; want ${Array.isArray(want) ? want.join(' | ') : want}`);
    }
  };
}

/** Every authorizer must accept (e.g. member of a TD and an agent of provider X). */
export function authorizeAll(...authorizers: Authorizer[]): Authorizer {
  return (peer) => { for (const a of authorizers) a(peer); };
}
