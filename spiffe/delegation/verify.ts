import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { DelegationError, invalid } from './errors.ts';
import { parseActorChain } from './act.ts';
import { isDelegationAlgorithm, keyFitsAlgorithm, type DelegationAlgorithm } from './keys.ts';
import type { DelegatedToken, DelegationKey, VerifyDelegatedTokenOptions } from './types.ts';

/**
 * Verification of a delegated access token (RFC 9068 JWT, docs/delegation.md):
 * compact JWS, header typ at+jwt, alg in the allow-list and fitting the key found by
 * kid, signature, then iss, exp/nbf, aud, the delegation claims (sub, act chain of
 * SPIFFE IDs, client_id = current actor, jti, grant_id, chain), cnf binding to the
 * presenting connection's certificate, revocation, and the required scopes last (so
 * a refused token answers 401 before a valid one answers 403).
 *
 * The signature is checked with node:crypto directly, like jwtsvid/sign.ts signs:
 * jose's async WebCrypto round trip costs more than the ECDSA verification itself,
 * and resource servers verify on every request. The header checks are jose's
 * (crit refused, alg/key-type binding); parsed headers and actor IDs are cached.
 */

const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_CHARS = 16_384;
const MAX_LEEWAY_S = 300;

interface Header { alg: DelegationAlgorithm; kid: string }
const headers = new Map<string, Header>();
const MAX_CACHED_HEADERS = 256;

