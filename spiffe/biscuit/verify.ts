import { cleanAgentClaims } from '../agent-claims.ts';
import { DelegationError, invalid } from '../delegation/errors.ts';
import type { Actor, DelegatedToken, RevocationChecker } from '../delegation/types.ts';
import { SpiffeId } from '../id.ts';
import { spiffeIdFromCertificate } from '../x509svid/parse.ts';
import type { BiscuitRootKeySource } from './keys.ts';
import { describeLibError, parseBiscuit, type ParsedBiscuit } from './token.ts';
import { date, type BlockFacts } from './vocabulary.ts';
import { cachedBiscuit, datalogPassed, decisionKey, recordPass, remember, tokenHash } from './verify-cache.ts';
import { biscuitLibLoaded, loadBiscuit, RUN_LIMITS, type BiscuitLib } from './wasm.ts';

/**
 * Verification of a Tessera Biscuit (docs/attenuation.md) into the same typed result
 * as verifyDelegatedToken: signatures from the root key its root_key_id names; the
 * authority block's facts; each attenuation block only narrowing (scopes and
 * audiences intersect, expiry and budgets take the minimum, `delegated_to` adds the
 * next actor, within the authority's max_depth and may_delegate_to); the presenter
 * must prove the last holder's SPIFFE ID with its mTLS certificate; revocation by any
 * block's revocation id (and the JWT kinds); finally Biscuit's own Datalog checks of
 * every block, fed with time, resource, requested scopes, peer and holder.
 */
export interface VerifyBiscuitOptions {
  rootKeys: BiscuitRootKeySource;
  /** This resource server's identifier: the token's audiences must contain it. */
  audience: string;
  /** The exact issuer expected (the authority block's `issuer`), when given. */
  issuer?: string;
  requiredScopes?: string[];
  /** DER of the mTLS peer's leaf certificate: its SPIFFE ID must be the token's holder. */
  peerCertificate?: Uint8Array;
  /** Or the peer's SPIFFE ID, already verified by the caller's TLS stack. */
  peerId?: SpiffeId | string;
  revocations?: RevocationChecker;
  now?: Date;
}

export async function verifyBiscuit(token: string, o: VerifyBiscuitOptions): Promise<DelegatedToken> {
  const lib = biscuitLibLoaded() ?? await loadBiscuit();
  const hash = tokenHash(token);
  const e = cachedBiscuit(hash, o.rootKeys) ?? remember(hash, ...await parsedAndTyped(lib, token, o.rootKeys));
  // From here on, no await: the entry's parsed token is freed when another verification evicts it.
  const t = e.typed;
  const nowMs = o.now?.getTime() ?? Date.now();
  const now = Math.floor(nowMs / 1000);
  if (o.issuer !== undefined && t.issuer !== o.issuer) throw invalid('issuer_mismatch', `Biscuit issuer ${JSON.stringify(t.issuer)} is not ${o.issuer}`);
  if (t.expiresAt.getTime() <= nowMs) throw new DelegationError('ERR_DELEGATION_EXPIRED', `Biscuit token expired at ${t.expiresAt.toISOString()}`, { reason: 'expired' });
  if (!t.audience.includes(o.audience)) {
    throw new DelegationError('ERR_DELEGATION_AUDIENCE', `Biscuit token audience ${JSON.stringify(t.audience)} does not include ${o.audience}`, { reason: 'audience_mismatch' });
  }
  const holder = t.actors[0]!.id.toString();
  const peer = peerOf(o);
  if (t.claims.bound === true) {
    if (!peer) throw new DelegationError('ERR_DELEGATION_BINDING', `Biscuit token is bound to ${holder}, but the connection presented no X.509-SVID`, { reason: 'no_peer_certificate' });
    if (peer !== holder) throw new DelegationError('ERR_DELEGATION_BINDING', `Biscuit token is held by ${holder}, not by the presenting workload ${peer}`, { reason: 'cnf_mismatch' });
  }
  const rec = o.revocations?.revocationOf(t);
  if (rec) throw new DelegationError('ERR_DELEGATION_REVOKED', `Biscuit token ${t.jti} is revoked (${rec.kind} ${rec.value}, revocation seq ${rec.seq})`, { reason: 'revoked' });

  const required = o.requiredScopes ?? [];
  const missing = required.filter((s) => !t.scopes.includes(s));
  const key = decisionKey(o.audience, peer, required);
  if (!datalogPassed(e, key, now)) {
    const ab = new lib.AuthorizerBuilder();
    const params: Record<string, unknown> = { now: date(now), resource: o.audience, holder, scopes: { set: required } };
    let code = 'time({now}); resource({resource}); holder({holder}); requested_scopes({scopes});';
    if (peer) { params.peer = peer; code += ' peer({peer});'; }
    ab.addCodeWithParameters(`${code} allow if true;`, params, {});
    const authorizer = ab.buildAuthenticated(e.biscuit);
    try {
      authorizer.authorizeWithLimits(RUN_LIMITS);
    } catch (err) {
      if (missing.length) throw scopeError(t, missing);
      throw new DelegationError('ERR_DELEGATION_UNAUTHORIZED', `Biscuit token's checks refuse this request: ${describeLibError(err)}`, { cause: err });
    } finally { authorizer.free(); }
    recordPass(e, key);
  }
  if (missing.length) throw scopeError(t, missing);
  return copy(t);
}

