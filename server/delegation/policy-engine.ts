import { OAuthError } from '../oauth/errors.ts';
import { matchesAnyActor } from './actor-pattern.ts';
import type { DelegationPolicy, DelegationSubject, ExchangeDecision, ExchangeInput, OAuthErrorCode, PolicyCondition } from './types.ts';

/**
 * The delegation policy decision (docs/delegation.md "Policy" and "Attenuation"):
 * default deny; an exchange needs a policy for (actor, user), a sub-exchange also a
 * policy for (parent actor, user) whose may_delegate_to names the new actor; the
 * request must then fit one actor policy entirely, and each hop only narrows. Pure: the
 * token endpoint passes the policies from its in-memory cache. Every refusal is an
 * OAuthError whose description says exactly what was too wide and which policies
 * were considered.
 */
export function evaluateExchange(input: ExchangeInput, policies: readonly DelegationPolicy[]): ExchangeDecision {
  const { subject, actor, priorActors, now } = input;
  if (input.requestedAudiences.length === 0) throw new OAuthError('invalid_target', 'audience or resource is required');
  if (input.requestedTtl !== undefined && !(Number.isInteger(input.requestedTtl) && input.requestedTtl > 0)) {
    throw new OAuthError('invalid_request', `expires_in must be a positive whole number of seconds, got ${input.requestedTtl}`);
  }
  if (input.subjectExpiresAt <= now) throw new OAuthError('invalid_request', 'the subject token has expired');

  const sub = `${subject.issuer}#${subject.name}`;
  const forIssuer = [...policies].filter((p) => p.subjectIssuer === subject.issuer).sort((a, b) => cmp(a.id, b.id));
  const depth = priorActors.length + 1;

  const actorPolicies = forIssuer.filter((p) => !subjectMismatch(p, subject) && matchesAnyActor(p.actors, actor.spiffeId));
  if (actorPolicies.length === 0) {
    const considered = forIssuer.length
      ? `; policies considered: ${forIssuer.map((p) => `${p.id} (${subjectMismatch(p, subject) ?? actorMismatch(p, actor.spiffeId)})`).join(', ')}`
      : `; no policy covers subject issuer ${subject.issuer}`;
    throw new OAuthError('unauthorized_client', `no delegation policy lets ${actor.spiffeId} act for ${sub}${considered}`);
  }

  const delegatingPolicyId = priorActors.length ? checkDelegation(input, forIssuer, sub, depth) : undefined;

  const failures: Failure[] = [];
  for (const p of actorPolicies) {
    const r = fit(input, p, depth);
    if ('failure' in r) { failures.push(r.failure); continue; }
    return delegatingPolicyId ? { ...r.decision, delegatingPolicyId } : r.decision;
  }
  // No policy fits: report the one the request came closest to fitting, then the rest.
  const best = failures.reduce((a, b) => (b.stage > a.stage ? b : a));
  const others = failures.filter((f) => f !== best);
  const also = others.length ? ` (also considered: ${others.map((f) => f.description).join('; ')})` : '';
  throw new OAuthError(best.error, best.description + also);
}

/** Which actor policy failed how: `stage` orders the checks, so the furthest failure is the most telling. */
interface Failure { stage: number; error: OAuthErrorCode; description: string }

/**
 * A sub-exchange: the parent actor P (current actor of the subject token) needs a
 * policy for (P, user) whose may_delegate_to matches the new actor and whose max_depth
 * admits the longer chain. Returns that policy's id.
 */
