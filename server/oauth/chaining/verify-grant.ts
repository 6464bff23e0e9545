import { constants, verify, type KeyObject } from 'node:crypto';
import type { ChainActor } from '../../delegation/types.ts';
import { actorsOf, decodeSegment } from '../delegated-token.ts';
import { OAuthError } from '../errors.ts';
import { clip } from '../http.ts';
import type { TrustedDomain } from './domain-keys.ts';
import { ID_JAG_TYP, type ChainingGrantClaims } from './grant.ts';

/**
 * RFC 7521 §5.2 / RFC 7523 §3 and the ID-JAG processing rules for a presented grant:
 * typ oauth-id-jag+jwt, iss a configured trusted domain, a signature by a key of its
 * JWKS, aud naming this server's issuer, exp/nbf/iat within the leeway, a lifetime no
 * longer than MAX_GRANT_LIFETIME_S, and the claims a cross-domain token needs. Every
 * refusal is invalid_grant (RFC 7523 §3.1) saying which check failed. Replay (jti) is
 * the caller's: it needs the store.
 */
export const MAX_GRANT_LIFETIME_S = 600;

export interface VerifiedGrant {
  claims: ChainingGrantClaims;
  /** Current actor (= client_id) first. */
  actors: ChainActor[];
  domain: TrustedDomain;
  scopes: string[];
}

const ALG: Record<string, { hash: string | null; opts?: object }> = {
  ES256: { hash: 'sha256', opts: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', opts: { dsaEncoding: 'ieee-p1363' } },
  RS256: { hash: 'sha256' },
  PS256: { hash: 'sha256', opts: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  EdDSA: { hash: null },
};

export async function verifyChainingGrant(assertion: string, o: {
  issuer: string; domains: ReadonlyMap<string, TrustedDomain>; now: number; leeway: number;
}): Promise<VerifiedGrant> {
  const parts = assertion.split('.');
  const header = parts.length === 3 ? decodeSegment(parts[0]!) : undefined;
  const p = parts.length === 3 ? decodeSegment(parts[1]!) : undefined;
  if (!header || !p) throw grantError('assertion is not a JWT (three base64url JSON segments)');
  if (header.typ !== ID_JAG_TYP) {
    throw grantError(`assertion typ ${clip(JSON.stringify(header.typ ?? null), 60)} is not ${ID_JAG_TYP}: only identity assertion authorization grants are redeemed here`);
  }
  if (header.crit !== undefined) throw grantError('assertion carries crit header parameters, which are not supported');
  const iss = p.iss;
  if (typeof iss !== 'string') throw grantError('assertion has no iss claim');
  const domain = o.domains.get(iss);
  if (!domain) {
    const list = [...o.domains.keys()];
    throw grantError(`assertion issuer ${clip(JSON.stringify(iss), 200)} is not a trusted domain (oauth.chaining.trusted_domains: ${list.length ? list.join(', ') : 'none'})`);
  }

  // Signature before any claim is believed.
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const how = ALG[alg];
  if (!how) throw grantError(`assertion alg ${clip(JSON.stringify(header.alg ?? null), 32)} is not allowed; allowed: ${Object.keys(ALG).join(', ')}`);
  if (typeof header.kid !== 'string') throw grantError('assertion header has no kid');
  const k = await domain.keyFor(header.kid);
  if (!k) {
    if (domain.keyCount === 0 && domain.lastError) {
      throw new OAuthError('temporarily_unavailable', `cannot fetch the signing keys of ${iss} (${domain.jwksUri}): ${domain.lastError}`);
    }
    throw grantError(`assertion is signed with unknown key kid "${clip(header.kid, 64)}" (not in ${domain.jwksUri})`);
  }
  if (k.alg !== undefined && k.alg !== alg) throw grantError(`assertion alg ${alg} does not match alg ${k.alg} of key ${header.kid} of ${iss}`);
  if (!checkSignature(parts, how, k.key)) throw grantError(`assertion signature does not verify with key ${header.kid} of ${iss} (forged or altered)`);

  // Claims (RFC 7523 §3 items 2-5, ID-JAG "Processing Rules").
  const aud = p.aud;
  if (!(aud === o.issuer || (Array.isArray(aud) && aud.includes(o.issuer)))) {
    throw grantError(`assertion aud ${clip(JSON.stringify(aud ?? null), 200)} does not name this authorization server (${o.issuer}): it was issued for another audience`);
  }
  for (const c of ['exp', 'iat'] as const) if (typeof p[c] !== 'number') throw grantError(`assertion has no numeric ${c}`);
  const exp = p.exp as number; const iat = p.iat as number;
  if (exp <= o.now - o.leeway) throw grantError(`assertion expired at ${iso(exp)} (now ${iso(o.now)}, leeway ${o.leeway}s)`);
  if (typeof p.nbf === 'number' && p.nbf > o.now + o.leeway) throw grantError(`assertion is not valid before ${iso(p.nbf)} (now ${iso(o.now)}, leeway ${o.leeway}s)`);
  if (iat > o.now + o.leeway) throw grantError(`assertion was issued in the future (iat ${iso(iat)}, now ${iso(o.now)})`);
  if (exp - iat > MAX_GRANT_LIFETIME_S) throw grantError(`assertion lives ${exp - iat} s (iat to exp); grants may live at most ${MAX_GRANT_LIFETIME_S} s`);
  const c = p as unknown as ChainingGrantClaims;
  if (typeof c.jti !== 'string' || c.jti.length === 0 || c.jti.length > 256) throw grantError('assertion has no jti (it must be single use)');
  if (typeof c.sub !== 'string' || typeof c.client_id !== 'string' || typeof c.scope !== 'string' || typeof c.grant_id !== 'string') {
    throw grantError('assertion lacks sub, client_id, scope or grant_id');
  }
  const s = c.subject;
  if (typeof s !== 'object' || s === null || typeof s.iss !== 'string' || typeof s.sub !== 'string' || !isStringList(s.groups)) {
    throw grantError('assertion lacks the subject claim (the user as the IdP named them: iss, sub, groups)');
  }
  if (`${s.iss}#${s.sub}` !== c.sub) throw grantError(`assertion sub ${clip(c.sub, 200)} is not its subject ${clip(`${s.iss}#${s.sub}`, 200)}`);
  if (c.resource !== undefined && !isStringList(c.resource)) throw grantError('assertion resource must be a list of URIs');
  const actors = actorsOf(c.act);
  if (!actors) throw grantError('assertion has a missing or malformed act claim (a chain of SPIFFE IDs)');
  if (actors[0]!.spiffeId !== c.client_id) throw grantError(`assertion client_id ${clip(c.client_id, 200)} is not its current actor ${actors[0]!.spiffeId}`);
  if (domain.spiffeTrustDomain && !actors[0]!.spiffeId.startsWith(`spiffe://${domain.spiffeTrustDomain.name}/`)) {
    throw grantError(`assertion client_id ${c.client_id} is not a workload of ${domain.spiffeTrustDomain.name}, the trust domain of ${iss}`);
  }
  return { claims: c, actors, domain, scopes: c.scope.split(' ').filter((x) => x.length > 0) };
}

function checkSignature(parts: string[], how: { hash: string | null; opts?: object }, key: KeyObject): boolean {
  try {
    return verify(how.hash, Buffer.from(`${parts[0]}.${parts[1]}`), how.opts ? { key, ...how.opts } : key, Buffer.from(parts[2]!, 'base64url'));
  } catch { return false; }
}

export const grantError = (m: string) => new OAuthError('invalid_grant', m);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));
