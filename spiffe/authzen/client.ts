import { createHash } from 'node:crypto';
import type * as https from 'node:https';
import { parseActorChain } from '../delegation/act.ts';
import { httpsRequest, issuerUrl, serverAgent } from '../delegation/https.ts';
import type { DelegatedToken } from '../delegation/types.ts';
import { canonicalJson } from '../txn/canonical.ts';
import { AuthzenError } from './errors.ts';
import type { AuthorizeContext, AuthzenAction, AuthzenApproval, AuthzenClientOptions, AuthzenDecision, AuthzenEntity, AuthzenEvaluation } from './types.ts';

/**
 * The tool author's side of AuthZEN (docs/authzen.md): ask Tessera whether the caller
 * may do `action` on `resource`, with the token the caller presented.
 *
 *   const pdp = new AuthzenClient({ issuer, source, audience: 'https://tools.example.org', revocations: feed });
 *   const d = await pdp.authorize('files:read', { type: 'file', id: 'report.pdf' }, { token });
 *   if (!d.decision) refuse(403, d.id);
 *
 * Permits the PDP marks cacheable (context.ttl > 0: no budget spent) are kept for that
 * long, at most maxTtlMs, keyed by the whole request, and only with a revocation feed:
 * each revocation event clears the cache, a cached permit whose token a live record
 * matches is dropped, and when the feed cannot vouch for itself (stale) every call goes
 * to the PDP. Denies and budgeted permits are never cached.
 */
const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_TTL_MS = 30_000;

interface Cached { decision: AuthzenDecision; expiresAt: number; view?: DelegatedToken }

export class AuthzenClient {
  private readonly agent: https.Agent;
  private readonly cache = new Map<string, Cached>();
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly maxTtlMs: number;
  private readonly unsubscribe?: () => void;

  constructor(private readonly o: AuthzenClientOptions) {
    this.agent = serverAgent({ ...o, client: o.source, keepAlive: true });
    this.now = o.now ?? Date.now;
    const c = o.cache === false || !o.revocations ? { maxEntries: 0, maxTtlMs: 0 } : o.cache ?? {};
    this.maxEntries = c.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxTtlMs = c.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
    if (o.revocations && this.maxEntries > 0) this.unsubscribe = o.revocations.onRevocation(() => this.cache.clear());
  }

  /** One decision; `context.token` becomes subject.properties.token, the rest is the AuthZEN context. */
  async authorize(action: string | AuthzenAction, resource: AuthzenEntity, context: AuthorizeContext = {}): Promise<AuthzenDecision> {
    const { token, subject, ...rest } = context;
    const ev: AuthzenEvaluation = {
      subject: withToken(subject ?? subjectOf(token), token),
      action: typeof action === 'string' ? { name: action } : action,
      resource: this.withAudience(resource),
      ...(Object.keys(rest).length ? { context: rest } : {}),
    };
    return this.evaluate(ev, token);
  }

  /** One AuthZEN evaluation as given (cached as authorize() caches). */
  async evaluate(ev: AuthzenEvaluation, token = ev.subject.properties?.token as string | undefined): Promise<AuthzenDecision> {
    const key = this.maxEntries > 0 ? createHash('sha256').update(canonicalJson(ev)).digest('base64url') : undefined;
    const hit = key ? this.lookup(key) : undefined;
    if (hit) return { ...hit, cached: true };
    const started = this.now();
    const d = toDecision(await this.post('/access/v1/evaluation', ev), started);
    if (key && d.decision && typeof d.context.ttl === 'number' && d.context.ttl > 0) this.store(key, d, d.context.ttl * 1000, token);
    return d;
  }

  /** Several evaluations in one round trip (never cached); `semantic` as AuthZEN's options.evaluations_semantic. */
  async evaluations(evs: AuthzenEvaluation[], semantic?: 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit'): Promise<AuthzenDecision[]> {
    const body = await this.post('/access/v1/evaluations', { evaluations: evs, ...(semantic ? { options: { evaluations_semantic: semantic } } : {}) });
    if (!Array.isArray(body.evaluations)) throw new AuthzenError('ERR_AUTHZEN_BAD_RESPONSE', 'the PDP answered without an evaluations array');
    const started = this.now();
    return body.evaluations.map((x) => toDecision(x as Record<string, unknown>, started));
  }

  /** Entries held (tests, metrics). */
  get cacheSize(): number { return this.cache.size; }

  close(): void {
    this.unsubscribe?.();
    this.cache.clear();
    this.agent.destroy();
  }

  private withAudience(r: AuthzenEntity): AuthzenEntity {
    if (this.o.audience === undefined || r.properties?.audience !== undefined) return r;
    return { ...r, properties: { ...r.properties, audience: this.o.audience } };
  }