function checkDelegation(input: ExchangeInput, forIssuer: DelegationPolicy[], sub: string, depth: number): string {
  const parent = input.priorActors[0].spiffeId;
  const actor = input.actor.spiffeId;
  const delegating = forIssuer.filter((p) => !subjectMismatch(p, input.subject) && matchesAnyActor(p.actors, parent));
  if (delegating.length === 0) {
    throw new OAuthError('invalid_grant', `${parent} may not delegate to ${actor}: no delegation policy lets ${parent} act for ${sub}`);
  }
  const permitting = delegating.filter((p) => matchesAnyActor(p.mayDelegateTo, actor));
  if (permitting.length === 0) {
    const allowed = delegating.map((p) => `policy ${p.id} allows delegating to ${p.mayDelegateTo.length ? p.mayDelegateTo.join(' ') : 'no one'}`);
    throw new OAuthError('invalid_grant', `${parent} may not delegate to ${actor}: ${allowed.join('; ')}`);
  }
  const deepEnough = permitting.find((p) => depth <= p.maxDepth);
  if (!deepEnough) {
    throw new OAuthError('invalid_grant', `delegation depth ${depth} > max ${Math.max(...permitting.map((p) => p.maxDepth))}: ` +
      permitting.map((p) => `policy ${p.id} (which lets ${parent} delegate to ${actor}) allows max_depth ${p.maxDepth}`).join('; '));
  }
  return deepEnough.id;
}

/** Attenuation against one actor policy: depth, scope, audience, lifetime, in that order. */
function fit(input: ExchangeInput, p: DelegationPolicy, depth: number): { decision: ExchangeDecision } | { failure: Failure } {
  const fail = (stage: number, error: OAuthErrorCode, description: string) => ({ failure: { stage, error, description } });
  if (depth > p.maxDepth) return fail(0, 'invalid_grant', `delegation depth ${depth} > max ${p.maxDepth} of policy ${p.id}`);

  // Scope ⊆ (subject token's scope, when it has one) ∩ policy scopes.
  const granted = input.subjectScopes;
  const allowed = p.scopes.filter((s) => granted === undefined || granted.includes(s));
  const bounds = `${granted === undefined ? '' : `the subject token grants ${list(granted)}; `}policy ${p.id} allows ${list(p.scopes)}`;
  let scopes: string[];
  if (input.requestedScopes === undefined || input.requestedScopes.length === 0) {
    scopes = unique(allowed);
    if (scopes.length === 0) return fail(1, 'invalid_scope', `no scope is left to grant: ${bounds}`);
  } else {
    scopes = unique(input.requestedScopes);
    const wide = scopes.filter((s) => !allowed.includes(s));
    if (wide.length) {
      return fail(1, 'invalid_scope', `${wide.length > 1 ? 'scopes' : 'scope'} ${wide.join(' ')} ${wide.length > 1 ? 'are' : 'is'} not allowed: ${bounds}`);
    }
  }

  // Every audience ∈ policy audiences, and for a sub-exchange ⊆ the parent's aud.
  const audiences = unique(input.requestedAudiences);
  const parentAud = input.parentAudiences;
  if (parentAud !== undefined) {
    const outside = audiences.filter((a) => !parentAud.includes(a));
    if (outside.length) {
      return fail(2, 'invalid_target', `${outside.length > 1 ? 'audiences' : 'audience'} ${outside.join(' ')} not allowed: ` +
        `the subject token's aud is ${list(parentAud)}`);
    }
  }
  const notInPolicy = audiences.filter((a) => !p.audiences.includes(a));
  if (notInPolicy.length) {
    return fail(2, 'invalid_target', `${notInPolicy.length > 1 ? 'audiences' : 'audience'} ${notInPolicy.join(' ')} not allowed: ` +
      `policy ${p.id} allows ${list(p.audiences)}`);
  }

  // exp = min(now + expires_in or token_ttl, subject token exp, now + max_ttl); an explicit
  // expires_in above that bound is refused rather than silently cut.
  const { now } = input;
  const bound = Math.min(input.subjectExpiresAt, now + p.maxTtl, now + input.serverMaxTtl);
  let expiresAt = bound;
  if (input.requestedTtl !== undefined) {
    if (now + input.requestedTtl > bound) {
      return fail(3, 'invalid_grant', `expires_in ${input.requestedTtl} is above the allowed ${bound - now} s: policy ${p.id} ` +
        `max_ttl is ${p.maxTtl} s, the server's token_ttl is ${input.serverMaxTtl} s, the subject token expires in ` +
        `${input.subjectExpiresAt - now} s`);
    }
    expiresAt = now + input.requestedTtl;
  }
  const budgets = minBudgets(p.budgets, input.subjectBudgets);
  return { decision: { policyId: p.id, scopes, audiences, expiresAt, ...(budgets ? { budgets } : {}) } };
}

