import { AttestationError } from '../../../common/errors.ts';
import type { NodeAttestorDeps } from '../types.ts';
import { describeFailure, fetchText } from '../cloud/http.ts';
import { RemoteKeySet } from '../cloud/remote-keys.ts';
import { remoteKeySetOptions } from '../cloud/config-fields.ts';
import type { AzureMsiServerConfig } from './config.ts';

export interface TenantTrust { issuer: string; keys: RemoteKeySet }

/**
 * Per-tenant OpenID discovery (issuer + jwks_uri), cached for keys_max_age. Only
 * tenants the operator configured are ever looked up, so the cache is bounded.
 */
export class TenantDiscovery {
  private readonly cache = new Map<string, { at: number; trust: TenantTrust }>();

  constructor(private readonly config: AzureMsiServerConfig, private readonly deps: NodeAttestorDeps, private readonly prefix: string) {}

  async get(tenant: string, signal?: AbortSignal): Promise<TenantTrust> {
    const now = this.deps.clock.now();
    const hit = this.cache.get(tenant);
    if (hit && now - hit.at < this.config.keys_max_age * 1000) return hit.trust;
    const url = this.config.discovery_url.replaceAll('{tenant}', encodeURIComponent(tenant));
    const unavailable = (why: string, cause?: unknown) => new AttestationError('unavailable', `${this.prefix}_DISCOVERY_UNAVAILABLE`,
      `azure_msi: OpenID discovery for tenant ${tenant} at ${url}: ${why}`, { cause });
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      doc = JSON.parse(await fetchText(url, { headers: { accept: 'application/json' } }, this.config.fetch_timeout * 1000, signal));
    } catch (e) {
      if (hit) {
        this.deps.logger.warn('azure_msi discovery refresh failed; keeping cached', { tenant, reason: describeFailure(e) });
        return hit.trust;
      }
      throw unavailable(describeFailure(e, this.config.fetch_timeout * 1000), e);
    }
    if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) {
      throw unavailable('document lacks issuer or jwks_uri');
    }
    // The multi-tenant documents spell the issuer with a {tenantid} placeholder.
    const issuer = doc.issuer.replaceAll('{tenantid}', tenant);
    const keys = hit && hit.trust.keys.url === doc.jwks_uri ? hit.trust.keys : new RemoteKeySet(doc.jwks_uri, remoteKeySetOptions(this.config, this.deps, this.prefix));
    const trust = { issuer, keys };
    this.cache.set(tenant, { at: now, trust });
    return trust;
  }
}
