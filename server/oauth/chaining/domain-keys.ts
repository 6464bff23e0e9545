import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../../common/clock.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { X509BundleSource } from '../../../spiffe/bundle/x509bundle.ts';
import { serverId, TrustDomain } from '../../../spiffe/id.ts';
import { fetchBundleDocument } from '../../federation/endpoint-client.ts';
import type { TrustedDomainConfig } from '../config.ts';
import { fetchJson } from '../fetch-json.ts';

/**
 * The signing keys of one trusted home authorization server (oauth.chaining.trusted_domains):
 * its JWKS (default <issuer>/oauth2/jwks), held in memory, fetched at start and again
 * only for an unknown kid, at most once per REFETCH_MIN_INTERVAL_MS (made-up kids must
 * not turn us into a request amplifier).
 *
 * With spiffe_trust_domain the JWKS is fetched over TLS authenticated as that domain's
 * server SVID (spiffe://<td>/tessera/server) against its federated bundle: the OAuth
 * signing keys are never the JWT-SVID keys (server/oauth/keys.ts), so the federation
 * bundle is the trust anchor of the fetch, not the key set itself.
 */
const REFETCH_MIN_INTERVAL_MS = 10_000;
const EMPTY_REFETCH_INTERVAL_MS = 1_000;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 1 << 20;

export interface DomainKey { key: KeyObject; alg?: string }

export class TrustedDomain {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly spiffeTrustDomain: TrustDomain | undefined;
  private readonly ca: string | undefined;
  private keys = new Map<string, DomainKey>();
  private attemptedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  lastError: string | undefined;

  constructor(cfg: TrustedDomainConfig, private readonly d: { clock: Clock; logger: Logger; bundles: X509BundleSource }) {
    this.issuer = cfg.issuer;
    this.jwksUri = cfg.jwks_uri ?? `${cfg.issuer.replace(/\/+$/, '')}/oauth2/jwks`;
    const where = `config: oauth.chaining.trusted_domains: ${cfg.issuer}`;
    if (cfg.spiffe_trust_domain !== undefined && cfg.ca_file !== undefined) {
      throw new ConfigError(`${where}: give spiffe_trust_domain (TLS by the federated bundle) or ca_file, not both`);
    }
    try { this.spiffeTrustDomain = cfg.spiffe_trust_domain ? TrustDomain.parse(cfg.spiffe_trust_domain) : undefined; } catch (e) {
      throw new ConfigError(`${where}: spiffe_trust_domain ${cfg.spiffe_trust_domain}: ${(e as Error).message}`);
    }
    try { this.ca = cfg.ca_file ? readFileSync(cfg.ca_file, 'utf8') : undefined; } catch (e) {
      throw new ConfigError(`${where}: cannot read ca_file ${cfg.ca_file}: ${(e as Error).message}`);
    }
  }

  warm(): void { void this.refresh().catch(() => undefined); }

  /** The federated bundle of its trust domain changed: a fetch that failed for want of it may now succeed. */
  bundleChanged(): void {
    // After any fetch under way (it may have started before the bundle arrived and be about to fail).
    void (this.inflight ?? Promise.resolve()).catch(() => undefined).then(() => { if (this.keys.size === 0) this.warm(); });
  }

  /** The key `kid` names, fetching the JWKS again when it is unknown (rate-limited); undefined when there is none. */
  async keyFor(kid: string): Promise<DomainKey | undefined> {
    if (this.inflight) await this.inflight.catch(() => undefined);
    let hit = this.keys.get(kid);
    // With no keys at all (the start-up fetch failed, e.g. before the federated bundle arrived) retry sooner.
    const interval = this.keys.size === 0 ? EMPTY_REFETCH_INTERVAL_MS : REFETCH_MIN_INTERVAL_MS;
    if (!hit && this.d.clock.now() - this.attemptedAt >= interval) {
      await this.refresh().catch(() => undefined);
      hit = this.keys.get(kid);
    }
    return hit;
  }

  get keyCount(): number { return this.keys.size; }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.d.clock.now();
    try {
      const doc = await this.fetch() as { keys?: unknown };
      if (!Array.isArray(doc?.keys)) throw new Error(`${this.jwksUri} is not a JWKS (no keys list)`);
      const keys = new Map<string, DomainKey>();
      for (const jwk of doc.keys as (JsonWebKey & { kid?: unknown; use?: string; alg?: unknown })[]) {
        if (typeof jwk !== 'object' || jwk === null || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
        try {
          keys.set(jwk.kid, { key: createPublicKey({ key: jwk, format: 'jwk' }), ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}) });
        } catch { /* a key we cannot use verifies nothing */ }
      }
      this.keys = keys;
      this.lastError = undefined;
      this.d.logger.info('chaining: trusted domain keys fetched', { issuer: this.issuer, jwks_uri: this.jwksUri, kids: [...keys.keys()] });
    } catch (e) {
      this.lastError = (e as Error).message;
      this.d.logger.warn('chaining: trusted domain keys fetch failed', { issuer: this.issuer, jwks_uri: this.jwksUri, reason: this.lastError });
      throw e;
    }
  }

  private async fetch(): Promise<unknown> {
    if (!this.spiffeTrustDomain) return fetchJson(this.jwksUri, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS });
    const { body } = await fetchBundleDocument(
      { url: this.jwksUri, profile: 'https_spiffe', endpointSpiffeId: serverId(this.spiffeTrustDomain) },
      { bundles: this.d.bundles, maxBytes: MAX_JWKS_BYTES, timeoutMs: FETCH_TIMEOUT_MS, now: () => new Date(this.d.clock.now()) },
    );
    try { return JSON.parse(body.toString('utf8')); } catch { throw new Error(`${this.jwksUri} did not answer JSON`); }
  }
}
