import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';

/**
 * A WHATWG-fetch-shaped function over node:http/https, so the MCP SDK's client
 * (transport and OAuth discovery/token requests, which take a `fetch`) runs on our
 * own agents: the authorization server verified as an X.509-SVID, our SVID presented
 * as the client certificate (tokens bound with cnf), a certificate that changes on
 * rotation. Node's global fetch (undici) accepts none of these agents.
 *
 * The body streams (Server-Sent Events work); redirects are never followed here
 * (the MCP SDK follows same-origin ones itself). Input is a URL or string, the MCP
 * SDK's FetchLike.
 */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

export function nodeFetch(agentFor: (url: URL) => http.Agent): FetchLike {
  return (input, init) => new Promise<Response>((resolve, reject) => {
    let url: URL;
    let payload: string | Buffer | undefined;
    const headers = new Headers(init?.headers);
    try {
      url = new URL(String(input));
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`cannot fetch ${url.protocol} URLs`);
      payload = bodyOf(init?.body, headers);
    } catch (err) { reject(err); return; }
    const method = (init?.method ?? 'GET').toUpperCase();
    const outgoing: Record<string, string> = {};
    headers.forEach((v, k) => { outgoing[k] = v; });
    if (payload !== undefined) outgoing['content-length'] = String(Buffer.byteLength(payload));
    const signal = init?.signal ?? undefined;
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method, headers: outgoing, agent: agentFor(url), ...(signal ? { signal } : {}),
    }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (Array.isArray(v)) for (const x of v) h.append(k, x); else if (v !== undefined) h.set(k, v);
      }
      const status = res.statusCode ?? 500;
      const empty = method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      const body = empty ? null : Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
      const response = new Response(body, { status, statusText: res.statusMessage ?? '', headers: h });
      Object.defineProperty(response, 'url', { value: url.href });
      resolve(response);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function bodyOf(body: RequestInit['body'], headers: Headers): string | Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    return body.toString();
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('nodeFetch sends string, URLSearchParams or byte bodies only');
}
