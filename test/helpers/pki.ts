/**
 * Test PKI: CAs, SVIDs, bundles and JWT keys built with the real spiffe/ code,
 * plus `makeCustomCertificate` for certificates outside the SVID profile
 * (negative tests). Everything is in memory; `writePem` puts files in a temp dir.
 */
import { X509Certificate, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { BundleSet } from '../../spiffe/bundle/set.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { JwtSigningKey } from '../../spiffe/jwtsvid/sign.ts';
import { createCaCertificate } from '../../spiffe/x509svid/ca.ts';
import { readCertificate } from '../../spiffe/x509svid/certificate.ts';
import { toCryptoKey, webAlgorithms, x509 } from '../../spiffe/x509svid/peculiar.ts';
import { createLeafIssuer, type LeafParams } from '../../spiffe/x509svid/template.ts';

export type KeyKind = 'P-256' | 'P-384' | 'RSA';

export interface KeyPair { publicKey: KeyObject; privateKey: KeyObject }

export function keyPair(kind: KeyKind = 'P-256'): KeyPair {
  if (kind === 'RSA') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  return generateKeyPairSync('ec', { namedCurve: kind });
}

export interface TestCa extends KeyPair {
  trustDomain: TrustDomain;
  certificate: Uint8Array;
  /** Certificates from this CA up to but excluding the root (empty for a root). */
  chain: Uint8Array[];
  root: Uint8Array;
}

const HOUR = 3_600_000;

export interface CaOptions {
  key?: KeyKind;
  notBefore?: Date;
  notAfter?: Date;
  pathLen?: number;
  commonName?: string;
}

export async function makeRootCa(td: string | TrustDomain = 'example.org', o: CaOptions = {}): Promise<TestCa> {
  const trustDomain = typeof td === 'string' ? TrustDomain.parse(td) : td;
  const keys = keyPair(o.key);
  const now = Date.now();
  const certificate = await createCaCertificate({
    trustDomain, ...keys,
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + 24 * HOUR),
    pathLen: o.pathLen,
    subject: o.commonName ? { organization: 'Tessera', commonName: o.commonName } : undefined,
  });
  return { trustDomain, ...keys, certificate, chain: [], root: certificate };
}

export async function makeIntermediateCa(parent: TestCa, o: CaOptions = {}): Promise<TestCa> {
  const keys = keyPair(o.key);
  const now = Date.now();
  const certificate = await createCaCertificate({
    trustDomain: parent.trustDomain, ...keys,
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + 12 * HOUR),
    pathLen: o.pathLen,
    parent: { certificate: parent.certificate, privateKey: parent.privateKey },
  });
  return { trustDomain: parent.trustDomain, ...keys, certificate, chain: [certificate, ...parent.chain], root: parent.root };
}

export interface TestSvid {
  id: SpiffeId;
  /** Leaf first, then the CA chain up to but excluding the root. */
  certificates: Uint8Array[];
  leaf: Uint8Array;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 DER, as the Workload API sends it. */
  pkcs8: Uint8Array;
}

export interface LeafOptions extends Partial<Omit<LeafParams, 'spiffeId' | 'publicKey'>> {
  key?: KeyKind;
  claims?: AgentClaims;
}

/** A leaf SVID issued by `ca` through the production template issuer. */
export function makeSvid(ca: TestCa, id: string | SpiffeId, o: LeafOptions = {}): TestSvid {
  const spiffeId = typeof id === 'string' ? (id.startsWith('spiffe://') ? SpiffeId.parse(id) : ca.trustDomain.id(...id.split('/').filter(Boolean))) : id;
  const keys = keyPair(o.key);
  const now = Date.now();
  const leaf = createLeafIssuer({ certificate: ca.certificate, privateKey: ca.privateKey, chain: ca.chain })({
    ...o,
    spiffeId,
    publicKey: keys.publicKey,
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + HOUR),
  });
  return {
    id: spiffeId, leaf, certificates: [leaf, ...ca.chain], ...keys,
    pkcs8: new Uint8Array(keys.privateKey.export({ type: 'pkcs8', format: 'der' })),
  };
}

