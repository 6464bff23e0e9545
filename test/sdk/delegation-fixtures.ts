/**
 * Builders for the delegation SDK tests: delegated tokens in exactly the shape of
 * docs/delegation.md, minted with jose (independent of the verifier under test), a
 * local HTTPS JWKS endpoint running on a server SVID from a test CA, and the PKI.
 */
import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as https from 'node:https';
import type { ExecutionContext } from 'ava';
import { exportJWK, SignJWT } from 'jose';
import type { BundleSet } from '../../spiffe/bundle/set.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { bundleSetOf, makeRootCa, makeSvid, type TestCa, type TestSvid } from '../helpers/pki.ts';
import { close, listen } from './fixtures.ts';

export const ISSUER = 'https://tessera.example.org:8443';
export const RS = 'https://tools.example.org';
export const IDP = 'https://idp.example.org';
export const RESEARCHER = 'spiffe://example.org/agents/researcher';
export const SUB_AGENT = 'spiffe://example.org/agents/sub-agent';
export const HELPER = 'spiffe://example.org/agents/helper';

export interface SigningKey { kid: string; alg: 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA'; privateKey: KeyObject; publicKey: KeyObject }

export function signingKey(alg: SigningKey['alg'] = 'ES256', kid = `oauth-${Math.random().toString(36).slice(2, 8)}`): SigningKey {
  const keys = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, ...keys };
}

export async function jwksOf(...keys: SigningKey[]): Promise<{ keys: Record<string, unknown>[] }> {
  return { keys: await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' }))) };
}

export const x5t = (der: Uint8Array): string => createHash('sha256').update(der).digest('base64url');
export const nowS = (): number => Math.floor(Date.now() / 1000);

let seq = 0;
const id22 = (p: string) => `${p}_${(`${Date.now()}${++seq}`.padEnd(22, 'x')).slice(0, 22)}`;

/** Actors current first; each an ID or { sub, ...agent claims }. */
export function actChain(actors: (string | Record<string, unknown>)[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (const a of [...actors].reverse()) {
    const node: Record<string, unknown> = typeof a === 'string' ? { sub: a } : { ...a };
    if (act) node.act = act;
    act = node;
  }
  return act;
}

export interface MintOptions {
  key: SigningKey;
  /** Claims to override; `undefined` removes the claim. */
  claims?: Record<string, unknown>;
  /** Header to override; `undefined` removes the parameter. */
  header?: Record<string, unknown>;
  actors?: (string | Record<string, unknown>)[];
  certificate?: Uint8Array;
}

/** A delegated token as the server issues it (docs/delegation.md), overridable. */
export async function mint(o: MintOptions): Promise<string> {
  const iat = nowS() - 10;
  const actors = o.actors ?? [{ sub: RESEARCHER, agent_model: 'claude-sonnet-4', agent_provider: 'anthropic' }];
  const current = typeof actors[0] === 'string' ? actors[0] : String((actors[0] as { sub: unknown }).sub);
  const claims: Record<string, unknown> = {
    iss: ISSUER, sub: `${IDP}#alice`, aud: [RS], scope: 'files:read review:post',
    exp: iat + 300, iat, nbf: iat,
    jti: id22('tok'), client_id: current, grant_id: id22('grt'), chain: [],
    subject: { iss: IDP, sub: 'alice', groups: ['eng'] },
    act: actChain(actors),
    ...(o.certificate ? { cnf: { 'x5t#S256': x5t(o.certificate) } } : {}),
  };
  for (const [k, v] of Object.entries(o.claims ?? {})) { if (v === undefined) delete claims[k]; else claims[k] = v; }
  const header: Record<string, unknown> = { alg: o.key.alg, typ: 'at+jwt', kid: o.key.kid };
  for (const [k, v] of Object.entries(o.header ?? {})) { if (v === undefined) delete header[k]; else header[k] = v; }
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.key.privateKey);
}

const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
export const payloadOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** The classic confusions: alg none, and HS256 keyed with the public key's PEM. */
export function unsigned(token: string): string {
  return `${b64({ alg: 'none', typ: 'at+jwt' })}.${token.split('.')[1]}.`;
}
/** An ES256 JWS over any header and payload (for headers jose refuses to produce). */
export function signRaw(header: Record<string, unknown>, payload: Record<string, unknown>, key: SigningKey): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
export function hs256WithPublicKey(token: string, key: SigningKey): string {
  const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })}.${token.split('.')[1]}`;
  const secret = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export interface Pki { ca: TestCa; bundles: BundleSet; server: TestSvid }

export async function pki(): Promise<Pki> {
  const ca = await makeRootCa('example.org');
  return { ca, bundles: bundleSetOf([ca]), server: makeSvid(ca, 'tessera/server') };
}

export const tlsOf = (s: TestSvid) => ({ cert: certificatesToPem(s.certificates), key: s.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });

export interface JwksServer { issuer: string; hits: () => number; setJwks: (doc: unknown) => void }

/** An HTTPS issuer serving `<issuer>/oauth2/jwks` with `cert` (default the server SVID). */
export async function jwksServer(t: ExecutionContext, cert: TestSvid, jwks: unknown): Promise<JwksServer> {
  let doc = jwks;
  let hits = 0;
  const server = https.createServer(tlsOf(cert), (req, res) => {
    if (req.url !== '/oauth2/jwks') { res.writeHead(404).end(); return; }
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  });
  const port = await listen(server);
  t.teardown(() => close(server));
  return { issuer: `https://127.0.0.1:${port}`, hits: () => hits, setJwks: (d) => { doc = d; } };
}

/** Resolves once `cond` holds (polled); the test's own timeout bounds it. */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 6000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
