import type { AgentClaims } from '../agent-claims.ts';

/**
 * Tessera's Datalog vocabulary for Biscuit tokens (docs/attenuation.md). The authority
 * block (signed by the trust domain's root key at the token endpoint) states facts and
 * checks; each attenuation block (appended offline by a holder) may only add facts that
 * the verifier reads as *narrowing* (intersection, minimum, one more actor) and checks
 * that Biscuit evaluates on its own. The verifier supplies `time`, `resource`,
 * `requested_scopes` (a set), `peer` and `holder`.
 */
export const BISCUIT_TOKEN_TYPE = 'urn:tessera:params:oauth:token-type:biscuit';

/** What the token endpoint states in an authority block. */
export interface AuthorityClaims {
  issuer: string;
  jti: string;
  grantId: string;
  /** jtis of ancestor tokens, root first. */
  chain: string[];
  subject: { iss: string; sub: string; groups: string[] };
  /** Current actor first (as in `act`). */
  actors: { spiffeId: string; claims: AgentClaims }[];
  scopes: string[];
  audiences: string[];
  /** Unix seconds. */
  issuedAt: number;
  expiresAt: number;
  budgets: Record<string, number>;
  /** The actor proved its SVID over mTLS: the token is bound to its SPIFFE ID. */
  bound: boolean;
  maxDepth: number;
  mayDelegateTo: string[];
}

/** What an attenuation block states. */
export interface AttenuationClaims {
  scopes?: string[];
  audiences?: string[];
  /** Unix seconds. */
  expiresAt?: number;
  budgets?: Record<string, number>;
  delegateTo?: string;
}

export type Params = Record<string, unknown>;