/**
 * Signatures, structure and expiry only, for the authorization server itself
 * (/oauth2/consume, introspection): no audience, holder or Datalog checks, which
 * belong to the resource server the token is presented to.
 */
export async function inspectBiscuit(token: string, o: { rootKeys: BiscuitRootKeySource; now?: Date }): Promise<DelegatedToken> {
  const lib = biscuitLibLoaded() ?? await loadBiscuit();
  const hash = tokenHash(token);
  const t = (cachedBiscuit(hash, o.rootKeys) ?? remember(hash, ...await parsedAndTyped(lib, token, o.rootKeys))).typed;
  if (t.expiresAt.getTime() <= (o.now?.getTime() ?? Date.now())) {
    throw new DelegationError('ERR_DELEGATION_EXPIRED', `Biscuit token expired at ${t.expiresAt.toISOString()}`, { reason: 'expired' });
  }
  return copy(t);
}

/** A cache miss: signatures verified and the token typed (its parsed form freed if typing fails). */
async function parsedAndTyped(lib: BiscuitLib, token: string, keys: BiscuitRootKeySource): Promise<[ParsedBiscuit, DelegatedToken]> {
  const parsed = await parseBiscuit(lib, token, keys);
  try { return [parsed, typed(token, parsed.blocks, parsed.revocationIds)]; } catch (err) { parsed.biscuit.free(); throw err; }
}

/** Callers get their own top-level object and arrays; the cached one stays as verified. */
function copy(t: DelegatedToken): DelegatedToken {
  return { ...t, scopes: [...t.scopes], audience: [...t.audience], actors: [...t.actors], chain: [...t.chain], claims: { ...t.claims }, budgets: { ...t.budgets } };
}

function scopeError(t: DelegatedToken, missing: string[]): DelegationError {
  return new DelegationError('ERR_DELEGATION_SCOPE', `Biscuit token lacks scope ${missing.join(' ')} (it has: ${t.scopes.join(' ') || 'none'})`,
    { reason: 'missing_scope', missingScopes: missing });
}

function peerOf(o: VerifyBiscuitOptions): string | undefined {
  if (o.peerId !== undefined) return typeof o.peerId === 'string' ? SpiffeId.parse(o.peerId).toString() : o.peerId.toString();
  if (o.peerCertificate) return spiffeIdFromCertificate(o.peerCertificate).toString();
  return undefined;
}

