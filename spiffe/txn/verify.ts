import { DelegationError } from '../delegation/errors.ts';
import { parseActorChain } from '../delegation/act.ts';
import { isDelegationAlgorithm, keyFitsAlgorithm } from '../delegation/keys.ts';
import type { DelegatedToken, DelegationKey } from '../delegation/types.ts';
import { verifySignature } from '../delegation/verify.ts';
import { SpiffeId, TrustDomain } from '../id.ts';
import { invalidTxn, TxnTokenError } from './errors.ts';
import type { TxnToken, VerifyTxnTokenOptions } from './types.ts';

/**
 * Verification of a transaction token (draft-ietf-oauth-transaction-tokens "Txn-Token
 * Validation"): header typ txntoken+jwt (an access token, typ at+jwt, is refused by
 * name), alg from the allow-list and fitting the key, signature by a key of the
 * issuer's JWKS (the same keys as delegated tokens), iss, exp, aud = this trust
 * domain, the claims, then revocation through the same feed as delegated tokens, and
 * the required scopes last.
 */
export const TXN_TYP = 'txntoken+jwt';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_CHARS = 16_384;
const MAX_LEEWAY_S = 60;

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function json(segment: string, what: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')); } catch (err) { throw invalidTxn('malformed', `transaction token ${what} is not base64url JSON`, err); }
  if (!isObject(v)) throw invalidTxn('malformed', `transaction token ${what} is not a JSON object`);
  return v;
}

export async function verifyTxnToken(token: string, o: VerifyTxnTokenOptions): Promise<TxnToken> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !TOKEN_SHAPE.test(token)) {
    throw invalidTxn('malformed', 'transaction token is not a JWS in compact serialization');
  }
  const d1 = token.indexOf('.');
  const d2 = token.indexOf('.', d1 + 1);
  const h = json(token.slice(0, d1), 'header');
  if (typeof h.typ === 'string' && /^(application\/)?at\+jwt$/i.test(h.typ)) {
    throw invalidTxn('access_token', 'the token is an access token (typ at+jwt), not a transaction token: it belongs in the Authorization header, never in Txn-Token');
  }
  if (typeof h.typ !== 'string' || !/^(application\/)?txntoken\+jwt$/i.test(h.typ)) throw invalidTxn('bad_typ', `transaction token typ ${JSON.stringify(h.typ)} is not "${TXN_TYP}"`);
  if (!isDelegationAlgorithm(h.alg)) throw invalidTxn('unsupported_algorithm', `transaction token alg ${JSON.stringify(h.alg)} is not allowed (ES256 ES384 PS256 RS256 EdDSA)`);
  if (h.crit !== undefined) throw invalidTxn('malformed', 'transaction token carries crit header parameters, which are not supported');
  if (!str(h.kid)) throw invalidTxn('missing_kid', 'transaction token header has no kid');

  let key: DelegationKey | undefined;
  try {
    const found = o.keys.getKey(h.kid);
    key = found instanceof Promise ? await found : found;
  } catch (err) {
    throw unavailable(err, 'keys_unavailable');
  }
  if (!key) throw invalidTxn('key_not_found', `no token-signing key "${h.kid}" at the issuer`);
  if ((key.alg !== undefined && key.alg !== h.alg) || !keyFitsAlgorithm(key.key, h.alg)) throw invalidTxn('bad_key', `key "${h.kid}" cannot verify alg ${h.alg}`);
  if (!verifySignature(h.alg, key.key, Buffer.from(token.slice(0, d2), 'latin1'), Buffer.from(token.slice(d2 + 1), 'base64url'))) {
    throw invalidTxn('bad_signature', `transaction token signature does not verify with key "${h.kid}"`);
  }

  const p = json(token.slice(d1 + 1, d2), 'payload');
  if (p.iss !== o.issuer) throw invalidTxn('issuer_mismatch', `transaction token iss ${JSON.stringify(p.iss)} is not ${o.issuer}`);
  const now = (o.now?.getTime() ?? Date.now()) / 1000;
  const leeway = Math.min(Math.max(o.leeway ?? 0, 0), MAX_LEEWAY_S);
  if (!num(p.exp) || !num(p.iat)) throw invalidTxn('missing_claim', 'transaction token has no numeric exp or iat');
  if (p.exp <= now - leeway) throw new TxnTokenError('ERR_TXN_EXPIRED', `transaction token expired at ${new Date(p.exp * 1000).toISOString()}`, { reason: 'expired' });
  if (p.iat > now + leeway + 60) throw new TxnTokenError('ERR_TXN_EXPIRED', `transaction token is issued in the future (${new Date(p.iat * 1000).toISOString()})`, { reason: 'not_yet_valid' });
  const td = typeof o.trustDomain === 'string' ? TrustDomain.parse(o.trustDomain) : o.trustDomain;
  if (p.aud !== td.idString) {
    throw new TxnTokenError('ERR_TXN_AUDIENCE', `transaction token aud ${JSON.stringify(p.aud)} is not this trust domain ${td.idString}: it is not valid here`, { reason: 'audience_mismatch' });
  }
  const t = txnToken(token, p, td);

  let rec;
  try {
    rec = o.revocations?.revocationOf(revocable(t));
  } catch (err) {
    throw unavailable(err, 'stale');
  }
  if (rec) throw new TxnTokenError('ERR_TXN_REVOKED', `transaction token ${t.jti} (txn ${t.txn}) is revoked (${rec.kind} ${rec.value}, revocation seq ${rec.seq})`, { reason: 'revoked' });

  const missing = (o.requiredScopes ?? []).filter((s) => !t.scopes.includes(s));
  if (missing.length) throw new TxnTokenError('ERR_TXN_SCOPE', `transaction token lacks scope ${missing.join(' ')} (it has: ${t.scopes.join(' ') || 'none'})`, { reason: 'missing_scope' });
  return t;
}

