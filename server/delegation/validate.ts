import { invalidArgument } from '../../common/errors.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { parseActorPattern } from './actor-pattern.ts';
import type { NewDelegationPolicy, PolicyCondition, RevocationKind } from './types.ts';

/**
 * Edge validation of what operators write (admin API): a policy or revocation that
 * passes here is what the core trusts. Errors are invalid_argument naming the field
 * and the offending value.
 */

/** What an admin sends: every field of a policy, lists possibly with duplicates. */
export interface PolicyInput {
  id?: string;
  description: string;
  actors: string[];
  subjectIssuer: string;
  subjects: string[];
  groups: string[];
  audiences: string[];
  scopes: string[];
  maxTtl: number;
  maxDepth: number;
  mayDelegateTo: string[];
  /** Per-operation use limits (docs/attenuation.md). */
  budgets?: Record<string, number>;
  /** Scopes grantable only by approval (docs/attenuation.md "Human approval"); absent or no scopes = none. */
  approval?: { scopes: string[]; approvers?: string[] };
  /** Conditions on actions (docs/authzen.md "Conditions"); absent or [] = none. */
  conditions?: PolicyCondition[];
}

const POLICY_ID = /^pol_[A-Za-z0-9_-]{1,64}$/;
/** An issuer URL as trusted_issuers accepts it: https, a host, an optional path, no query or fragment. */
const ISSUER_URL = /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
/** RFC 6749 §3.3 scope-token: NQCHAR (printable ASCII but space, `"` and `\`). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_TEXT = 2048;

const bad = (field: string, msg: string, cause?: unknown) => invalidArgument('ERR_POLICY_INVALID', `${field}: ${msg}`, cause);

export function validatePolicy(p: PolicyInput): NewDelegationPolicy {
  const out: NewDelegationPolicy = {
    description: p.description ?? '',
    actors: patterns('actors', p.actors, true),
    subjectIssuer: p.subjectIssuer,
    subjects: strings('subjects', p.subjects, false),
    groups: strings('groups', p.groups, false),
    audiences: strings('audiences', p.audiences, true),
    scopes: strings('scopes', p.scopes, true),
    maxTtl: p.maxTtl,
    maxDepth: p.maxDepth,
    mayDelegateTo: patterns('may_delegate_to', p.mayDelegateTo, false),
  };
  if (p.id !== undefined && p.id !== '') {
    if (!POLICY_ID.test(p.id)) throw bad('id', `"${p.id}" must be "pol_" followed by 1 to 64 of [A-Za-z0-9_-] (or empty: one is assigned)`);
    out.id = p.id;
  }
  if (out.description.length > MAX_TEXT) throw bad('description', `is ${out.description.length} characters; at most ${MAX_TEXT}`);
  if (!ISSUER_URL.test(p.subjectIssuer ?? '')) {
    throw bad('subject_issuer', `"${p.subjectIssuer ?? ''}" must be an https:// issuer URL (no query or fragment), exactly as the IdP's tokens carry it in iss`);
  }
  for (const [i, s] of out.scopes.entries()) {
    if (!SCOPE_TOKEN.test(s)) throw bad(`scopes[${i}]`, `"${s}" is not a scope token (printable ASCII without space, " or \\)`);
  }
  for (const [i, a] of out.audiences.entries()) {
    if (/\s/.test(a)) throw bad(`audiences[${i}]`, `"${a}" must not contain whitespace`);
  }
  if (!Number.isInteger(out.maxTtl) || out.maxTtl <= 0) throw bad('max_ttl', `${out.maxTtl} must be a positive number of seconds`);
  if (!Number.isInteger(out.maxDepth) || out.maxDepth < 1) throw bad('max_depth', `${out.maxDepth} must be at least 1 (1 = no sub-agents)`);
  const budgets = validateBudgets(p.budgets);
  if (budgets) out.budgets = budgets;
  const approval = validateApproval(p.approval, out.scopes);
  if (approval) out.approval = approval;
  const conditions = validateConditions(p.conditions, [...out.scopes, ...(approval?.scopes ?? [])]);
  if (conditions) out.conditions = conditions;
  return out;
}

const APPROVER = /^(subject|group:[^\s]{1,256})$/;

/**
 * The approvable scopes (scope tokens, none of them standing: a standing scope needs no
 * approval) and who approves: `subject` (default) and/or `group:NAME`.
 */
