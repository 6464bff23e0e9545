import { verify, type KeyObject } from 'node:crypto';
import { cleanAgentClaims } from '../../spiffe/agent-claims.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import type { ChainActor, RevocableToken } from '../delegation/types.ts';
import type { ActClaim, DelegatedClaims } from './mint.ts';

/**
 * Verification of a delegated token this trust domain issued (any server sharing the
 * store): a sub-agent's subject token, and the token of an introspection or
 * revocation request. Returns the claims and the parts revocation matches on, or
 * throws TokenRejected saying what was wrong; each caller maps that to its wire
 * (invalid_request for an exchange, `active: false` for introspection).
 */
export class TokenRejected extends Error {
  constructor(readonly reason: 'malformed' | 'forged' | 'unknown_kid' | 'expired' | 'not_yet_valid' | 'wrong_issuer' | 'revoked', message: string) {
    super(message);
    this.name = 'TokenRejected';
  }
}

export interface VerifiedDelegatedToken {
  claims: DelegatedClaims;
  /** Current actor first. */
  actors: ChainActor[];
  revocable: RevocableToken;
}

/** Clock skew tolerated between servers for `nbf`/`iat` (never for `exp`). */
const LEEWAY_S = 60;
const MAX_ACT_DEPTH = 32;

/**
 * The compact-JWS steps every token this trust domain signs shares (delegated access
 * tokens, transaction tokens): shape, typ, ES256 only, a known kid, the signature and
 * our issuer. Returns the payload for the caller's claim checks. `typHint` words the
 * refusal of a typ the caller knows (an access token offered as a txn token).
 */
export async function verifyOwnJws(token: string, o: {
  issuer: string; findKey: (kid: string) => Promise<KeyObject | undefined>; what: string;
  typ: string; family: string; typHint?: (typ: unknown) => string | undefined;
}): Promise<Record<string, unknown>> {
  const parts = token.split('.');
  const bad = (m: string) => new TokenRejected('malformed', `${o.what} ${m}`);
  if (parts.length !== 3) throw bad('is not a JWS in compact serialization');
  const header = decodeSegment(parts[0]!);
  const payload = decodeSegment(parts[1]!);
  if (!header || !payload) throw bad('is not a JWT (header or payload is not base64url JSON)');
  if (header.typ !== o.typ) throw bad(o.typHint?.(header.typ) ?? `typ ${JSON.stringify(header.typ)} is not ${o.typ}`);
  if (header.alg !== 'ES256') throw new TokenRejected('forged', `${o.what} alg ${JSON.stringify(header.alg)} is not allowed: ${o.family} are ES256`);
  if (typeof header.kid !== 'string') throw bad('has no kid');
  if (header.crit !== undefined) throw bad('carries crit headers');
  const key = await o.findKey(header.kid);
  if (!key) throw new TokenRejected('unknown_kid', `${o.what} is signed with unknown key kid "${header.kid.slice(0, 64)}" (not a key of ${o.issuer}/oauth2/jwks)`);
  const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
  if (!ok) throw new TokenRejected('forged', `${o.what} signature does not verify with key ${header.kid}`);
  // Signed by us: the shape is ours, but check it anyway so a bug never turns into a bypass.
  if (payload.iss !== o.issuer) throw new TokenRejected('wrong_issuer', `${o.what} iss ${JSON.stringify(payload.iss)} is not ${o.issuer}`);
  return payload;
}

export async function verifyDelegatedToken(token: string, o: {
  issuer: string; findKey: (kid: string) => Promise<KeyObject | undefined>; now: number; what: string;
}): Promise<VerifiedDelegatedToken> {
  const bad = (m: string) => new TokenRejected('malformed', `${o.what} ${m}`);
  const payload = await verifyOwnJws(token, { ...o, typ: 'at+jwt', family: 'delegated tokens' });
  const c = payload as unknown as DelegatedClaims;
  for (const k of ['exp', 'iat', 'nbf'] as const) if (typeof c[k] !== 'number') throw bad(`has no numeric ${k}`);
  if (c.exp <= o.now) throw new TokenRejected('expired', `${o.what} expired at ${iso(c.exp)} (now ${iso(o.now)})`);
  if (c.nbf > o.now + LEEWAY_S) throw new TokenRejected('not_yet_valid', `${o.what} is not valid before ${iso(c.nbf)} (now ${iso(o.now)})`);
  if (typeof c.jti !== 'string' || typeof c.grant_id !== 'string' || typeof c.sub !== 'string' || typeof c.scope !== 'string'
    || !isStringList(c.aud) || !isStringList(c.chain) || typeof c.client_id !== 'string'
    || typeof c.subject !== 'object' || c.subject === null || typeof c.subject.iss !== 'string' || typeof c.subject.sub !== 'string') {
    throw bad('lacks jti, grant_id, sub, scope, aud, chain, client_id or subject');
  }
  // A public client's token (MCP authorization code flow, docs/mcp.md) has no actor: its
  // client proved no workload identity, so its client_id is not a SPIFFE ID.
  const actors = c.act === undefined && !c.client_id.startsWith('spiffe://') ? [] : actorsOf(c.act);
  if (!actors) throw bad('has a malformed act claim');
  if (actors.length > 0 && actors[0]!.spiffeId !== c.client_id) throw bad(`client_id ${c.client_id} is not the current actor ${actors[0]!.spiffeId}`);
  return {
    claims: c,
    actors,
    revocable: { jti: c.jti, grantId: c.grant_id, chain: c.chain, sub: c.sub, actors: actors.map((a) => a.spiffeId), iat: c.iat },
  };
}

/** The actors of an `act` claim, current first; undefined when malformed. */
export function actorsOf(act: unknown): ChainActor[] | undefined {
  const out: ChainActor[] = [];
  let cur = act as ActClaim | undefined;
  while (cur !== undefined) {
    if (typeof cur !== 'object' || cur === null || typeof cur.sub !== 'string' || out.length >= MAX_ACT_DEPTH) return undefined;
    try { SpiffeId.parse(cur.sub); } catch { return undefined; }
    out.push({ spiffeId: cur.sub, claims: cleanAgentClaims(cur as unknown as Record<string, unknown>) });
    cur = cur.act;
  }
  return out.length > 0 ? out : undefined;
}

export function decodeSegment(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch { return undefined; }
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const iso = (s: number) => new Date(s * 1000).toISOString();
