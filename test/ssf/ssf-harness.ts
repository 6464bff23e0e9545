import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStaticDelegationKeys } from '../../spiffe/delegation/keys.ts';
import type { DelegationKeySource } from '../../spiffe/delegation/types.ts';
import type { Scope } from '../oauth/harness.ts';
import type { Env, HttpResult, Workload } from '../oauth/harness.ts';

export const PUSH = 'urn:ietf:rfc:8935';
export const POLL = 'urn:ietf:rfc:8936';

/** A JSON request to an SSF endpoint as `as` (a receiver workload), or unauthenticated with `as: null`. */
export function ssfCall(env: Env, method: string, path: string, body: unknown, as: Workload | null, headers: Record<string, string> = {}): Promise<HttpResult> {
  return env.request(method, path, {
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), contentType: 'application/json' }),
    ...(as ? { as } : {}), headers,
  });
}

/** The transmitter's signing keys, read once from its JWKS. */
export async function transmitterKeys(env: Env): Promise<DelegationKeySource> {
  const r = await env.request('GET', '/oauth2/jwks');
  return createStaticDelegationKeys(r.json as { keys: unknown[] });
}

/** A plain node:http receiver on 127.0.0.1: `handle` answers each request (after `before`, if it answers first). */
export async function httpReceiver(scope: Scope, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, server };
}

/** A promise and its resolver, for "wait until the receiver saw X". */
export function signal<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/** Rejects after `ms` with `what`: only turns a hang into a failure, never paces the test. */
export function within<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** POSTs `body` to a push endpoint as a transmitter would. */
export function postTo(url: string, body: string, type = 'application/secevent+jwt'): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': type } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