export function validateApproval(a: PolicyInput['approval'], standing: readonly string[]): NonNullable<NewDelegationPolicy['approval']> | undefined {
  if (a === undefined || (a.scopes ?? []).length === 0) return undefined;
  const scopes = strings('approval.scopes', a.scopes, true);
  for (const [i, s] of scopes.entries()) {
    if (!SCOPE_TOKEN.test(s)) throw bad(`approval.scopes[${i}]`, `"${s}" is not a scope token (printable ASCII without space, " or \\)`);
    if (standing.includes(s)) throw bad(`approval.scopes[${i}]`, `"${s}" is already a standing scope of this policy; list it in scopes or in approval.scopes, not both`);
  }
  const approvers = strings('approval.approvers', a.approvers?.length ? a.approvers : ['subject'], true);
  for (const [i, x] of approvers.entries()) {
    if (!APPROVER.test(x)) throw bad(`approval.approvers[${i}]`, `"${x.slice(0, 80)}" must be "subject" or "group:NAME"`);
  }
  return { scopes, approvers };
}

function strings(field: string, list: readonly string[] | undefined, required: boolean): string[] {
  const l = list ?? [];
  if (required && l.length === 0) throw bad(field, 'at least one value is required');
  l.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) throw bad(`${field}[${i}]`, 'must not be empty');
    if (s.length > MAX_TEXT) throw bad(`${field}[${i}]`, `is ${s.length} characters; at most ${MAX_TEXT}`);
  });
  return [...new Set(l)];
}

function patterns(field: string, list: readonly string[] | undefined, required: boolean): string[] {
  const l = list ?? [];
  if (required && l.length === 0) throw bad(field, 'at least one actor pattern is required');
  const out = l.map((s, i) => {
    try { return parseActorPattern(s).pattern; } catch (err) { throw bad(`${field}[${i}]`, (err as Error).message, err); }
  });
  return [...new Set(out)];
}

const MAX_CONDITIONS = 64;
const PROPERTY = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_WINDOW_S = 86_400;
const [MIN_REMEMBER_S, MAX_REMEMBER_S] = [60, 400 * 86_400];

/**
 * Conditions on the policy's actions (docs/authzen.md "Conditions"): each names a scope
 * of the policy (standing or approvable: a condition on an action nobody can be granted
 * would never apply) and at least one rule, with the same bounds the config form had.
 */
export function validateConditions(list: readonly PolicyCondition[] | undefined, actions: readonly string[]): PolicyCondition[] | undefined {
  if (list === undefined || list.length === 0) return undefined;
  if (list.length > MAX_CONDITIONS) throw bad('conditions', `${list.length} conditions; at most ${MAX_CONDITIONS}`);
  return list.map((c, i) => {
    const at = `conditions[${i}]`;
    if (typeof c.action !== 'string' || !c.action) throw bad(`${at}.action`, 'the action (a scope of this policy) is required');
    if (!actions.includes(c.action)) {
      throw bad(`${at}.action`, `"${c.action.slice(0, 80)}" is not a scope of this policy (scopes and approval scopes: ${actions.join(' ') || 'none'})`);
    }
    if (!c.rate && !c.amount && !c.firstSeen) throw bad(at, `a condition on ${c.action} needs at least one rule: rate, amount or first_seen`);
    const out: PolicyCondition = { action: c.action };
    if (c.rate) {
      if (!Number.isSafeInteger(c.rate.max) || c.rate.max < 1) throw bad(`${at}.rate.max`, `${c.rate.max} must be a whole number of permits ≥ 1`);
      if (!Number.isInteger(c.rate.window) || c.rate.window < 1 || c.rate.window > MAX_WINDOW_S) {
        throw bad(`${at}.rate.window`, `${c.rate.window} must be a whole number of seconds from 1 to ${MAX_WINDOW_S}`);
      }
      out.rate = { max: c.rate.max, window: c.rate.window };
    }
    if (c.amount) {
      out.amount = { property: property(`${at}.amount.property`, c.amount.property), max: amount(`${at}.amount.max`, c.amount.max) };
    }
    if (c.firstSeen) {
      const f = c.firstSeen;
      if (!Number.isInteger(f.remember) || f.remember < MIN_REMEMBER_S || f.remember > MAX_REMEMBER_S) {
        throw bad(`${at}.first_seen.remember`, `${f.remember} must be a whole number of seconds from ${MIN_REMEMBER_S} to ${MAX_REMEMBER_S} (400 days)`);
      }
      out.firstSeen = {
        property: property(`${at}.first_seen.property`, f.property), amountProperty: property(`${at}.first_seen.amount_property`, f.amountProperty),
        maxAmount: amount(`${at}.first_seen.max_amount`, f.maxAmount), remember: f.remember,
      };
    }
    return out;
  });
}

