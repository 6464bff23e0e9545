import { readFileSync } from 'node:fs';
import type { Clock } from '../../../common/clock.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/logger.ts';
import type { X509BundleSource } from '../../../spiffe/bundle/x509bundle.ts';
import { serverId, TrustDomain } from '../../../spiffe/id.ts';
import { fetchBundleDocument } from '../../federation/endpoint-client.ts';
import type { TrustedDomainConfig } from '../config.ts';
import { fetchJson } from '../fetch-json.ts';
import { JwksCache, type JwksKey } from '../jwks-cache.ts';

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

export type DomainKey = JwksKey;

export class TrustedDomain {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly spiffeTrustDomain: TrustDomain | undefined;
  private readonly ca: string | undefined;
  private readonly jwks: JwksCache;

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
    this.jwks = new JwksCache({
      clock: d.clock, fetch: async () => ({ uri: this.jwksUri, doc: await this.fetch() }),
      // With no keys at all (the start-up fetch failed, e.g. before the federated bundle arrived) retry sooner.
      refetchMs: REFETCH_MIN_INTERVAL_MS, emptyRefetchMs: EMPTY_REFETCH_INTERVAL_MS, unnamed: 'skip',
      loaded: (uri, kids) => d.logger.info('chaining: trusted domain keys fetched', { issuer: this.issuer, jwks_uri: uri, kids }),
      failed: (reason) => d.logger.warn('chaining: trusted domain keys fetch failed', { issuer: this.issuer, jwks_uri: this.jwksUri, reason }),
    });
  }

  warm(): void { this.jwks.warm(); }

  /** The federated bundle of its trust domain changed: a fetch that failed for want of it may now succeed. */
  bundleChanged(): void {
    // After any fetch under way (it may have started before the bundle arrived and be about to fail).
    void this.jwks.settled().then(() => { if (this.jwks.keys.size === 0) this.warm(); });
  }

  /** The key `kid` names, fetching the JWKS again when it is unknown (rate-limited); undefined when there is none. */
  keyFor(kid: string): Promise<DomainKey | undefined> { return this.jwks.find((keys) => keys.get(kid)); }

  get keyCount(): number { return this.jwks.keys.size; }
  get lastError(): string | undefined { return this.jwks.lastError; }

  private async fetch(): Promise<unknown> {
    if (!this.spiffeTrustDomain) return fetchJson(this.jwksUri, { ca: this.ca, timeoutMs: FETCH_TIMEOUT_MS });
    const { body } = await fetchBundleDocument(
      { url: this.jwksUri, profile: 'https_spiffe', endpointSpiffeId: serverId(this.spiffeTrustDomain) },
      { bundles: this.d.bundles, maxBytes: MAX_JWKS_BYTES, timeoutMs: FETCH_TIMEOUT_MS, now: () => new Date(this.d.clock.now()) },
    );
    try { return JSON.parse(body.toString('utf8')); } catch { throw new Error(`${this.jwksUri} did not answer JSON`); }
  }
}