function parseHeader(segment: string): Header {
  const hit = headers.get(segment);
  if (hit) return hit;
  let h: Record<string, unknown>;
  try { h = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>; } catch (err) {
    throw invalid('malformed', 'delegated token header is not base64url JSON', err);
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw invalid('malformed', 'delegated token header is not a JSON object');
  if (h.typ === undefined) throw invalid('bad_typ', 'delegated token header has no typ (want "at+jwt")');
  // A transaction token travels in the Txn-Token header and is never an access token (draft-ietf-oauth-transaction-tokens).
  if (typeof h.typ === 'string' && /^(application\/)?txntoken\+jwt$/i.test(h.typ)) {
    throw invalid('bad_typ', 'delegated token typ "txntoken+jwt" is a transaction token, not an access token (verify it with verifyTxnToken from the Txn-Token header)');
  }
  if (typeof h.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(h.typ)) throw invalid('bad_typ', `delegated token typ "${String(h.typ)}" is not "at+jwt"`);
  if (!isDelegationAlgorithm(h.alg)) throw invalid('unsupported_algorithm', `delegated token alg ${JSON.stringify(h.alg)} is not allowed (ES256 ES384 PS256 RS256 EdDSA)`);
  if (h.crit !== undefined) throw invalid('crit_header', 'delegated token carries crit header parameters, which are not supported');
  if (typeof h.kid !== 'string' || h.kid.length === 0) throw invalid('missing_kid', 'delegated token header has no kid');
  const header: Header = { alg: h.alg, kid: h.kid };
  if (headers.size >= MAX_CACHED_HEADERS) headers.clear();
  headers.set(segment, header);
  return header;
}

/** One JWS signature check by node:crypto (also used by spiffe/txn for transaction tokens: same keys, same algorithms). */
export function verifySignature(alg: DelegationAlgorithm, key: KeyObject, input: Buffer, sig: Buffer): boolean {
  try {
    switch (alg) {
      case 'ES256': return cryptoVerify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig);
      case 'ES384': return cryptoVerify('sha384', input, { key, dsaEncoding: 'ieee-p1363' }, sig);
      case 'RS256': return cryptoVerify('sha256', input, key, sig);
      case 'PS256': return cryptoVerify('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
      case 'EdDSA': return cryptoVerify(null, input, key, sig);
    }
  } catch {
    return false; // wrong signature length/encoding
  }
}

// The connection's certificate is the same Buffer for every request on it.
const thumbprints = new WeakMap<Uint8Array, string>();
function thumbprint(der: Uint8Array): string {
  let t = thumbprints.get(der);
  if (!t) { t = createHash('sha256').update(der).digest('base64url'); thumbprints.set(der, t); }
  return t;
}

function has(this: string[], s: string): boolean { return this.includes(s); }
const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export async function verifyDelegatedToken(token: string, o: VerifyDelegatedTokenOptions): Promise<DelegatedToken> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !TOKEN_SHAPE.test(token)) {
    throw invalid('malformed', 'delegated token is not a JWS in compact serialization');
  }
  const d1 = token.indexOf('.');
  const d2 = token.indexOf('.', d1 + 1);
  const header = parseHeader(token.slice(0, d1));
  if (o.algorithms && !o.algorithms.includes(header.alg)) throw invalid('unsupported_algorithm', `delegated token alg ${header.alg} is not among the accepted ${o.algorithms.join(' ')}`);

  const found = o.keys.getKey(header.kid);
  const key: DelegationKey | undefined = found instanceof Promise ? await found : found;
  if (!key) throw invalid('key_not_found', `no token-signing key "${header.kid}" at the issuer`);
  if ((key.alg !== undefined && key.alg !== header.alg) || !keyFitsAlgorithm(key.key, header.alg)) {
    throw invalid('bad_key', `key "${header.kid}" cannot verify alg ${header.alg}`);
  }
  if (!verifySignature(header.alg, key.key, Buffer.from(token.slice(0, d2), 'latin1'), Buffer.from(token.slice(d2 + 1), 'base64url'))) {
    throw invalid('bad_signature', `delegated token signature does not verify with key "${header.kid}"`);
  }

  let p: Record<string, unknown>;
  try { p = JSON.parse(Buffer.from(token.slice(d1 + 1, d2), 'base64url').toString('utf8')) as Record<string, unknown>; } catch (err) {
    throw invalid('malformed', 'delegated token payload is not base64url JSON', err);
  }
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalid('malformed', 'delegated token payload is not a JSON object');

  if (p.iss !== o.issuer) throw invalid('issuer_mismatch', `delegated token iss ${JSON.stringify(p.iss)} is not ${o.issuer}`);
  const now = (o.now?.getTime() ?? Date.now()) / 1000;
  const leeway = Math.min(Math.max(o.leeway ?? 0, 0), MAX_LEEWAY_S);
  if (!num(p.exp)) throw invalid('missing_claim', 'delegated token has no numeric exp');
  if (!num(p.iat)) throw invalid('missing_claim', 'delegated token has no numeric iat');
  if (p.exp <= now - leeway) throw new DelegationError('ERR_DELEGATION_EXPIRED', `delegated token expired at ${new Date(p.exp * 1000).toISOString()}`, { reason: 'expired' });
  if (p.nbf !== undefined) {
    if (!num(p.nbf)) throw invalid('bad_claim', 'delegated token nbf is not a number');
    if (p.nbf > now + leeway) throw new DelegationError('ERR_DELEGATION_EXPIRED', `delegated token is not valid before ${new Date(p.nbf * 1000).toISOString()}`, { reason: 'not_yet_valid' });
  }
  const audience = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) && p.aud.every(str) ? p.aud as string[] : undefined;
  if (!audience || audience.length === 0) throw invalid('missing_claim', 'delegated token has no aud');
  if (!audience.includes(o.audience)) {
    throw new DelegationError('ERR_DELEGATION_AUDIENCE', `delegated token audience ${JSON.stringify(audience)} does not include ${o.audience}`, { reason: 'audience_mismatch' });
  }

  const t = delegatedToken(token, p, audience);

  const cnf = p.cnf;
  if (cnf !== undefined) {
    const x5t = (cnf as Record<string, unknown> | null)?.['x5t#S256'];
    if (!str(x5t)) throw invalid('bad_claim', 'delegated token cnf has no x5t#S256');
    t.certificateThumbprint = x5t;
    if (!o.peerCertificate) throw new DelegationError('ERR_DELEGATION_BINDING', 'delegated token is bound to a certificate (cnf x5t#S256) but the connection presented none', { reason: 'no_peer_certificate' });
    if (thumbprint(o.peerCertificate) !== x5t) {
      throw new DelegationError('ERR_DELEGATION_BINDING', `delegated token is bound to certificate ${x5t}, not to the connection's certificate ${thumbprint(o.peerCertificate)}`, { reason: 'cnf_mismatch' });
    }
  } else if (o.requireBinding) {
    throw new DelegationError('ERR_DELEGATION_BINDING', 'delegated token is a bearer token (no cnf) and binding is required', { reason: 'unbound' });
  }

  const rec = o.revocations?.revocationOf(t);
  if (rec) {
    throw new DelegationError('ERR_DELEGATION_REVOKED', `delegated token ${t.jti} is revoked (${rec.kind} ${rec.value}, revocation seq ${rec.seq})`, { reason: 'revoked' });
  }

  const required = o.requiredScopes;
  if (required && required.length > 0 && !required.every(has, t.scopes)) {
    const missing = required.filter((s) => !t.scopes.includes(s));
    throw new DelegationError('ERR_DELEGATION_SCOPE', `delegated token lacks scope ${missing.join(' ')} (it has: ${t.scopes.join(' ') || 'none'})`, { reason: 'missing_scope', missingScopes: missing });
  }
  return t;
}