function property(field: string, v: string): string {
  if (typeof v !== 'string' || !PROPERTY.test(v)) throw bad(field, `"${String(v).slice(0, 80)}" must be a property name: 1 to 128 of [A-Za-z0-9_.:-]`);
  return v;
}

function amount(field: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(field, `${v} must be a finite number ≥ 0`);
  return v;
}

/** A budget operation: what a resource server names in /oauth2/consume (a scope-token's characters). */
const OPERATION = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const MAX_BUDGETS = 64;

/** Per-operation budgets: operation → whole number of uses ≥ 0 (0 = the operation is never allowed). */
export function validateBudgets(b: Record<string, number> | undefined): Record<string, number> | undefined {
  if (b === undefined) return undefined;
  const entries = Object.entries(b);
  if (entries.length > MAX_BUDGETS) throw bad('budgets', `${entries.length} operations; at most ${MAX_BUDGETS}`);
  for (const [op, n] of entries) {
    if (!OPERATION.test(op)) throw bad(`budgets[${JSON.stringify(op).slice(0, 80)}]`, 'an operation is 1 to 128 printable ASCII characters without space, " or \\');
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`budgets[${op}]`, `${n} must be a whole number of uses ≥ 0`);
  }
  return Object.fromEntries(entries);
}

const KINDS: readonly RevocationKind[] = ['grant', 'jti', 'subject', 'actor', 'biscuit'];

/** A revocation target: kind known, value in the form the kind matches on (canonical SPIFFE ID for actors). */
export function validateRevocation(kind: string, value: string): { kind: RevocationKind; value: string } {
  if (!KINDS.includes(kind as RevocationKind)) {
    throw invalidArgument('ERR_REVOCATION_INVALID', `kind: "${kind}" must be one of ${KINDS.join(', ')}`);
  }
  const k = kind as RevocationKind;
  const v = value ?? '';
  if (v.length === 0) throw invalidArgument('ERR_REVOCATION_INVALID', `value: a ${k} to revoke is required`);
  if (v.length > MAX_TEXT || /\s/.test(v)) throw invalidArgument('ERR_REVOCATION_INVALID', `value: "${v.slice(0, 80)}" must be at most ${MAX_TEXT} characters without whitespace`);
  if (k === 'actor') {
    try { return { kind: k, value: SpiffeId.parse(v).toString() }; } catch (err) {
      throw invalidArgument('ERR_REVOCATION_INVALID', `value: actor "${v}" is not a SPIFFE ID: ${(err as Error).message}`, err);
    }
  }
  if (k === 'biscuit' && !/^[0-9a-f]{64,256}$/.test(v.toLowerCase())) {
    throw invalidArgument('ERR_REVOCATION_INVALID', `value: biscuit revocation id "${v.slice(0, 80)}" must be hex (a block signature, 64 bytes for Ed25519)`);
  }
  if (k === 'biscuit') return { kind: k, value: v.toLowerCase() };
  if (k === 'subject') {
    const i = v.indexOf('#'); // issuers have no fragment: the first # ends the issuer
    if (i <= 0 || i === v.length - 1 || !ISSUER_URL.test(v.slice(0, i))) {
      throw invalidArgument('ERR_REVOCATION_INVALID', `value: subject "${v}" must be ISSUER#SUBJECT, e.g. https://idp.example.org#alice`);
    }
  }
  return { kind: k, value: v };
}