  private lookup(key: string): AuthzenDecision | undefined {
    const e = this.cache.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) { this.cache.delete(key); return undefined; }
    if (e.view) {
      try {
        if (this.o.revocations!.revocationOf(e.view)) { this.cache.delete(key); return undefined; }
      } catch {
        return undefined; // the feed cannot vouch (stale, closed): ask the PDP
      }
    }
    return e.decision;
  }

  private store(key: string, d: AuthzenDecision, ttlMs: number, token: string | undefined): void {
    const view = token ? revocationView(token) : undefined;
    if (token && !view) return;
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { decision: d, expiresAt: this.now() + Math.min(ttlMs, this.maxTtlMs), ...(view ? { view } : {}) });
  }

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const r = await httpsRequest(issuerUrl(this.o.issuer, path), {
      agent: this.agent, method: 'POST', body: JSON.stringify(body), timeoutMs: this.o.timeoutMs ?? 10_000,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    });
    let json: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(r.body.toString('utf8'));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) json = v as Record<string, unknown>;
    } catch { /* below */ }
    if (r.status === 200 && json) return json;
    const message = (json?.error as { message?: unknown } | undefined)?.message;
    const text = `the PDP answered HTTP ${r.status}${typeof message === 'string' ? `: ${message}` : ''}`;
    const code = r.status === 401 ? 'ERR_AUTHZEN_UNAUTHENTICATED' : r.status >= 500 ? 'ERR_AUTHZEN_UNAVAILABLE' : r.status >= 400 ? 'ERR_AUTHZEN_BAD_REQUEST' : 'ERR_AUTHZEN_BAD_RESPONSE';
    throw new AuthzenError(code, text, { status: r.status });
  }
}

/** `started`: when the request was sent (ms), from which the approval's expiresAt counts. */
function toDecision(b: Record<string, unknown>, started: number): AuthzenDecision {
  if (typeof b.decision !== 'boolean') throw new AuthzenError('ERR_AUTHZEN_BAD_RESPONSE', 'the PDP answered without a boolean decision');
  const context = typeof b.context === 'object' && b.context !== null ? b.context as Record<string, unknown> : {};
  const reason = (context.reason_admin as { en?: unknown } | undefined)?.en;
  const approval = approvalOf(context.approval, started);
  return { decision: b.decision, context, id: typeof context.id === 'string' ? context.id : b.decision ? 'permit' : 'deny',
    ...(typeof reason === 'string' ? { reason } : {}), ...(approval ? { approval } : {}), cached: false };
}

/** context.approval with a CIBA request (auth_req_id, expires_in): the typed handle; undefined without one. */
function approvalOf(v: unknown, started: number): AuthzenApproval | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  if (typeof a.auth_req_id !== 'string' || !a.auth_req_id || typeof a.expires_in !== 'number') return undefined;
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return {
    authReqId: a.auth_req_id, expiresIn: a.expires_in, interval: typeof a.interval === 'number' && a.interval > 0 ? a.interval : 5,
    expiresAt: new Date(started + a.expires_in * 1000), scopes: strings(a.scopes), approvers: strings(a.approvers),
  };
}

function withToken(s: AuthzenEntity, token: string | undefined): AuthzenEntity {
  return token === undefined ? s : { ...s, properties: { ...s.properties, token } };
}

function claimsOf(token: string | undefined): Record<string, unknown> | undefined {
  try { return JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>; } catch { return undefined; }
}

/** The agent a token names (its current actor), else its sub; the PDP checks it against the verified token. */
function subjectOf(token: string | undefined): AuthzenEntity {
  const c = claimsOf(token);
  if (!c) throw new TypeError('authorize needs context.subject, or context.token to name the subject');
  const act = (c.act as { sub?: unknown } | undefined)?.sub;
  if (typeof act === 'string') return { type: 'agent', id: act };
  const sub = String(c.sub);
  return { type: sub.startsWith('spiffe://') ? 'agent' : 'user', id: sub };
}

/** What the revocation feed matches, from the claims the PDP verified when it permitted. */
function revocationView(token: string): DelegatedToken | undefined {
  const c = claimsOf(token);
  if (!c || typeof c.jti !== 'string' || typeof c.grant_id !== 'string' || typeof c.sub !== 'string' || typeof c.iat !== 'number') return undefined;
  let actors;
  try { actors = c.act === undefined ? [] : parseActorChain(c.act); } catch { return undefined; }
  const chain = Array.isArray(c.chain) ? c.chain.filter((x): x is string => typeof x === 'string') : [];
  return {
    token, issuer: String(c.iss), subject: c.sub, subjectIssuer: '', subjectName: '', scopes: [], audience: [],
    expiresAt: new Date(Number(c.exp) * 1000), issuedAt: new Date(c.iat * 1000), jti: c.jti, grantId: c.grant_id, chain, actors,
    clientId: actors[0]?.id.toString() ?? '', claims: c,
  };
}
