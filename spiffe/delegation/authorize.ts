import { SpiffeId } from '../id.ts';
import { DelegationError, type DelegationReason } from './errors.ts';
import type { DelegatedToken } from './types.ts';

/**
 * Who may act: an exact SPIFFE ID, `spiffe://td/path/*` (that path and everything
 * below it, as in delegation policies), a RegExp tested on the ID string, or a predicate.
 */
export type ActorMatcher = string | RegExp | ((id: SpiffeId) => boolean);

export interface DelegationRequirements {
  /** The token's `iss`. */
  issuer?: string;
  /** The user's identity provider (the part of `sub` before '#'). */
  subjectIssuer?: string;
  /** The current actor (outermost `act`) must match (one of) these. */
  actor?: ActorMatcher | ActorMatcher[];
  /** Longest accepted `act` chain (1 = no sub-agents). */
  maxDepth?: number;
  /** Scopes the token must carry. */
  scopes?: string[];
}

/**
 * A plain authorizer for verified delegated tokens (like the mTLS authorizers):
 * throws ERR_DELEGATION_UNAUTHORIZED naming the failed condition, with `reason`
 * issuer | subject_issuer | actor | depth | scope.
 */
export function authorizeDelegation(req: DelegationRequirements): (t: DelegatedToken) => void {
  const matchers = req.actor === undefined ? undefined : (Array.isArray(req.actor) ? req.actor : [req.actor]).map(compileActor);
  const scopes = req.scopes ?? [];
  if (req.maxDepth !== undefined && !(Number.isInteger(req.maxDepth) && req.maxDepth >= 1)) throw new TypeError(`maxDepth must be an integer >= 1, got ${req.maxDepth}`);
  return (t) => {
    if (req.issuer !== undefined && t.issuer !== req.issuer) refuse('issuer', `token issuer ${t.issuer} is not ${req.issuer}`);
    if (req.subjectIssuer !== undefined && t.subjectIssuer !== req.subjectIssuer) refuse('subject_issuer', `user ${t.subject} is not from identity provider ${req.subjectIssuer}`);
    if (req.maxDepth !== undefined && t.actors.length > req.maxDepth) {
      refuse('depth', `delegation chain depth ${t.actors.length} (${t.actors.map((a) => a.id).join(' <- ')}) exceeds ${req.maxDepth}`);
    }
    if (matchers) {
      const current = t.actors[0]?.id;
      if (!current) refuse('actor', `token names no agent (client ${t.clientId} is a public client); required: ${matchers.map((m) => m.describe).join(' or ')}`);
      if (!matchers.some((m) => m.test(current))) refuse('actor', `actor ${current} is not ${matchers.map((m) => m.describe).join(' or ')}`);
    }
    const missing = scopes.filter((s) => !t.scopes.includes(s));
    if (missing.length > 0) {
      throw new DelegationError('ERR_DELEGATION_UNAUTHORIZED', `token lacks scope ${missing.join(' ')} (it has: ${t.scopes.join(' ') || 'none'})`, { reason: 'scope', missingScopes: missing });
    }
  };
}

function refuse(reason: DelegationReason, message: string): never {
  throw new DelegationError('ERR_DELEGATION_UNAUTHORIZED', message, { reason });
}

interface CompiledMatcher { test(id: SpiffeId): boolean; describe: string }

/** Compiles one matcher; pattern strings are validated now, not on every request. */
export function compileActor(m: ActorMatcher): CompiledMatcher {
  if (typeof m === 'function') return { test: m, describe: 'accepted by the actor predicate' };
  if (m instanceof RegExp) {
    // A global/sticky RegExp keeps lastIndex between calls; test a stateless copy.
    const re = new RegExp(m.source, m.flags.replace(/[gy]/g, ''));
    return { test: (id) => re.test(id.toString()), describe: `matching ${m}` };
  }
  if (m.endsWith('/*')) {
    const base = SpiffeId.parse(m.slice(0, -2)).toString();
    const prefix = base + '/';
    return { test: (id) => { const s = id.toString(); return s === base || s.startsWith(prefix); }, describe: `under ${base}/` };
  }
  const exact = SpiffeId.parse(m).toString();
  return { test: (id) => id.toString() === exact, describe: exact };
}