function txnToken(token: string, p: Record<string, unknown>, td: TrustDomain): TxnToken {
  for (const k of ['txn', 'sub', 'scope', 'req_wl', 'jti', 'grant_id'] as const) {
    if (!str(p[k])) throw invalidTxn('missing_claim', `transaction token has no ${k}`);
  }
  const chain = p.chain ?? [];
  if (!Array.isArray(chain) || !chain.every(str)) throw invalidTxn('bad_claim', 'transaction token chain must be an array of jti strings');
  for (const k of ['tctx', 'rctx'] as const) if (p[k] !== undefined && !isObject(p[k])) throw invalidTxn('bad_claim', `transaction token ${k} is not a JSON object`);
  const sub = p.sub as string;
  const subj = isObject(p.subject) && str(p.subject.iss) && str(p.subject.sub) ? p.subject : undefined;
  const hash = sub.indexOf('#');
  const subjectIssuer = subj ? subj.iss as string : hash > 0 ? sub.slice(0, hash) : '';
  const subjectName = subj ? subj.sub as string : hash > 0 ? sub.slice(hash + 1) : sub;
  let requesters: SpiffeId[];
  try { requesters = (p.req_wl as string).split(',').map((x) => SpiffeId.parse(x)); } catch (err) {
    throw invalidTxn('bad_claim', `transaction token req_wl ${JSON.stringify(p.req_wl)} is not a comma-separated list of SPIFFE IDs`, err);
  }
  let actors;
  try { actors = p.act === undefined ? [] : parseActorChain(p.act); } catch (err) {
    throw invalidTxn('bad_actor', `transaction token act: ${(err as Error).message}`, err);
  }
  return {
    token, issuer: p.iss as string, txn: p.txn as string, subject: sub, subjectIssuer, subjectName,
    ...(str(p.sub_profile) ? { subjectProfile: p.sub_profile } : {}),
    scopes: (p.scope as string).split(' ').filter((s) => s.length > 0), trustDomain: td, requestingWorkloads: requesters,
    context: (p.tctx as Record<string, unknown> | undefined) ?? {}, requesterContext: (p.rctx as Record<string, unknown> | undefined) ?? {},
    actors, jti: p.jti as string, grantId: p.grant_id as string, chain: chain as string[],
    issuedAt: new Date((p.iat as number) * 1000), expiresAt: new Date((p.exp as number) * 1000), claims: p,
  };
}

/** The token as the revocation index matches it: the same fields a delegated token has. */
function revocable(t: TxnToken): DelegatedToken {
  return {
    token: t.token, issuer: t.issuer, subject: t.subject, subjectIssuer: t.subjectIssuer, subjectName: t.subjectName, scopes: t.scopes,
    audience: [t.trustDomain.idString], expiresAt: t.expiresAt, issuedAt: t.issuedAt, jti: t.jti, grantId: t.grantId, chain: t.chain,
    actors: t.actors, clientId: t.actors[0]?.id.toString() ?? '', claims: t.claims,
  };
}

/** Fail closed without blaming the token: the feed is stale or the keys are out of reach. */
function unavailable(err: unknown, reason: 'stale' | 'keys_unavailable'): Error {
  if (err instanceof DelegationError && (err.code === 'ERR_DELEGATION_FEED_STALE' || err.reason === 'keys_unavailable')) {
    return new TxnTokenError('ERR_TXN_UNAVAILABLE', `transaction token cannot be checked now: ${err.message}`, { reason, cause: err });
  }
  return err as Error;
}
