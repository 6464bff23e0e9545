import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateKeyPairSync, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';

/**
 * A local OpenID Provider for tests: HTTPS on 127.0.0.1 (its own test CA, written to
 * `caFile` for the server's `ca_file`), an OpenID configuration and a JWKS, and token
 * minting with jose. Enough for subject tokens and their bad variants (expired,
 * forged, alg none, unknown kid, ...); a real login flow is another helper's job.
 *
 *   const idp = await startTestIdp(t, { dir });
 *   const token = await idp.token({ sub: 'alice', groups: ['eng'] });
 */
x509.cryptoProvider.set(webcrypto as never);

export type IdpAlg = 'ES256' | 'RS256' | 'PS256' | 'ES384' | 'EdDSA';

export interface IdpKey { kid: string; alg: IdpAlg; privateKey: KeyObject; publicKey: KeyObject }

export interface TestIdp {
  issuer: string;
  caFile: string;
  caPem: string;
  /** Keys published in the JWKS. */
  keys: IdpKey[];
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** A new key, published in the JWKS (not used for signing unless passed). */
  addKey(alg?: IdpAlg): IdpKey;
  /** A key pair that is NOT published (for forged tokens). */
  unpublishedKey(alg?: IdpAlg, kid?: string): IdpKey;
  /**
   * A token with iss, aud (default "tessera"), iat/nbf now and exp now+300 unless overridden;
   * `key` defaults to the first published key.
   */
  token(claims: JWTPayload, opts?: { key?: IdpKey; header?: Record<string, unknown> }): Promise<string>;
  /** The same claims as an unsigned `alg: none` JWT. */
  unsigned(claims: JWTPayload): string;
  close(): Promise<void>;
}

export function makeIdpKey(alg: IdpAlg = 'ES256', kid = `idp-${randomBytes(6).toString('hex')}`): IdpKey {
  const pair = alg === 'RS256' || alg === 'PS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: alg === 'ES384' ? 'P-384' : 'P-256' });
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function startTestIdp(t: { teardown(fn: () => unknown): void }, o: { dir: string; audience?: string }): Promise<TestIdp> {
  const tls = await makeTlsIdentity();
  const caFile = join(o.dir, 'idp-ca.pem');
  writeFileSync(caFile, tls.caPem);
  const keys: IdpKey[] = [makeIdpKey('ES256')];
  let fetches = 0;
  let issuer = '';
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    void (async () => {
      const send = (body: unknown) => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)); };
      if (req.url === '/.well-known/openid-configuration') {
        send({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256', 'RS256'] });
      } else if (req.url === '/jwks') {
        fetches++;
        send({ keys: await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' }))) });
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  t.teardown(close);
  const aud = o.audience ?? 'tessera';
  const withDefaults = (claims: JWTPayload): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: issuer, aud, iat: now, nbf: now, exp: now + 300, ...claims };
  };
  return {
    get issuer() { return issuer; },
    caFile, caPem: tls.caPem, keys,
    jwksFetches: () => fetches,
    addKey(alg = 'ES256') { const k = makeIdpKey(alg); keys.push(k); return k; },
    unpublishedKey: (alg = 'ES256', kid?: string) => makeIdpKey(alg, kid),
    async token(claims, opts = {}) {
      const key = opts.key ?? keys[0]!;
      return new SignJWT(withDefaults(claims)).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...opts.header }).sign(key.privateKey);
    },
    unsigned(claims) {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(withDefaults(claims))}.`;
    },
    close,
  };
}

/** A CA and a 127.0.0.1 server certificate (ECDSA P-256). */
async function makeTlsIdentity(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + 86400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=Tessera test IdP CA', notBefore, notAfter, signingAlgorithm: alg, keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=127.0.0.1', issuer: ca.subjectName, notBefore, notAfter, signingAlgorithm: alg,
    publicKey: leafKeys.publicKey, signingKey: caKeys.privateKey,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }]),
    ],
  });
  const keyPem = KeyObject.from(leafKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { caPem: ca.toString('pem'), certPem: leaf.toString('pem'), keyPem };
}
