import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { TrustDomain } from '../../spiffe/id.ts';
import { failedPrecondition, invalidArgument } from '../../common/errors.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import { pemToDer } from '../../spiffe/pem.ts';

/**
 * The agent's view of its own trust domain's bundle, as the server sends it
 * (tessera.v1.Bundle): X.509 authorities for TLS and SVID validation, JWT keys for
 * ValidateJWTSVID and FetchJWTBundles. Persisted as JSON in the data dir.
 */
export interface JwtAuthorityKey { kid: string; /** SPKI DER */ publicKey: Uint8Array; expiresAt: number }

export interface TrustBundle {
  trustDomain: TrustDomain;
  x509Authorities: Uint8Array[];
  jwtAuthorities: JwtAuthorityKey[];
  sequence: number;
  refreshHint: number;
}

export function bundleFromWire(b: Bundle__Output, expected: TrustDomain): TrustBundle {
  const td = TrustDomain.parse(b.trust_domain || expected.name);
  if (!td.equals(expected)) {
    throw failedPrecondition('ERR_BUNDLE_TRUST_DOMAIN', `server sent a bundle for trust domain "${td.name}", the agent is configured for "${expected.name}"`);
  }
  if (b.x509_authorities.length === 0) throw invalidArgument('ERR_BUNDLE_EMPTY', 'server sent a bundle without X.509 authorities');
  return {
    trustDomain: td,
    x509Authorities: b.x509_authorities.map((d) => new Uint8Array(d)),
    jwtAuthorities: b.jwt_authorities.map((k) => ({ kid: k.key_id, publicKey: new Uint8Array(k.public_key), expiresAt: k.expires_at })),
    sequence: b.sequence,
    refreshHint: b.refresh_hint,
  };
}

interface BundleJson {
  trust_domain: string;
  x509_authorities: string[];
  jwt_authorities: { kid: string; public_key: string; expires_at: number }[];
  sequence: number;
  refresh_hint: number;
}

export function bundleToJson(b: TrustBundle): string {
  const j: BundleJson = {
    trust_domain: b.trustDomain.name,
    x509_authorities: b.x509Authorities.map((d) => Buffer.from(d).toString('base64')),
    jwt_authorities: b.jwtAuthorities.map((k) => ({ kid: k.kid, public_key: Buffer.from(k.publicKey).toString('base64'), expires_at: k.expiresAt })),
    sequence: b.sequence,
    refresh_hint: b.refreshHint,
  };
  return JSON.stringify(j, null, 2) + '\n';
}

export function bundleFromJson(text: string): TrustBundle {
  const j = JSON.parse(text) as BundleJson;
  return {
    trustDomain: TrustDomain.parse(j.trust_domain),
    x509Authorities: j.x509_authorities.map((s) => new Uint8Array(Buffer.from(s, 'base64'))),
    jwtAuthorities: j.jwt_authorities.map((k) => ({ kid: k.kid, publicKey: new Uint8Array(Buffer.from(k.public_key, 'base64')), expiresAt: k.expires_at })),
    sequence: j.sequence,
    refreshHint: j.refresh_hint,
  };
}

/**
 * The operator-provided bootstrap bundle: PEM CA certificates, or a SPIFFE bundle
 * (JWKS, the `x509-svid` keys' x5c). Only X.509 authorities matter at first contact;
 * the server's full bundle arrives with attestation.
 */
export function loadBundleFile(path: string, td: TrustDomain): TrustBundle {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw invalidArgument('ERR_TRUST_BUNDLE_READ', `cannot read trust bundle ${path}: ${(e as Error).message}`);
  }
  let certs: Uint8Array[];
  if (text.trimStart().startsWith('{')) {
    let jwks: { keys?: { use?: string; x5c?: string[] }[] };
    try { jwks = JSON.parse(text); } catch (e) { throw invalidArgument('ERR_TRUST_BUNDLE_INVALID', `trust bundle ${path} is neither PEM nor valid JSON: ${(e as Error).message}`); }
    certs = (jwks.keys ?? []).filter((k) => k.use === 'x509-svid' && Array.isArray(k.x5c) && k.x5c.length === 1)
      .map((k) => new Uint8Array(Buffer.from(k.x5c![0]!, 'base64')));
  } else {
    certs = pemToDer(text);
  }
  if (certs.length === 0) throw invalidArgument('ERR_TRUST_BUNDLE_INVALID', `trust bundle ${path} holds no CA certificates`);
  for (const c of certs) {
    let x: X509Certificate;
    try { x = new X509Certificate(c); } catch (e) { throw invalidArgument('ERR_TRUST_BUNDLE_INVALID', `trust bundle ${path} holds a certificate that does not parse: ${(e as Error).message}`); }
    if (!x.ca) throw invalidArgument('ERR_TRUST_BUNDLE_INVALID', `trust bundle ${path}: certificate "${x.subject}" is not a CA`);
  }
  return { trustDomain: td, x509Authorities: certs, jwtAuthorities: [], sequence: 0, refreshHint: 0 };
}