/** A SPIFFE bundle holding the root of each CA (grouped by trust domain), and optional JWT keys. */
export function bundleSetOf(cas: TestCa[], jwtKeys: { td: TrustDomain; key: JwtSigningKey & { publicKey: KeyObject } }[] = []): BundleSet {
  const byTd = new Map<string, { td: TrustDomain; roots: Uint8Array[]; jwt: Map<string, KeyObject> }>();
  const entry = (td: TrustDomain) => {
    let e = byTd.get(td.name);
    if (!e) { e = { td, roots: [], jwt: new Map() }; byTd.set(td.name, e); }
    return e;
  };
  for (const ca of cas) entry(ca.trustDomain).roots.push(ca.root);
  for (const { td, key } of jwtKeys) entry(td).jwt.set(key.kid, key.publicKey);
  return new BundleSet([...byTd.values()].map((e) => new SpiffeBundle(e.td, { x509Authorities: e.roots, jwtAuthorities: e.jwt, sequence: 1 })));
}

export function jwtKey(alg: 'ES256' | 'ES384' | 'RS256' | 'PS256' = 'ES256', kid = `k-${Math.random().toString(36).slice(2, 10)}`): JwtSigningKey & { publicKey: KeyObject } {
  const kind: KeyKind = alg === 'ES256' ? 'P-256' : alg === 'ES384' ? 'P-384' : 'RSA';
  const keys = keyPair(kind);
  return { kid, alg, ...keys };
}

export function toPem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

/** Writes certificates as one PEM file and returns its path. */
export function writePem(dir: string, name: string, ...ders: Uint8Array[]): string {
  const path = join(dir, name);
  writeFileSync(path, ders.map(toPem).join(''));
  return path;
}

export interface CustomCertOptions {
  issuer: { certificate: Uint8Array; privateKey: KeyObject } | 'self';
  keys?: KeyPair;
  uris?: string[];
  dnsNames?: string[];
  /** undefined = no basicConstraints extension. */
  ca?: boolean;
  pathLen?: number;
  /** x509.KeyUsageFlags bits; undefined = no keyUsage extension. */
  keyUsage?: number;
  keyUsageCritical?: boolean;
  extKeyUsage?: string[];
  notBefore?: Date;
  notAfter?: Date;
  subject?: string;
  extraExtensions?: { oid: string; critical: boolean; value: Uint8Array }[];
}

/**
 * A certificate with exactly the listed properties, built by @peculiar/x509
 * (independent of the template issuer): for SVIDs that break a rule on purpose.
 */
export async function makeCustomCertificate(o: CustomCertOptions): Promise<{ certificate: Uint8Array } & KeyPair> {
  const keys = o.keys ?? keyPair();
  const publicKey = await toCryptoKey(keys.publicKey);
  const signer = o.issuer === 'self' ? keys.privateKey : o.issuer.privateKey;
  const exts: x509.Extension[] = [];
  if (o.ca !== undefined) exts.push(new x509.BasicConstraintsExtension(o.ca, o.pathLen, true));
  if (o.keyUsage !== undefined) exts.push(new x509.KeyUsagesExtension(o.keyUsage, o.keyUsageCritical ?? true));
  if (o.extKeyUsage) exts.push(new x509.ExtendedKeyUsageExtension(o.extKeyUsage));
  const names = [...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })), ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value }))];
  if (names.length) exts.push(new x509.SubjectAlternativeNameExtension(names, false));
  exts.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
  for (const e of o.extraExtensions ?? []) exts.push(new x509.Extension(e.oid, e.critical, Uint8Array.from(e.value)));
  const issuerName = o.issuer === 'self' ? (o.subject ?? 'O=Custom') : new x509.X509Certificate(Uint8Array.from(o.issuer.certificate)).subject;
  if (o.issuer !== 'self') {
    const issuerFields = readCertificate(o.issuer.certificate);
    if (issuerFields.subjectKeyId) exts.push(new x509.AuthorityKeyIdentifierExtension(Buffer.from(issuerFields.subjectKeyId).toString('hex')));
  }
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + Math.floor(Math.random() * 1e12).toString(16).padStart(12, '0'),
    subject: o.subject ?? 'O=Custom',
    issuer: o.issuer === 'self' ? issuerName : new x509.Name(Uint8Array.from(readCertificate(o.issuer.certificate).subject)),
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + HOUR),
    publicKey,
    signingKey: await toCryptoKey(signer),
    signingAlgorithm: webAlgorithms(signer).signAlg,
    extensions: exts,
  });
  return { certificate: new Uint8Array(cert.rawData), ...keys };
}

export { x509 };
