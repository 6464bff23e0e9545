import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { AGENT_CLAIM_KEYS } from '../../spiffe/agent-claims.ts';
import type { CaManager } from '../ca/manager.ts';
import type { JwtAuthority } from '../datastore/types.ts';
import type { OidcDiscoveryConfig } from './config.ts';
import { PublicListener, type JsonRoute } from './public-listener.ts';
import { readCertFiles, watchCertFiles } from './web-cert.ts';

/**
 * OpenID Connect discovery for JWT-SVIDs (docs/oidc-discovery.md), so a relying party
 * with no SPIFFE code (AWS IAM, GCP workload identity federation, Vault's JWT auth,
 * jose/openid-client) validates them: <issuer>/.well-known/openid-configuration names
 * <issuer>/keys, a JWKS of exactly the JWT-SVID signing keys of the trust domain (every
 * server's, from the shared bundle; never X.509 authorities, never the OAuth server's
 * keys). The CA manager's schedule is what makes this safe for a caching relying party:
 * a key enters the bundle when its slot is prepared (well before it signs anything)
 * and leaves it only after the slot's lifetime, which bounds every token it signed.
 *
 * Its own listener, not the OAuth listener: that one has its own issuer and its own
 * /.well-known/openid-configuration (MCP authorization, other keys), and presents the
 * server SVID by default, which no public relying party can verify. This one presents
 * a WebPKI certificate for the issuer's host and asks for no client certificate.
 * Writes <data_dir>/oidc-discovery.addr ("host:port").
 */
export const OIDC_DISCOVERY_ADDRESS_FILE = 'oidc-discovery.addr';

/** The JWT-SVID keys in force, deduplicated by kid: the shared bundle's and our own (the store may lag). */
function signingKeys(ca: Pick<CaManager, 'bundle' | 'jwtAuthorities'>, now: number): JwtAuthority[] {
  const out = new Map<string, JwtAuthority>();
  for (const k of [...ca.bundle().jwtAuthorities, ...ca.jwtAuthorities()]) {
    if (out.has(k.kid) || (k.expiresAt !== 0 && k.expiresAt * 1000 <= now)) continue;
    out.set(k.kid, k);
  }
  return [...out.values()];
}

/** RFC 7517 JWK with RFC 7518 alg, as relying parties expect (SPIFFE bundles carry no alg). */
function toJwk(k: JwtAuthority): (JsonWebKey & { kid: string; alg: string; use: string }) | undefined {
  let jwk: JsonWebKey;
  try { jwk = createPublicKey({ key: Buffer.from(k.publicKey), format: 'der', type: 'spki' }).export({ format: 'jwk' }); } catch { return undefined; }
  const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!alg) return undefined;
  const pub: JsonWebKey = { kty: jwk.kty };
  for (const p of ['crv', 'x', 'y', 'n', 'e'] as const) if (jwk[p] !== undefined) pub[p] = jwk[p];
  return { ...pub, kid: k.kid, alg, use: 'sig' };
}

export function oidcDiscoveryRoutes(o: { issuer: string; ca: Pick<CaManager, 'bundle' | 'jwtAuthorities'>; clock: Clock; maxAgeSeconds: number }): JsonRoute[] {
  const base = new URL(o.issuer).pathname.replace(/\/$/, '');
  const jwksUri = `${o.issuer}/keys`;
  const configuration = {
    issuer: o.issuer,
    jwks_uri: jwksUri,
    // There is no authorization endpoint: JWT-SVIDs come from the Workload API.
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256', 'ES384', 'RS256'],
    claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', ...AGENT_CLAIM_KEYS],
  };
  return [
    { path: `${base}/.well-known/openid-configuration`, document: () => ({ json: configuration, maxAgeSeconds: o.maxAgeSeconds }) },
    {
      path: `${base}/keys`,
      document: () => ({ json: { keys: signingKeys(o.ca, o.clock.now()).flatMap((k) => toJwk(k) ?? []) }, maxAgeSeconds: o.maxAgeSeconds }),
    },
  ];
}

export async function startOidcDiscovery(o: {
  cfg: OidcDiscoveryConfig; ca: CaManager; clock: Clock; logger: Logger; dataDir: string; signal: AbortSignal;
}): Promise<{ address: string; issuer: string; close(): Promise<void> }> {
  const logger = o.logger.child({ component: 'oidc-discovery' });
  const what = 'oidc_discovery.tls';
  const tls = o.cfg.tls ? readCertFiles(o.cfg.tls, what) : undefined;
  const listener = await PublicListener.start({
    listen: o.cfg.listen, what: 'oidc_discovery.listen', tls, logger, addressFile: join(o.dataDir, OIDC_DISCOVERY_ADDRESS_FILE),
    routes: oidcDiscoveryRoutes({ issuer: o.cfg.issuer, ca: o.ca, clock: o.clock, maxAgeSeconds: o.cfg.cache_max_age }),
  });
  if (o.cfg.tls) void watchCertFiles(o.cfg.tls, what, { clock: o.clock, logger, signal: o.signal, onChange: (p) => listener.setTls(p) });
  else logger.warn('oidc_discovery serves plain HTTP (no oidc_discovery.tls): only behind a TLS-terminating proxy for the issuer');
  logger.info('oidc discovery started', { address: listener.address, issuer: o.cfg.issuer, tls: tls !== undefined });
  return { address: listener.address, issuer: o.cfg.issuer, close: () => listener.close() };
}
