import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import { sendJson, startHttpServer, type FakeHttpServer, type Scope } from './cloud-http.ts';

/** Test signing keys standing in for Google's and Microsoft's token keys, and a JWKS endpoint serving them. */
export interface TestJwtKey { kid: string; privateKey: KeyObject; publicKey: KeyObject }

export function makeJwtKey(kid = randomBytes(8).toString('hex')): TestJwtKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey };
}

export async function mintJwt(key: TestJwtKey, claims: JWTPayload, header: { alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? key.kid, typ: 'JWT' }).sign(key.privateKey);
}

export async function jwks(keys: TestJwtKey[]): Promise<{ keys: object[] }> {
  return { keys: await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: 'RS256', use: 'sig' }))) };
}

export interface FakeJwks extends FakeHttpServer {
  /** Full URL of the key set. */
  keysUrl: string;
  setKeys(keys: TestJwtKey[]): void;
  fetches(): number;
}

export async function startFakeJwks(t: Scope, path: string, keys: TestJwtKey[]): Promise<FakeJwks> {
  let current = await jwks(keys);
  let pending: Promise<void> = Promise.resolve();
  const srv = await startHttpServer(t, (req, _b, res) => {
    if (req.path !== path) { res.writeHead(404).end(); return; }
    void pending.then(() => sendJson(res, 200, current, { 'cache-control': 'public, max-age=3600' }));
  });
  return Object.assign(srv, {
    keysUrl: srv.url + path,
    setKeys: (k: TestJwtKey[]) => { pending = jwks(k).then((j) => { current = j; }); },
    fetches: () => srv.requests.filter((r) => r.path === path).length,
  });
}

export const nowSec = () => Math.floor(Date.now() / 1000);
