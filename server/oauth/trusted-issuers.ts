import { constants, createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { DelegationSubject } from '../delegation/types.ts';
import type { TrustedIssuerConfig } from './config.ts';
import { OAuthError } from './errors.ts';
import { fetchJson } from './fetch-json.ts';
import { clip } from './http.ts';
import { JwksCache, type JwksKey } from './jwks-cache.ts';

/**
 * External OpenID Providers whose tokens are subject tokens (docs/delegation.md (a)).
 * Per issuer: the jwks_uri from its OpenID configuration (or the configured override),
 * the key set cached in memory, fetched at start and again only when a token names an
 * unknown kid, at most once per 30 s (a stream of made-up kids must not turn us into
 * a request amplifier), and in the background when the cache is a day old.
 *
 * Verification is node:crypto over the cached KeyObjects, synchronous: jose's WebCrypto
 * path costs a thread-pool round trip and a key conversion per token, several times the
 * signature itself. A verified token is remembered by its SHA-256 for a short while
 * (an agent exchanges one user token for several audiences or sub-agents; VerifiedTokens).
 */
export const ALLOWED_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
type AllowedAlg = typeof ALLOWED_ALGS[number];
const REFETCH_MIN_INTERVAL_MS = 30_000;
const MAX_AGE_MS = 86_400_000;
const FETCH_TIMEOUT_MS = 5_000;
const LEEWAY_S = 60;
/** How long a verified token's result is reused (seconds), at most: never past its exp. */
const VERIFIED_TTL_S = 60;
const MAX_VERIFIED = 10_000;

export interface ExternalSubject extends DelegationSubject {
  exp: number;
  claims: Readonly<Record<string, unknown>>;
}

/**
 * IdP tokens verified lately, by SHA-256, for every issuer: a token presented again is
 * answered without decoding it. An entry holds while the token is unexpired (with the
 * verification's leeway), at most VERIFIED_TTL_S, and while its issuer's key set is the
 * one that verified it (nbf and iat only grow more valid with time).
 */
class VerifiedTokens {
  private readonly byHash = new Map<string, { subject: ExternalSubject; issuer: TrustedIssuer; keys: number; until: number }>();

  static hash(token: string): string { return createHash('sha256').update(token).digest('base64'); }

  get(hash: string, now: number): ExternalSubject | undefined {
    const e = this.byHash.get(hash);
    if (!e) return undefined;
    if (e.keys === e.issuer.keyGeneration && e.subject.exp > now - LEEWAY_S && now < e.until) return e.subject;
    this.byHash.delete(hash);
    return undefined;
  }

  set(hash: string, issuer: TrustedIssuer, subject: ExternalSubject, now: number): void {
    if (this.byHash.size >= MAX_VERIFIED) this.byHash.delete(this.byHash.keys().next().value!);
    this.byHash.set(hash, { subject, issuer, keys: issuer.keyGeneration, until: now + VERIFIED_TTL_S });
  }
}

/** How node:crypto checks each allowed alg, and which keys can (as jose and WebCrypto decide). */
const ALG: Record<AllowedAlg, { hash: string | null; opts?: object; key(k: KeyObject): boolean }> = {
  ES256: { hash: 'sha256', opts: { dsaEncoding: 'ieee-p1363' }, key: (k) => k.asymmetricKeyDetails?.namedCurve === 'prime256v1' },
  ES384: { hash: 'sha384', opts: { dsaEncoding: 'ieee-p1363' }, key: (k) => k.asymmetricKeyDetails?.namedCurve === 'secp384r1' },
  RS256: { hash: 'sha256', key: (k) => rsa2048(k) },
  PS256: { hash: 'sha256', opts: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, key: (k) => rsa2048(k) },
  EdDSA: { hash: null, key: (k) => k.asymmetricKeyType === 'ed25519' || k.asymmetricKeyType === 'ed448' },
};
const rsa2048 = (k: KeyObject) => k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
const B64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A token without a kid is for an issuer with a single key. */
function lookup(keys: ReadonlyMap<string, JwksKey>, kid: unknown): JwksKey | undefined {
  if (typeof kid === 'string') return keys.get(kid);
  return keys.size === 1 ? [...keys.values()][0] : undefined;
}

export class TrustedIssuer {
  private readonly jwks: JwksCache;
  private jwksUri: string | undefined;
  private readonly ca: string | undefined;
  readonly issuer: string;

  constructor(private readonly cfg: TrustedIssuerConfig, private readonly d: { clock: Clock; logger: Logger; verified: VerifiedTokens }) {
    this.issuer = cfg.issuer;
    this.jwksUri = cfg.jwks_uri;
    try { this.ca = cfg.ca_file ? readFileSync(cfg.ca_file, 'utf8') : undefined; } catch (e) {
      throw new ConfigError(`config: oauth.trusted_issuers: ${cfg.issuer}: cannot read ca_file ${cfg.ca_file}: ${(e as Error).message}`);
    }
    this.jwks = new JwksCache({
      clock: d.clock, fetch: () => this.fetchJwks(), refetchMs: REFETCH_MIN_INTERVAL_MS, unnamed: 'number',
      loaded: (uri, kids) => d.logger.info('trusted issuer keys fetched', { issuer: this.issuer, jwks_uri: uri, kids }),
      failed: (reason) => d.logger.warn('trusted issuer keys fetch failed', { issuer: this.issuer, reason }),
    });
  }

  /** Bumped whenever the key set is replaced: what was verified with the old set is verified again. */
  get keyGeneration(): number { return this.jwks.generation; }

  /** Starts the first key fetch without waiting for it (server start must not hang on an IdP). */
  warm(): void { this.jwks.warm(); }

  /** Verifies an IdP token whose (unverified) `iss` is this issuer; OAuthError invalid_request otherwise. */
  async verify(token: string, header: Record<string, unknown>, now: number, what = 'subject_token'): Promise<ExternalSubject> {
    const hash = VerifiedTokens.hash(token);
    const seen = this.d.verified.get(hash, now);
    if (seen?.issuer === this.issuer) return seen;
    const alg = header.alg;
    if (typeof alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(alg)) {
      const why = alg === 'none' ? 'alg none is not allowed (unsigned token)'
        : typeof alg === 'string' && /^HS/i.test(alg) ? `symmetric alg ${alg} is not allowed`
          : `alg ${clip(JSON.stringify(alg), 32)} is not allowed`;
      throw invalid(`${what} ${why}; allowed: ${ALLOWED_ALGS.join(', ')}`);
    }
    const key = await this.keyFor(header.kid, alg, what);
    const payload = this.checkSignature(token, header, alg as AllowedAlg, key, what);
    this.checkClaims(payload, now, what);
    if (typeof payload.iat === 'number' && payload.iat > now + LEEWAY_S) {
      throw invalid(`${what} was issued in the future (iat ${iso(payload.iat)}, now ${iso(now)})`);
    }
    const name = payload[this.cfg.subject_claim];
    if (typeof name !== 'string' || name.length === 0) throw invalid(`${what} has no string claim ${this.cfg.subject_claim} (the subject claim of issuer ${this.issuer})`);
    let groups: string[] = [];
    if (this.cfg.groups_claim !== undefined) {
      const g = payload[this.cfg.groups_claim];
      if (typeof g === 'string') groups = [g];
      else if (Array.isArray(g)) groups = g.filter((x): x is string => typeof x === 'string');
      else if (g !== undefined) throw invalid(`${what} claim ${this.cfg.groups_claim} must be a list of group names`);
    }
    // Frozen: a remembered result is shared by every request presenting the same token.
    const subject: ExternalSubject = Object.freeze({
      issuer: this.issuer, name, groups: Object.freeze(groups) as string[], exp: payload.exp as number, claims: Object.freeze(payload),
    });
    this.d.verified.set(hash, this, subject, now);
    return subject;
  }

  /** The compact JWS's signature by `key` (as RFC 7515 and jose check it); returns the claims set. */
  private checkSignature(token: string, header: Record<string, unknown>, alg: AllowedAlg, key: KeyObject, what: string): Record<string, unknown> {
    const kid = String(header.kid ?? '(no kid)');
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((x) => B64URL.test(x))) throw invalid(`${what} is malformed: not a compact JWS of three base64url segments`);
    if (header.crit !== undefined) throw invalid(`${what} is malformed: crit header parameters ${clip(JSON.stringify(header.crit), 100)} are not supported`);
    const how = ALG[alg];
    if (!how.key(key)) throw invalid(`${what}: key ${kid} of issuer ${this.issuer} cannot verify alg ${alg}`);
    let ok = false;
    try {
      ok = verifySignature(how.hash, Buffer.from(token.slice(0, parts[0]!.length + 1 + parts[1]!.length), 'latin1'),
        how.opts ? { key, ...how.opts } : key, Buffer.from(parts[2]!, 'base64url'));
    } catch { /* a signature of the wrong shape verifies nothing */ }
    if (!ok) throw invalid(`${what} signature does not verify with key ${kid} of issuer ${this.issuer} (forged or altered)`);
    let payload: unknown;
    try { payload = JSON.parse(utf8.decode(Buffer.from(parts[1]!, 'base64url'))); } catch { /* below */ }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid(`${what} is malformed: JWT Claims Set must be a top-level JSON object`);
    return payload as Record<string, unknown>;
  }

  /** Registered claims (RFC 7519 §4.1), in the order jose checked them: iss, aud, exp present; iss, aud match; nbf, exp with the leeway. */
  private checkClaims(p: Record<string, unknown>, now: number, what: string): void {
    const badIss = () => invalid(`${what} iss ${clip(String(JSON.stringify(p.iss ?? null)), 200)} is not ${this.issuer}`);
    const badAud = () => invalid(`${what} aud ${clip(JSON.stringify(p.aud ?? null), 200)} does not contain ${this.cfg.audience.join(' or ')} (the audience configured for issuer ${this.issuer})`);
    if (!Object.hasOwn(p, 'iss')) throw badIss();
    if (!Object.hasOwn(p, 'aud')) throw badAud();
    if (!Object.hasOwn(p, 'exp')) throw invalid(`${what} claim exp is invalid: missing`);
    if (p.iss !== this.issuer) throw badIss();
    const aud = p.aud;
    if (!(typeof aud === 'string' ? this.cfg.audience.includes(aud) : Array.isArray(aud) && this.cfg.audience.some((a) => aud.includes(a)))) throw badAud();
    if (p.iat !== undefined && typeof p.iat !== 'number') throw invalid(`${what} claim iat is invalid: invalid`);
    if (p.nbf !== undefined && (typeof p.nbf !== 'number' || p.nbf > now + LEEWAY_S)) {
      throw invalid(`${what} is not valid before ${iso(Number(p.nbf))} (now ${iso(now)}, leeway ${LEEWAY_S}s)`);
    }
    if (typeof p.exp !== 'number') throw invalid(`${what} claim exp is invalid: invalid`);
    if (p.exp <= now - LEEWAY_S) throw invalid(`${what} expired at ${iso(p.exp)} (now ${iso(now)}, leeway ${LEEWAY_S}s)`);
  }

  private async keyFor(kid: unknown, alg: string, what: string): Promise<KeyObject> {
    if (kid !== undefined && typeof kid !== 'string') throw invalid(`${what} header kid must be a string`);
    const now = this.d.clock.now();
    if (now - this.jwks.fetchedAt > MAX_AGE_MS && this.jwks.fetchedAt > -Infinity) this.warm();
    const hit = await this.jwks.find((keys) => lookup(keys, kid));
    if (!hit) {
      if (this.jwks.keys.size === 0 && this.jwks.lastError) {
        throw new OAuthError('temporarily_unavailable', `cannot fetch the signing keys of issuer ${this.issuer}: ${this.jwks.lastError}`);
      }
      if (kid === undefined) throw invalid(`${what} has no kid and issuer ${this.issuer} publishes ${this.jwks.keys.size} keys`);
      throw invalid(`${what} is signed with unknown key kid "${clip(kid as string, 64)}" (not in the JWKS of issuer ${this.issuer})`);
    }
    if (hit.alg !== undefined && hit.alg !== alg) throw invalid(`${what} alg ${alg} does not match alg ${hit.alg} of key ${String(kid)} of issuer ${this.issuer}`);
    return hit.key;
  }

  private async fetchJwks(): Promise<{ uri: string; doc: unknown }> {
    if (!this.jwksUri) {
      const conf = await fetchJson(`${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS }) as Record<string, unknown>;
      // OpenID Connect Discovery 4.3: the document must name exactly this issuer.
      if (conf?.issuer !== this.issuer) throw new Error(`its OpenID configuration names issuer ${clip(JSON.stringify(conf?.issuer), 100)}`);
      if (typeof conf.jwks_uri !== 'string') throw new Error('its OpenID configuration has no jwks_uri');
      this.jwksUri = conf.jwks_uri;
    }
    return { uri: this.jwksUri, doc: await fetchJson(this.jwksUri, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS }) };
  }
}

export class TrustedIssuers {
  private readonly byIssuer = new Map<string, TrustedIssuer>();
  private readonly verified = new VerifiedTokens();

  constructor(cfgs: TrustedIssuerConfig[], d: { clock: Clock; logger: Logger }) {
    for (const c of cfgs) {
      if (this.byIssuer.has(c.issuer)) throw new ConfigError(`config: oauth.trusted_issuers: issuer ${c.issuer} is listed twice`);
      this.byIssuer.set(c.issuer, new TrustedIssuer(c, { ...d, verified: this.verified }));
    }
  }

  /** The result of verifying `token` when one of the issuers did so lately and it still holds at `now`. */
  remembered(token: string, now: number): ExternalSubject | undefined {
    return this.verified.get(VerifiedTokens.hash(token), now);
  }

  get(issuer: string): TrustedIssuer | undefined { return this.byIssuer.get(issuer); }
  issuers(): string[] { return [...this.byIssuer.keys()]; }
  warm(): void { for (const i of this.byIssuer.values()) i.warm(); }
}

const invalid = (m: string) => new OAuthError('invalid_request', m);
const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));