/** Datalog date literal (seconds precision). */
export const date = (unixSeconds: number): { date: string } => ({ date: new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') });

/** Values are printed unescaped by the library's block source: no quotes' worth of ambiguity past one line. */
const CONTROL = /[\u0000-\u001f\u007f]/;
export function assertPrintable(what: string, v: string): void {
  if (CONTROL.test(v)) throw new Error(`${what} contains control characters and cannot be stated in a Biscuit block`);
}

export function authorityCode(a: AuthorityClaims): { code: string; params: Params } {
  const lines: string[] = [];
  const params: Params = {};
  let n = 0;
  const p = (v: unknown): string => { const k = `p${n++}`; params[k] = v; return `{${k}}`; };
  const s = (what: string, v: string): string => { assertPrintable(what, v); return p(v); };
  lines.push(`issuer(${s('issuer', a.issuer)});`, `token_id(${s('jti', a.jti)});`, `grant(${s('grant_id', a.grantId)});`);
  a.chain.forEach((j, i) => lines.push(`ancestor(${i}, ${s('chain', j)});`));
  lines.push(`user(${s('subject', `${a.subject.iss}#${a.subject.sub}`)});`, `user_issuer(${s('subject issuer', a.subject.iss)});`,
    `user_name(${s('subject', a.subject.sub)});`);
  for (const g of a.subject.groups) lines.push(`user_group(${s('group', g)});`);
  a.actors.forEach((act, i) => {
    lines.push(`actor(${i}, ${s('actor', act.spiffeId)});`);
    for (const [k, v] of Object.entries(act.claims)) if (typeof v === 'string') lines.push(`actor_claim(${i}, ${s('claim', k)}, ${s('claim', v)});`);
  });
  for (const x of a.scopes) lines.push(`scope(${s('scope', x)});`);
  for (const x of a.audiences) lines.push(`audience(${s('audience', x)});`);
  lines.push(`issued_at(${p(date(a.issuedAt))});`, `expires(${p(date(a.expiresAt))});`);
  for (const [op, max] of Object.entries(a.budgets)) lines.push(`budget(${s('budget operation', op)}, ${p(max)});`);
  lines.push(`max_depth(${p(a.maxDepth)});`);
  for (const m of a.mayDelegateTo) lines.push(`may_delegate_to(${s('may_delegate_to', m)});`);
  if (a.bound) lines.push('bound(true);');
  lines.push(`check if time($t), $t < ${p(date(a.expiresAt))};`);
  lines.push(`check if resource($r), ${p({ set: a.audiences })}.contains($r);`);
  lines.push(`check if requested_scopes($r), ${p({ set: a.scopes })}.contains($r);`);
  if (a.bound) lines.push('check if peer($p), holder($p);');
  return { code: lines.join('\n'), params };
}

export function attenuationCode(a: AttenuationClaims): { code: string; params: Params } {
  const lines: string[] = [];
  const params: Params = {};
  let n = 0;
  const p = (v: unknown): string => { const k = `p${n++}`; params[k] = v; return `{${k}}`; };
  const s = (what: string, v: string): string => { assertPrintable(what, v); return p(v); };
  if (a.scopes) {
    for (const x of a.scopes) lines.push(`scope(${s('scope', x)});`);
    lines.push(`check if requested_scopes($r), ${p({ set: a.scopes })}.contains($r);`);
  }
  if (a.audiences) {
    for (const x of a.audiences) lines.push(`audience(${s('audience', x)});`);
    lines.push(`check if resource($r), ${p({ set: a.audiences })}.contains($r);`);
  }
  if (a.expiresAt !== undefined) {
    lines.push(`expires(${p(date(a.expiresAt))});`, `check if time($t), $t < ${p(date(a.expiresAt))};`);
  }
  for (const [op, max] of Object.entries(a.budgets ?? {})) lines.push(`budget(${s('budget operation', op)}, ${p(max)});`);
  if (a.delegateTo !== undefined) lines.push(`delegated_to(${s('delegateTo', a.delegateTo)});`, 'check if peer($p), holder($p);');
  return { code: lines.join('\n'), params };
}

/** The facts of one block, as read back from its signed content. */
export interface BlockFacts {
  issuer?: string; jti?: string; grantId?: string;
  ancestors: [number, string][];
  user?: string; userIssuer?: string; userName?: string; groups: string[];
  actors: [number, string][];
  actorClaims: [number, string, string][];
  scopes?: string[]; audiences?: string[];
  issuedAt?: number; expiresAt?: number;
  budgets: Record<string, number>;
  maxDepth?: number;
  mayDelegateTo: string[];
  bound: boolean;
  delegatedTo?: string;
}

const ONE_STRING = /^(issuer|token_id|grant|user|user_issuer|user_name|user_group|scope|audience|may_delegate_to|delegated_to)\("(.*)"\);$/;
const INT_STRING = /^(ancestor|actor)\((\d+), "(.*)"\);$/;
const CLAIM = /^actor_claim\((\d+), "([a-z_]+)", "(.*)"\);$/;
const BUDGET = /^budget\("(.*)", (\d+)\);$/;
const DATE = /^(issued_at|expires)\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\);$/;
const INT = /^max_depth\((\d+)\);$/;
const OURS = /^(issuer|token_id|grant|ancestor|user|user_issuer|user_name|user_group|actor|actor_claim|scope|audience|issued_at|expires|budget|max_depth|may_delegate_to|bound|delegated_to)\(/;

/**
 * Reads our vocabulary's facts from a block's Datalog source (the library prints each
 * fact on its own line, strings unescaped). A line that starts with one of our
 * predicates but does not parse makes the token malformed rather than silently
 * ignored; other predicates (a holder's own facts) are left to Datalog.
 */
export function parseBlockFacts(source: string): BlockFacts {
  const f: BlockFacts = { ancestors: [], groups: [], actors: [], actorClaims: [], budgets: {}, mayDelegateTo: [], bound: false };
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (!OURS.test(line)) continue;
    let m: RegExpExecArray | null;
    if ((m = ONE_STRING.exec(line))) {
      const v = m[2]!;
      switch (m[1]) {
        case 'issuer': f.issuer = v; break;
        case 'token_id': f.jti = v; break;
        case 'grant': f.grantId = v; break;
        case 'user': f.user = v; break;
        case 'user_issuer': f.userIssuer = v; break;
        case 'user_name': f.userName = v; break;
        case 'user_group': f.groups.push(v); break;
        case 'scope': (f.scopes ??= []).push(v); break;
        case 'audience': (f.audiences ??= []).push(v); break;
        case 'may_delegate_to': f.mayDelegateTo.push(v); break;
        case 'delegated_to':
          if (f.delegatedTo !== undefined) throw new Error('a block names delegated_to more than once');
          f.delegatedTo = v; break;
      }
    } else if ((m = INT_STRING.exec(line))) {
      (m[1] === 'ancestor' ? f.ancestors : f.actors).push([Number(m[2]), m[3]!]);
    } else if ((m = CLAIM.exec(line))) {
      f.actorClaims.push([Number(m[1]), m[2]!, m[3]!]);
    } else if ((m = BUDGET.exec(line))) {
      const n = Number(m[2]);
      f.budgets[m[1]!] = Math.min(n, f.budgets[m[1]!] ?? Infinity);
    } else if ((m = DATE.exec(line))) {
      const t = Date.parse(m[2]!) / 1000;
      if (m[1] === 'expires') f.expiresAt = Math.min(t, f.expiresAt ?? Infinity); else f.issuedAt = t;
    } else if ((m = INT.exec(line))) {
      f.maxDepth = Number(m[1]);
    } else if (line === 'bound(true);') {
      f.bound = true;
    } else {
      throw new Error(`block fact "${line.slice(0, 120)}" does not fit the Tessera vocabulary`);
    }
  }
  return f;
}

const TIME_MENTION = /time\(/g;
const SAFE_TIME_CHECK = /^check if time\(\$([A-Za-z_][A-Za-z0-9_]*)\), \$\1 < (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d));$/gm;

/**
 * How a block's Datalog depends on time (verify-cache.ts): the earliest date D of its
 * `check if time($v), $v < D` checks (Infinity: time not mentioned), or undefined when
 * `time(` appears anywhere else (a not-before, a rule, even inside a string): then no
 * Datalog outcome of this token may be reused at another instant.
 */
export function blockTimeBound(source: string): number | undefined {
  const mentions = source.match(TIME_MENTION)?.length ?? 0;
  let bound = Infinity;
  let safe = 0;
  for (const m of source.matchAll(SAFE_TIME_CHECK)) {
    const t = Date.parse(m[2]!);
    if (!Number.isFinite(t)) return undefined;
    bound = Math.min(bound, t / 1000);
    safe++;
  }
  return safe === mentions ? bound : undefined;
}
