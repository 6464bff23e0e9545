import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { createLogger, type LogFields } from '../../common/logger.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { SpiffeId } from '../../spiffe/id.ts';
import { certificatesToPem } from '../../spiffe/pem.ts';
import { parseServerConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { SvidSigner } from '../../server/ca/signer.ts';
import type { DelegationPolicy, NewDelegationPolicy } from '../../server/delegation/types.ts';
import { startTestIdp, type TestIdp } from '../helpers/test-idp.ts';

/**
 * An in-process tessera server with the `oauth` section (SQLite, real sockets), a
 * local IdP, and helpers that mint workload SVIDs from the server's own CA and talk
 * HTTPS with client certificates. One per test file (test.before + sharedScope).
 */
export type Scope = { teardown(fn: () => unknown): void };

export interface Workload {
  id: string;
  key: KeyObject;
  /** DER, leaf first. */
  chain: Uint8Array[];
  x5t: string;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export type Params = [string, string][] | Record<string, string | string[] | undefined>;

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const JWT = 'urn:ietf:params:oauth:token-type:jwt';

export interface Env {
  server: RunningServer;
  idp: TestIdp;
  issuer: string;
  tokenEndpoint: string;
  logs: LogFields[];
  /** Moves the server's clock (not the test's) forward. */
  advance(ms: number): void;
  svid(path: string, claims?: AgentClaims): Workload;
  jwtSvid(path: string, audience: string[], claims?: AgentClaims): Promise<string>;
  policy(p: Partial<NewDelegationPolicy>): Promise<DelegationPolicy>;
  request(method: string, path: string, o?: { params?: Params; body?: string | Buffer; contentType?: string; as?: Workload; headers?: Record<string, string> }): Promise<HttpResult>;
  /** POST /oauth2/token with grant_type token-exchange and an IdP (or given) subject token. */
  exchange(params: Params, as?: Workload): Promise<HttpResult>;
  td: string;
}

export async function startEnv(scope: Scope, o: { oauth?: Record<string, unknown>; audience?: string } = {}): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'toa-'));
  scope.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const idp = await startTestIdp(scope, { dir, audience: o.audience });
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset, sleep: systemClock.sleep };
  const logs: LogFields[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => { logs.push(JSON.parse(l)); } });
  const cfg = parseServerConfig({
    trust_domain: 'example.org', data_dir: dir, agent_api: { listen: '127.0.0.1:0' },
    oauth: {
      listen: '127.0.0.1:0', token_ttl: '5m',
      trusted_issuers: [{ issuer: idp.issuer, audience: 'tessera', groups_claim: 'groups', ca_file: idp.caFile }],
      ...o.oauth,
    },
  });
  const server = await startServer(cfg, { clock, logger });
  scope.teardown(() => server.stop());
  const signer = new SvidSigner(server.ca, clock);
  const port = server.oauthAddress!.split(':').pop();
  const issuer = (o.oauth?.issuer as string | undefined) ?? `https://127.0.0.1:${port}`;
  const tokenEndpoint = `${issuer}/oauth2/token`;
  const td = 'example.org';

  const env: Env = {
    server, idp, issuer, tokenEndpoint, logs, td,
    advance: (ms) => { offset += ms; },
    svid(path, claims) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const s = signer.signX509({ spiffeId: SpiffeId.parse(`spiffe://${td}${path}`), publicKey, ttlSeconds: 3600, claims });
      return { id: `spiffe://${td}${path}`, key: privateKey, chain: s.chain, x5t: createHash('sha256').update(s.chain[0]!).digest('base64url') };
    },
    async jwtSvid(path, audience, claims) {
      return (await signer.mintJwt({ spiffeId: SpiffeId.parse(`spiffe://${td}${path}`), audience, ttlSeconds: 300, claims })).token;
    },
    policy: (p) => server.store.createDelegationPolicy({
      description: 'test', actors: [], subjectIssuer: idp.issuer, subjects: [], groups: [], audiences: [], scopes: [],
      maxTtl: 300, maxDepth: 1, mayDelegateTo: [], ...p,
    }),
    request: (method, path, r = {}) => httpsRequest(server, method, path, r),
    exchange: (params, as) => env.request('POST', '/oauth2/token', {
      as, params: Array.isArray(params) ? [['grant_type', TOKEN_EXCHANGE], ...params] : { grant_type: TOKEN_EXCHANGE, ...params },
    }),
  };
  return env;
}

export function encodeForm(p: Params): string {
  const u = new URLSearchParams();
  const entries = Array.isArray(p) ? p : Object.entries(p).flatMap(([k, v]) => (v === undefined ? [] : Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]]));
  for (const [k, v] of entries) u.append(k, v);
  return u.toString();
}

function httpsRequest(server: RunningServer, method: string, path: string, r: RequestOptions): Promise<HttpResult> {
  return httpsCall(server.oauthAddress!, certificatesToPem(server.ca.x509Authorities()), method, path, r);
}

export interface RequestOptions { params?: Params; body?: string | Buffer; contentType?: string; as?: Workload; headers?: Record<string, string> }

/** One HTTPS request to `address` (host:port), trusting `caPem`, presenting `r.as` as client certificate. */
export function httpsCall(address: string, caPem: string, method: string, path: string, r: RequestOptions = {}): Promise<HttpResult> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.split(':').pop())];
  const body = r.body ?? (r.params ? encodeForm(r.params) : undefined);
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, method, path, agent: false,
      ca: caPem,
      ...(r.as ? { key: r.as.key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certificatesToPem(r.as.chain) } : {}),
      headers: {
        ...(body !== undefined ? { 'content-type': r.contentType ?? 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}),
        ...r.headers,
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The decoded payload / header of a JWT (no verification). */
export const payloadOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
export const headerOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8'));

export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}