/** The delegation claims of a signature-checked payload. */
function delegatedToken(token: string, p: Record<string, unknown>, audience: string[]): DelegatedToken {
  if (!str(p.sub)) throw invalid('missing_claim', 'delegated token has no sub');
  const hash = p.sub.indexOf('#');
  let subjectIssuer = hash > 0 ? p.sub.slice(0, hash) : '';
  let subjectName = hash > 0 ? p.sub.slice(hash + 1) : '';
  const subj = p.subject as Record<string, unknown> | undefined;
  if (subj !== undefined) {
    if (typeof subj !== 'object' || subj === null || !str(subj.iss) || !str(subj.sub)) throw invalid('bad_claim', 'delegated token subject claim must be an object with iss and sub');
    // An agent acting for itself (client credentials): sub is its own SPIFFE ID, named by
    // this issuer, and it is also the current actor (checked below).
    const self = p.sub === subj.sub && p.sub.startsWith('spiffe://');
    if (!self && `${subj.iss}#${subj.sub}` !== p.sub) throw invalid('bad_subject', `delegated token sub "${p.sub}" disagrees with subject ${subj.iss}#${subj.sub}`);
    subjectIssuer = subj.iss; subjectName = subj.sub;
  }
  if (!subjectIssuer || !subjectName) throw invalid('bad_subject', `delegated token sub "${p.sub}" is not <issuer>#<subject>`);

  if (!str(p.client_id)) throw invalid('missing_claim', 'delegated token has no client_id');
  // A public client (a Client ID Metadata Document URL, no SVID) gets no act: the
  // actor-profile draft forbids making one up from client_id. Any SPIFFE client has one.
  const publicClient = p.act === undefined && !p.client_id.startsWith('spiffe://');
  const actors = publicClient ? [] : parseActorChain(p.act);
  if (!publicClient && p.client_id !== actors[0]!.id.toString()) throw invalid('client_id_mismatch', `delegated token client_id ${p.client_id} is not the current actor ${actors[0]!.id}`);
  if (p.sub.startsWith('spiffe://') && subj !== undefined && p.sub !== actors[0]?.id.toString()) {
    throw invalid('bad_subject', `delegated token sub ${p.sub} is a workload but not the current actor`);
  }
  if (!str(p.jti)) throw invalid('missing_claim', 'delegated token has no jti');
  if (!str(p.grant_id)) throw invalid('missing_claim', 'delegated token has no grant_id');
  let chain: string[] = [];
  if (p.chain !== undefined) {
    if (!Array.isArray(p.chain) || !p.chain.every(str)) throw invalid('bad_claim', 'delegated token chain must be an array of jti strings');
    chain = p.chain as string[];
  }
  let scopes: string[] = [];
  if (p.scope !== undefined) {
    if (typeof p.scope !== 'string') throw invalid('bad_claim', 'delegated token scope must be a space-delimited string');
    scopes = p.scope.split(' ').filter((s) => s.length > 0);
  }
  return {
    token, issuer: p.iss as string, subject: p.sub, subjectIssuer, subjectName, scopes, audience,
    expiresAt: new Date((p.exp as number) * 1000), issuedAt: new Date((p.iat as number) * 1000),
    jti: p.jti, grantId: p.grant_id, chain, actors, clientId: p.client_id, claims: p,
  };
}
