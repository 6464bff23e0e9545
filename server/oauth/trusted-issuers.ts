import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { DelegationSubject } from '../delegation/types.ts';
import type { TrustedIssuerConfig } from './config.ts';
import { OAuthError } from './errors.ts';
import { fetchJson } from './fetch-json.ts';
import { clip } from './http.ts';

/**
 * External OpenID Providers whose tokens are subject tokens (docs/delegation.md (a)).
 * Per issuer: the jwks_uri from its OpenID configuration (or the configured override),
 * the key set cached in memory, fetched at start and again only when a token names an
 * unknown kid, at most once per 30 s (a stream of made-up kids must not turn us into
 * a request amplifier), and in the background when the cache is a day old.
 */
export const ALLOWED_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] as const;
const REFETCH_MIN_INTERVAL_MS = 30_000;
const MAX_AGE_MS = 86_400_000;
const FETCH_TIMEOUT_MS = 5_000;
const LEEWAY_S = 60;

export interface ExternalSubject extends DelegationSubject {
  exp: number;
  claims: JWTPayload;
}

interface CachedKey { key: KeyObject; alg?: string }

export class TrustedIssuer {
  private keys = new Map<string, CachedKey>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private lastError: string | undefined;
  private inflight: Promise<void> | undefined;
  private jwksUri: string | undefined;
  private readonly ca: string | undefined;
  readonly issuer: string;

  constructor(private readonly cfg: TrustedIssuerConfig, private readonly d: { clock: Clock; logger: Logger }) {
    this.issuer = cfg.issuer;
    this.jwksUri = cfg.jwks_uri;
    try { this.ca = cfg.ca_file ? readFileSync(cfg.ca_file, 'utf8') : undefined; } catch (e) {
      throw new ConfigError(`config: oauth.trusted_issuers: ${cfg.issuer}: cannot read ca_file ${cfg.ca_file}: ${(e as Error).message}`);
    }
  }

  /** Starts the first key fetch without waiting for it (server start must not hang on an IdP). */
  warm(): void { void this.refresh().catch(() => undefined); }

