import { z } from 'zod';
import { c } from '../../common/config.ts';

/**
 * The `federation` and `oidc_discovery` sections of the server config (docs/federation.md,
 * docs/oidc-discovery.md), after SPIRE's `federation { bundle_endpoint, federates_with }`
 * and its OIDC Discovery Provider. Both absent = off. server/config.ts embeds them.
 */
const LISTEN = /^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/;
const listen = (def: string) => c.string({ default: def, pattern: LISTEN, format: 'host:port (port 0 picks a free one)' });
const HTTPS_URL = /^https:\/\/[^\s/?#@]+(\/[^\s#]*)?$/;

const certFiles = () => c.object({
  cert_file: c.string({ nonEmpty: true }).describe('PEM certificate (chain) issued by a public CA for the host name clients use'),
  key_file: c.string({ nonEmpty: true }).describe('its PEM private key'),
});

const bundleEndpoint = c.object({
  listen: listen('0.0.0.0:8443').describe('address of the bundle endpoint; the bound address is written to <data_dir>/bundle-endpoint.addr'),
  profile: c.enum(['https_spiffe', 'https_web'], { default: 'https_spiffe' })
    .describe('https_spiffe: TLS with the server SVID (spiffe://<trust_domain>/tessera/server); https_web: the WebPKI certificate below'),
  path: c.string({ default: '/', pattern: /^\/[^\s?#]*$/, format: 'an absolute URL path' }).describe('URL path the bundle is served at'),
  https_web: certFiles().optional().describe('required with profile https_web; re-read when the files change'),
}).superRefine((v, ctx) => {
  if (v.profile === 'https_web' && !v.https_web) ctx.addIssue({ code: 'custom', path: ['https_web'], message: 'is required when profile is https_web' });
  if (v.profile === 'https_spiffe' && v.https_web) ctx.addIssue({ code: 'custom', path: ['https_web'], message: 'is only used with profile https_web' });
});

const federatesWith = c.object({
  trust_domain: c.string({ nonEmpty: true }).describe('the foreign trust domain, e.g. b.example (never inferred from the URL)'),
  bundle_endpoint_url: c.string({ pattern: HTTPS_URL, format: 'an https URL without userinfo' }).describe('its SPIFFE bundle endpoint'),
  bundle_endpoint_profile: c.enum(['https_web', 'https_spiffe']).describe('how the endpoint is authenticated'),
  endpoint_spiffe_id: c.string({ pattern: /^spiffe:\/\/\S+$/, format: 'a SPIFFE ID' }).optional()
    .describe('https_spiffe: the SPIFFE ID the endpoint presents (a Tessera server: spiffe://<td>/tessera/server)'),
  bootstrap_bundle_file: c.string({ nonEmpty: true }).optional()
    .describe('https_spiffe: the endpoint trust domain\'s bundle for the first fetch (PEM or SPIFFE bundle); stored only when none is stored yet'),
});

export const federationConfigSchema = c.object({
  bundle_endpoint: bundleEndpoint.optional().describe('serve this trust domain\'s bundle to other trust domains; off when absent'),
  federates_with: c.array(federatesWith, { default: [] }).describe('relationships fetched from their bundle endpoints (more can be added with `tessera-server federation create`)'),
  retry_initial: c.duration({ default: 1, min: 0.01, max: 300 }).describe('first retry after a failed fetch; doubles up to the refresh hint'),
  min_refresh: c.duration({ default: 1, min: 0.01, max: 3600 }).describe('a foreign spiffe_refresh_hint below this is raised to it'),
  max_refresh: c.duration({ default: 86400, min: 1 }).describe('a foreign spiffe_refresh_hint above this is lowered to it'),
  max_bundle_bytes: c.number({ default: 262144, min: 1024, max: 16 * 1048576, integer: true }).describe('larger bundle documents are refused'),
  fetch_timeout: c.duration({ default: 10, min: 0.1, max: 300 }).describe('deadline of one bundle fetch'),
}).superRefine((v, ctx) => {
  const seen = new Set<string>();
  v.federates_with.forEach((f, i) => {
    const name = f.trust_domain.toLowerCase();
    if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['federates_with', i, 'trust_domain'], message: `"${f.trust_domain}" is listed twice` });
    seen.add(name);
  });
}).optional();

export const oidcDiscoveryConfigSchema = c.object({
  issuer: c.string({ pattern: /^https:\/\/[^\s/?#@]+(\/[^\s?#]*[^\s?#/])?$/, format: 'an https URL without query, fragment or trailing slash' })
    .describe('the issuer relying parties configure; discovery at <issuer>/.well-known/openid-configuration, keys at <issuer>/keys; JWT-SVIDs then carry it as iss'),
  listen: listen('0.0.0.0:8444').describe('address of the discovery listener; the bound address is written to <data_dir>/oidc-discovery.addr'),
  tls: certFiles().optional().describe('WebPKI certificate for the issuer\'s host (re-read when the files change); absent: plain HTTP, only behind a TLS-terminating proxy'),
  cache_max_age: c.duration({ default: 300, min: 0, max: 86400 }).describe('Cache-Control max-age of both documents (keep it well below the CA\'s prepare-to-activate lead)'),
}).optional();

export type FederationConfig = NonNullable<z.output<typeof federationConfigSchema>>;
export type BundleEndpointConfig = NonNullable<FederationConfig['bundle_endpoint']>;
export type FederatesWithConfig = FederationConfig['federates_with'][number];
export type OidcDiscoveryConfig = NonNullable<z.output<typeof oidcDiscoveryConfigSchema>>;