/**
 * Budgets only narrow along a chain: every operation budgeted by the policy or the
 * subject token stays budgeted, at the lower of the two limits. Undefined when neither has any.
 */
export function minBudgets(...all: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const b of all) for (const [op, n] of Object.entries(b ?? {})) out[op] = Math.min(n, out[op] ?? Infinity);
  return Object.keys(out).length ? out : undefined;
}

/** Why an action's condition refuses a request (docs/authzen.md "Conditions"). */
export interface ConditionFailure {
  id: 'amount_threshold' | 'novel_destination' | 'rate_limited' | 'condition_input';
  description: string;
}

/**
 * The amount and first-seen rules of `policyId`'s conditions, before any counter moves.
 * `value` reads a named value of the request; `novel` says whether a condition's
 * destination is new to this user and agent (the caller looked it up).
 */
export function valueConditionFailure(policyId: string, conds: readonly PolicyCondition[], value: (property: string) => unknown,
  novel: (c: PolicyCondition) => boolean): ConditionFailure | undefined {
  for (const c of conds) {
    const amount = (property: string): number | ConditionFailure => {
      const v = value(property);
      return typeof v === 'number' && Number.isFinite(v) ? v
        : { id: 'condition_input', description: `${property} must be a number (policy ${policyId} limits ${c.action} by it), got ${JSON.stringify(v ?? null).slice(0, 80)}` };
    };
    if (c.amount) {
      const n = amount(c.amount.property);
      if (typeof n !== 'number') return n;
      if (n > c.amount.max) return { id: 'amount_threshold', description: `${c.amount.property} ${n} is above ${c.amount.max}, the most policy ${policyId} allows for ${c.action}` };
    }
    if (c.firstSeen) {
      const dest = value(c.firstSeen.property);
      if (typeof dest !== 'string' || !dest) {
        return { id: 'condition_input', description: `${c.firstSeen.property} must be named (policy ${policyId} checks ${c.action} for first-seen destinations)` };
      }
      if (novel(c)) {
        const n = amount(c.firstSeen.amountProperty);
        if (typeof n !== 'number') return n;
        if (n > c.firstSeen.maxAmount) {
          return { id: 'novel_destination', description: `${c.firstSeen.property} ${JSON.stringify(dest).slice(0, 120)} was never used before: policy ${policyId} allows ${c.action} `
            + `to a first-seen destination only up to ${c.firstSeen.amountProperty} ${c.firstSeen.maxAmount} (asked ${n})` };
        }
      }
    }
  }
  return undefined;
}

/** A rate condition after its window counter was taken: `used` permits so far including this one. */
export function rateFailure(policyId: string, c: PolicyCondition, r: { allowed: boolean; used: number }): ConditionFailure | undefined {
  if (!c.rate || r.allowed) return undefined;
  return { id: 'rate_limited', description: `${c.action} is limited to ${c.rate.max} per ${c.rate.window} s by policy ${policyId}; the window's ${r.used} are used` };
}

/** Why a policy for the right issuer does not cover this user; undefined when it does. */
function subjectMismatch(p: DelegationPolicy, s: DelegationSubject): string | undefined {
  if (p.subjects.length && !p.subjects.includes(s.name)) return `subject ${s.name} is not in subjects ${list(p.subjects)}`;
  if (p.groups.length && !p.groups.some((g) => s.groups.includes(g))) {
    return `the user is in none of groups ${list(p.groups)} (user's groups: ${s.groups.length ? list(s.groups) : 'none'})`;
  }
  return undefined;
}

function actorMismatch(p: DelegationPolicy, actor: string): string {
  return `actor ${actor} matches none of ${list(p.actors)}`;
}

const list = (l: readonly string[]): string => (l.length ? l.join(' ') : '(none)');
const unique = (l: readonly string[]): string[] => [...new Set(l)];
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