  /** Verifies an IdP token whose (unverified) `iss` is this issuer; OAuthError invalid_request otherwise. */
  async verify(token: string, header: Record<string, unknown>, now: number, what = 'subject_token'): Promise<ExternalSubject> {
    const alg = header.alg;
    if (typeof alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(alg)) {
      const why = alg === 'none' ? 'alg none is not allowed (unsigned token)'
        : typeof alg === 'string' && /^HS/i.test(alg) ? `symmetric alg ${alg} is not allowed`
          : `alg ${clip(JSON.stringify(alg), 32)} is not allowed`;
      throw invalid(`${what} ${why}; allowed: ${ALLOWED_ALGS.join(', ')}`);
    }
    const key = await this.keyFor(header.kid, alg, what);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        issuer: this.issuer, audience: this.cfg.audience, algorithms: [alg], clockTolerance: LEEWAY_S,
        currentDate: new Date(now * 1000), requiredClaims: ['exp'],
      }));
    } catch (e) { throw this.mapJoseError(e, token, header, now, what); }
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
    return { issuer: this.issuer, name, groups, exp: payload.exp!, claims: payload };
  }

  private async keyFor(kid: unknown, alg: string, what: string): Promise<KeyObject> {
    if (kid !== undefined && typeof kid !== 'string') throw invalid(`${what} header kid must be a string`);
    const now = this.d.clock.now();
    if (now - this.fetchedAt > MAX_AGE_MS && this.fetchedAt > -Infinity) this.warm();
    // A fetch under way (the start-up one, or another request's) is waited for, not repeated.
    if (this.inflight) await this.inflight.catch(() => undefined);
    let hit = this.lookup(kid);
    if (!hit && now - this.attemptedAt >= REFETCH_MIN_INTERVAL_MS) {
      await this.refresh().catch(() => undefined);
      hit = this.lookup(kid);
    }
    if (!hit) {
      if (this.keys.size === 0 && this.lastError) {
        throw new OAuthError('temporarily_unavailable', `cannot fetch the signing keys of issuer ${this.issuer}: ${this.lastError}`);
      }
      if (kid === undefined) throw invalid(`${what} has no kid and issuer ${this.issuer} publishes ${this.keys.size} keys`);
      throw invalid(`${what} is signed with unknown key kid "${clip(kid as string, 64)}" (not in the JWKS of issuer ${this.issuer})`);
    }
    if (hit.alg !== undefined && hit.alg !== alg) throw invalid(`${what} alg ${alg} does not match alg ${hit.alg} of key ${String(kid)} of issuer ${this.issuer}`);
    return hit.key;
  }

  private lookup(kid: unknown): CachedKey | undefined {
    if (typeof kid === 'string') return this.keys.get(kid);
    return this.keys.size === 1 ? [...this.keys.values()][0] : undefined;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.d.clock.now();
    try {
      if (!this.jwksUri) {
        const conf = await fetchJson(`${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS }) as Record<string, unknown>;
        // OpenID Connect Discovery 4.3: the document must name exactly this issuer.
        if (conf?.issuer !== this.issuer) throw new Error(`its OpenID configuration names issuer ${clip(JSON.stringify(conf?.issuer), 100)}`);
        if (typeof conf.jwks_uri !== 'string') throw new Error('its OpenID configuration has no jwks_uri');
        this.jwksUri = conf.jwks_uri;
      }
      const doc = await fetchJson(this.jwksUri, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS }) as { keys?: unknown };
      if (!Array.isArray(doc?.keys)) throw new Error(`${this.jwksUri} is not a JWKS (no keys list)`);
      const keys = new Map<string, CachedKey>();
      let anonymous = 0;
      for (const jwk of doc.keys as (JsonWebKey & { kid?: string; use?: string; alg?: string })[]) {
        if (typeof jwk !== 'object' || jwk === null || (jwk.use !== undefined && jwk.use !== 'sig') || !['EC', 'RSA', 'OKP'].includes(String(jwk.kty))) continue;
        try {
          const key = createPublicKey({ key: jwk, format: 'jwk' });
          keys.set(typeof jwk.kid === 'string' ? jwk.kid : `#${anonymous++}`, { key, alg: typeof jwk.alg === 'string' ? jwk.alg : undefined });
        } catch { /* a key we cannot use verifies nothing */ }
      }
      this.keys = keys;
      this.fetchedAt = this.d.clock.now();
      this.lastError = undefined;
      this.d.logger.info('trusted issuer keys fetched', { issuer: this.issuer, jwks_uri: this.jwksUri, kids: [...keys.keys()] });
    } catch (e) {
      this.lastError = (e as Error).message;
      this.d.logger.warn('trusted issuer keys fetch failed', { issuer: this.issuer, reason: this.lastError });
      throw e;
    }
  }

  private mapJoseError(e: unknown, _token: string, header: Record<string, unknown>, now: number, what: string): OAuthError {
    if (e instanceof errors.JWTExpired) {
      return invalid(`${what} expired at ${iso(Number(e.payload.exp))} (now ${iso(now)}, leeway ${LEEWAY_S}s)`);
    }
    if (e instanceof errors.JWTClaimValidationFailed) {
      if (e.claim === 'nbf') return invalid(`${what} is not valid before ${iso(Number(e.payload.nbf))} (now ${iso(now)}, leeway ${LEEWAY_S}s)`);
      if (e.claim === 'aud') {
        return invalid(`${what} aud ${clip(JSON.stringify(e.payload.aud ?? null), 200)} does not contain ${this.cfg.audience.join(' or ')} (the audience configured for issuer ${this.issuer})`);
      }
      if (e.claim === 'iss') return invalid(`${what} iss ${clip(JSON.stringify(e.payload.iss), 200)} is not ${this.issuer}`);
      return invalid(`${what} claim ${e.claim} is invalid: ${e.reason}`);
    }
    if (e instanceof errors.JWSSignatureVerificationFailed) {
      return invalid(`${what} signature does not verify with key ${String(header.kid ?? '(no kid)')} of issuer ${this.issuer} (forged or altered)`);
    }
    if (e instanceof TypeError || e instanceof errors.JOSENotSupported || e instanceof errors.JOSEAlgNotAllowed) {
      return invalid(`${what}: key ${String(header.kid ?? '(no kid)')} of issuer ${this.issuer} cannot verify alg ${String(header.alg)}`);
    }
    if (e instanceof errors.JOSEError) return invalid(`${what} is malformed: ${e.message}`);
    return new OAuthError('server_error', 'internal error', { cause: e });
  }
}

export class TrustedIssuers {
  private readonly byIssuer = new Map<string, TrustedIssuer>();

  constructor(cfgs: TrustedIssuerConfig[], d: { clock: Clock; logger: Logger }) {
    for (const c of cfgs) {
      if (this.byIssuer.has(c.issuer)) throw new ConfigError(`config: oauth.trusted_issuers: issuer ${c.issuer} is listed twice`);
      this.byIssuer.set(c.issuer, new TrustedIssuer(c, d));
    }
  }

  get(issuer: string): TrustedIssuer | undefined { return this.byIssuer.get(issuer); }
  issuers(): string[] { return [...this.byIssuer.keys()]; }
  warm(): void { for (const i of this.byIssuer.values()) i.warm(); }
}

const invalid = (m: string) => new OAuthError('invalid_request', m);
const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));
