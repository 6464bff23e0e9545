import * as https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { X509BundleSource } from '../bundle/x509bundle.ts';
import { serverId as serverIdOf, SpiffeId, TrustDomain } from '../id.ts';
import type { X509SvidSource } from '../source/types.ts';
import { authorizeID, type Authorizer } from '../tls/authorizers.ts';
import { createMtlsAgent } from '../tls/client.ts';
import { svidContextOptions } from '../tls/context.ts';
import { certificateChain, verifyChain } from '../tls/verify-peer.ts';
import type { ServerTrust } from './types.ts';

/**
 * HTTPS to the authorization server. Its listener runs on the server's X.509-SVID,
 * so by default its certificate is verified as an SVID (chain to the bundle of its
 * trust domain, SPIFFE ID = the server's), not by WebPKI host names; nothing is
 * written on a connection before that check passed. `caPem` is the escape hatch for
 * deployments that front the issuer with an ordinary certificate.
 */
export interface ServerAgentOptions extends ServerTrust {
  /** Present this X.509-SVID as the client certificate (read at connect time). */
  client?: X509SvidSource;
  keepAlive?: boolean;
}

/** The authorizer for the server's SVID: `serverId`, else spiffe://<td>/tessera/server. */
export function serverAuthorizer(o: ServerTrust, fallback?: TrustDomain): Authorizer {
  if (o.serverId !== undefined) return authorizeID(typeof o.serverId === 'string' ? SpiffeId.parse(o.serverId) : o.serverId);
  const td = o.trustDomain !== undefined ? (typeof o.trustDomain === 'string' ? TrustDomain.parse(o.trustDomain) : o.trustDomain) : fallback;
  if (!td) throw new TypeError('cannot tell which trust domain the authorization server belongs to: pass `trustDomain` or `serverId`');
  return authorizeID(serverIdOf(td));
}

export function serverAgent(o: ServerAgentOptions, fallbackTd?: TrustDomain): https.Agent {
  const keepAlive = o.keepAlive ?? false;
  if (o.caPem !== undefined) return new CaAgent(o.caPem, o.client, keepAlive);
  const bundles = o.bundleSource ?? (isBundleSource(o.client) ? o.client : undefined);
  if (!bundles) throw new TypeError('no way to verify the authorization server: pass `bundleSource` (or `caPem`)');
  const authorize = serverAuthorizer(o, fallbackTd ?? tdOf(o.client ?? o.bundleSource));
  if (o.client) return createMtlsAgent({ source: o.client, bundles, authorize, agent: { keepAlive } });
  return new ServerSvidAgent(bundles, authorize, keepAlive);
}

function isBundleSource(x: unknown): x is X509BundleSource {
  return typeof (x as Partial<X509BundleSource> | undefined)?.getX509BundleForTrustDomain === 'function';
}

/** Our own trust domain when the source holds an SVID (an X509Source is both SVID and bundle source). */
function tdOf(x: unknown): TrustDomain | undefined {
  const s = x as Partial<X509SvidSource> | undefined;
  if (typeof s?.getX509Svid !== 'function') return undefined;
  try { return s.getX509Svid().id.trustDomain; } catch { return undefined; }
}

/** Ordinary verification against `ca` (host name included); our SVID, when any, read at each connect. */
class CaAgent extends https.Agent {
  constructor(private readonly ca: string, private readonly client: X509SvidSource | undefined, keepAlive: boolean) {
    super({ keepAlive, ca });
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const svid = this.client ? svidContextOptions(this.client.getX509Svid()) : {};
    const create = https.Agent.prototype.createConnection as (this: https.Agent, o: https.RequestOptions, cb?: typeof callback) => Duplex;
    return create.call(this, { ...options, ca: this.ca, ...svid }, callback);
  }
}

/** Server-authenticated TLS (no client certificate), the server verified as an SVID before use. */
class ServerSvidAgent extends https.Agent {
  constructor(private readonly bundles: X509BundleSource, private readonly authorize: Authorizer, keepAlive: boolean) {
    super({ keepAlive });
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const servername = (options as tls.ConnectionOptions).servername;
    const socket = tls.connect({
      host: options.host ?? options.hostname ?? '127.0.0.1',
      port: Number(options.port ?? 443),
      ...(servername ? { servername } : {}),
      // Node's verification knows neither SPIFFE bundles nor URI SANs; ours runs on secureConnect.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const fail = (err: Error) => callback?.(err, undefined as unknown as Duplex);
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.removeListener('error', fail);
      try {
        const leaf = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate;
        if (!leaf?.raw) throw new Error('the authorization server presented no certificate');
        verifyChain(certificateChain(leaf), this.bundles, this.authorize);
        callback?.(null, socket);
      } catch (err) {
        socket.destroy();
        fail(err as Error);
      }
    });
    return undefined;
  }
}

export interface HttpsReply { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** One request with a deadline and a response size bound; resolves with the whole body. */
export function httpsRequest(url: URL, o: {
  agent: https.Agent; method?: string; headers?: Record<string, string>; body?: string;
  timeoutMs?: number; maxBytes?: number; signal?: AbortSignal;
}): Promise<HttpsReply> {
  const maxBytes = o.maxBytes ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      agent: o.agent, method: o.method ?? 'GET', headers: o.headers ?? {},
      timeout: o.timeoutMs ?? 10_000, ...(o.signal ? { signal: o.signal } : {}),
    }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > maxBytes) { req.destroy(new Error(`response from ${url.origin}${url.pathname} exceeds ${maxBytes} bytes`)); return; }
        parts.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no response from ${url.origin}${url.pathname} within ${o.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** `issuer` + path, keeping any path prefix of the issuer (RFC 8414 style issuers with paths). */
export function issuerUrl(issuer: string, path: string): URL {
  const u = new URL(issuer);
  if (u.protocol !== 'https:') throw new TypeError(`issuer ${issuer} must be an https URL`);
  u.pathname = u.pathname.replace(/\/+$/, '') + path;
  return u;
}

/**
 * POSTs an OAuth form to the authorization server on a one-shot connection (mTLS with
 * the caller's X.509-SVID when it has one) and returns the status and the JSON object
 * body, if the body was one; callers map refusals to their own typed errors.
 */
export async function postOAuthForm(url: URL, form: URLSearchParams, o: ServerTrust & {
  x509Source?: X509SvidSource; timeoutMs?: number; signal?: AbortSignal;
}, td: TrustDomain | undefined): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const agent: https.Agent = serverAgent({ ...o, ...(o.x509Source ? { client: o.x509Source } : {}), keepAlive: false }, td);
  try {
    const r = await httpsRequest(url, {
      agent, method: 'POST', body: form.toString(), timeoutMs: o.timeoutMs ?? 10_000, maxBytes: 256 * 1024,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    let body: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(r.body.toString('utf8'));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) body = v as Record<string, unknown>;
    } catch { /* not JSON: body stays undefined */ }
    return { status: r.status, body };
  } finally {
    agent.destroy();
  }
}