/** The authority's statement narrowed by every attenuation block, as a DelegatedToken. */
function typed(token: string, blocks: BlockFacts[], revocationIds: string[]): DelegatedToken {
  const a = blocks[0]!;
  if (a.issuer === undefined || a.jti === undefined || a.grantId === undefined || a.user === undefined || a.userIssuer === undefined
    || a.userName === undefined || a.scopes === undefined || a.audiences === undefined || a.expiresAt === undefined
    || a.issuedAt === undefined || a.maxDepth === undefined || a.actors.length === 0) {
    throw invalid('missing_claim', 'Biscuit authority block lacks issuer, token_id, grant, user, scope, audience, issued_at, expires, max_depth or actor facts');
  }
  if (a.delegatedTo !== undefined) throw invalid('bad_claim', 'Biscuit authority block names delegated_to');
  // Authority actors: index 0 is the current one (as `act` nests them).
  const authorityActors: Actor[] = [...a.actors].sort((x, y) => x[0] - y[0]).map(([i, id]) => ({
    id: actorId(id), claims: cleanAgentClaims(Object.fromEntries(a.actorClaims.filter((c) => c[0] === i).map((c) => [c[1], c[2]]))),
  }));
  let scopes = [...new Set(a.scopes)];
  let audience = [...new Set(a.audiences)];
  let exp = a.expiresAt;
  const budgets: Record<string, number> = { ...a.budgets };
  const hops: Actor[] = [];
  for (let i = 1; i < blocks.length; i++) {
    const b = blocks[i]!;
    if (b.scopes) scopes = scopes.filter((s) => b.scopes!.includes(s));
    if (b.audiences) audience = audience.filter((x) => b.audiences!.includes(x));
    if (b.expiresAt !== undefined) exp = Math.min(exp, b.expiresAt);
    for (const [op, n] of Object.entries(b.budgets)) budgets[op] = Math.min(n, budgets[op] ?? Infinity);
    if (b.delegatedTo !== undefined) {
      const id = actorId(b.delegatedTo);
      if (!a.mayDelegateTo.some((p) => matchesPattern(p, id.toString()))) {
        throw invalid('bad_actor', `Biscuit block ${i} delegates to ${id}, which may_delegate_to (${a.mayDelegateTo.join(' ') || 'none'}) does not allow`);
      }
      hops.unshift({ id, claims: {} });
    }
  }
  const actors = [...hops, ...authorityActors];
  if (actors.length > a.maxDepth) throw invalid('bad_actor', `Biscuit delegation depth ${actors.length} > max_depth ${a.maxDepth}`);
  const chain = [...a.ancestors].sort((x, y) => x[0] - y[0]).map(([, j]) => j);
  const bound = a.bound || hops.length > 0;
  return {
    token, issuer: a.issuer, subject: a.user, subjectIssuer: a.userIssuer, subjectName: a.userName,
    scopes, audience, expiresAt: new Date(exp * 1000), issuedAt: new Date(a.issuedAt * 1000),
    jti: a.jti, grantId: a.grantId, chain, actors, clientId: actors[0]!.id.toString(),
    claims: { format: 'biscuit', groups: a.groups, budgets, bound, blocks: blocks.length, revocation_ids: revocationIds, max_depth: a.maxDepth },
    budgets, biscuitRevocationIds: revocationIds,
  };
}

function actorId(s: string): SpiffeId {
  let id: SpiffeId;
  try { id = SpiffeId.parse(s); } catch (e) { throw invalid('bad_actor', `Biscuit actor "${s.slice(0, 200)}" is not a SPIFFE ID: ${(e as Error).message}`, e); }
  if (id.isTrustDomainId) throw invalid('bad_actor', `Biscuit actor "${s}" is a trust domain ID, not a workload`);
  return id;
}

/** An actor pattern (docs/delegation.md): exact SPIFFE ID, or one ending in `/*` = that path and below. */
export function matchesPattern(pattern: string, id: string): boolean {
  if (!pattern.endsWith('/*')) return pattern === id;
  const base = pattern.slice(0, -2);
  return id === base || id.startsWith(`${base}/`);
}
