import { cleanAgentClaims } from '../agent-claims.ts';
import { SpiffeId } from '../id.ts';
import { invalid } from './errors.ts';
import type { Actor } from './types.ts';

/** Deeper than any policy allows; bounds the recursion on hostile input. */
const MAX_DEPTH = 32;

// Actor IDs repeat across tokens (the same agents, again and again): parse each string once.
const ids = new Map<string, SpiffeId>();
const MAX_CACHED_IDS = 1024;

function actorId(sub: unknown, depth: number): SpiffeId {
  if (typeof sub !== 'string') throw invalid('bad_actor', `act${'.act'.repeat(depth)}.sub is missing or not a string`);
  let id = ids.get(sub);
  if (id) return id;
  try { id = SpiffeId.parse(sub); } catch (err) {
    throw invalid('bad_actor', `act${'.act'.repeat(depth)}.sub "${sub}" is not a SPIFFE ID: ${(err as Error).message}`, err);
  }
  if (id.isTrustDomainId) throw invalid('bad_actor', `act${'.act'.repeat(depth)}.sub "${sub}" is a trust domain ID, not a workload`);
  if (ids.size >= MAX_CACHED_IDS) ids.clear();
  ids.set(sub, id);
  return id;
}

/**
 * RFC 8693 §4.1 `act` → actors, current (outermost) first. Every actor's `sub` must be
 * a workload SPIFFE ID; agent claims are read from the same object. A token without
 * `act` is not a delegated token.
 */
export function parseActorChain(act: unknown): Actor[] {
  const actors: Actor[] = [];
  let node = act;
  while (node !== undefined) {
    const depth = actors.length;
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw invalid('bad_actor', depth === 0 ? 'delegated token has no act claim (an object naming the actor)' : `act${'.act'.repeat(depth)} is not an object`);
    }
    if (depth >= MAX_DEPTH) throw invalid('bad_actor', `act chain is deeper than ${MAX_DEPTH}`);
    const o = node as Record<string, unknown>;
    actors.push({ id: actorId(o.sub, depth), claims: cleanAgentClaims(o) });
    node = o.act;
  }
  if (actors.length === 0) throw invalid('bad_actor', 'delegated token has no act claim (an object naming the actor)');
  return actors;
}
