import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { checkRedirectUri, isLoopbackHost } from './authz-params.ts';
import { OAuthError } from './errors.ts';
import { clip } from './http.ts';

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as
 * MCP 2026-07-28 requires): a URL client_id is fetched and its JSON names the client.
 *
 * The URL comes from anyone on the internet, so the fetch is the server's most exposed
 * outbound request (SSRF): https only; the host is resolved once and every address must
 * be public (no loopback, private, link-local, CGNAT, multicast, unique-local), and the
 * connection goes to that checked address (no second resolution to rebind); redirects
 * are never followed; the body is capped in bytes and the exchange in time. Only the
 * test flag `allow_insecure_loopback` admits http and loopback addresses (nothing else).
 *
 * Documents are cached per URL for the response's max-age (bounded by `maxCacheSeconds`;
 * none with no-store/no-cache), successes only.
 */
export interface ClientMetadata {
  clientId: string;
  clientName: string;
  redirectUris: string[];
  clientUri?: string;
  logoUri?: string;
}

export interface CimdOptions {
  allowInsecureLoopback: boolean;
  maxBytes: number;
  timeoutMs: number;
  maxCacheSeconds: number;
  clock: Clock;
  logger: Logger;
}

const DEFAULT_CACHE_S = 300;
const MAX_ENTRIES = 1000;

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** Whether an address may be fetched: public, or loopback under the test flag. */
export function addressAllowed(address: string, allowLoopback: boolean): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  let a = address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  const type = isIP(a) === 4 ? 'ipv4' : 'ipv6';
  if (allowLoopback && (type === 'ipv4' ? a.startsWith('127.') : a === '::1')) return true;
  return !blocked.check(a, type);
}

export class ClientMetadataFetcher {
  private readonly cache = new Map<string, { doc: ClientMetadata; until: number }>();

  constructor(private readonly o: CimdOptions) {}

  /** Whether `clientId` is URL-shaped the way metadata document client_ids are. */
  isDocumentUrl(clientId: string): boolean {
    return /^https:\/\//i.test(clientId) || (this.o.allowInsecureLoopback && /^http:\/\//i.test(clientId));
  }

  /** The validated document, or OAuthError invalid_client saying what was wrong. */
  async get(clientId: string): Promise<ClientMetadata> {
    const now = this.o.clock.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.until > now) return hit.doc;
    const url = this.checkUrl(clientId);
    const { body, maxAge } = await this.fetch(url, clientId);
    const doc = validate(clientId, body);
    const ttl = Math.min(maxAge ?? DEFAULT_CACHE_S, this.o.maxCacheSeconds);
    if (ttl > 0) {
      if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(clientId, { doc, until: now + ttl * 1000 });
    }
    this.o.logger.info('client metadata document fetched', { client_id: clientId, cache_seconds: ttl, redirect_uris: doc.redirectUris.length });
    return doc;
  }

  private checkUrl(clientId: string): URL {
    let u: URL;
    try { u = new URL(clientId); } catch { throw bad(clientId, 'is not a URL'); }
    if (clientId.includes('#')) throw bad(clientId, 'must not contain a fragment');
    if (u.username || u.password) throw bad(clientId, 'must not contain userinfo');
    if (u.pathname === '/' || u.pathname === '') throw bad(clientId, 'must have a path component (e.g. https://app.example.com/client.json)');
    if (u.protocol === 'http:') {
      if (!this.o.allowInsecureLoopback || !isLoopbackHost(u.hostname)) throw bad(clientId, 'must use https (http is not fetched)');
    } else if (u.protocol !== 'https:') {
      throw bad(clientId, 'must use https');
    }
    if (/[.]\d+$/.test(u.hostname) && isIP(u.hostname) === 0) throw bad(clientId, 'has an invalid host');
    return u;
  }

  private async fetch(url: URL, clientId: string): Promise<{ body: Buffer; maxAge: number | undefined }> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: { address: string; family: number }[];
    if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
    else {
      try { addresses = await dnsLookup(host, { all: true, verbatim: true }); } catch (e) {
        throw bad(clientId, `cannot be fetched: host ${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    const refused = addresses.find((a) => !addressAllowed(a.address, this.o.allowInsecureLoopback));
    if (refused || addresses.length === 0) {
      throw bad(clientId, `is not fetched: host ${host} resolves to ${refused?.address ?? 'nothing'}, a private, loopback or link-local address`);
    }
    const pinned = addresses[0]!;
    // The connection uses the address checked above, never a fresh resolution.
    const lookup = ((_h: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (opts?.all) cb(null, [pinned]); else cb(null, pinned.address, pinned.family);
    }) as unknown as LookupFunction;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const fail = (why: string) => reject(bad(clientId, why));
      const req = send(url, {
        method: 'GET', lookup, timeout: this.o.timeoutMs, agent: false,
        headers: { accept: 'application/json', 'user-agent': 'tessera-oauth' },
      }, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          fail(`answered a redirect (HTTP ${status}${res.headers.location ? ` to ${clip(res.headers.location, 200)}` : ''}); redirects are not followed: the document must be served at the client_id URL itself`);
          return;
        }
        if (status !== 200) { res.resume(); fail(`answered HTTP ${status}, not 200`); return; }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > this.o.maxBytes) {
          req.destroy();
          fail(`is ${declared} bytes; metadata documents may be at most ${this.o.maxBytes} bytes`);
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > this.o.maxBytes) {
            req.destroy();
            fail(`is more than ${this.o.maxBytes} bytes; metadata documents may be at most ${this.o.maxBytes} bytes`);
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ body: Buffer.concat(chunks), maxAge: cacheSeconds(res.headers['cache-control']) }));
        res.on('error', (e) => fail(`could not be read: ${e.message}`));
      });
      req.on('timeout', () => { req.destroy(); fail(`did not answer within ${this.o.timeoutMs} ms`); });
      req.on('error', (e) => fail(`cannot be fetched: ${e.message}`));
      req.end();
    });
  }
}

/** max-age from Cache-Control; 0 for no-store / no-cache; undefined when unstated. */
function cacheSeconds(cc: string | undefined): number | undefined {
  if (!cc) return undefined;
  const v = cc.toLowerCase();
  if (/\b(no-store|no-cache|private)\b/.test(v)) return 0;
  const m = /\bmax-age=(\d+)/.exec(v);
  return m ? Number(m[1]) : undefined;
}

function validate(clientId: string, body: Buffer): ClientMetadata {
  let doc: unknown;
  try { doc = JSON.parse(body.toString('utf8')); } catch { throw bad(clientId, 'did not answer a JSON document'); }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(clientId, 'did not answer a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.client_id !== clientId) {
    throw bad(clientId, `names client_id ${clip(JSON.stringify(d.client_id ?? null), 200)}; it must equal the document URL exactly`);
  }
  if (typeof d.client_name !== 'string' || d.client_name.trim().length === 0) throw bad(clientId, 'has no client_name');
  if (!Array.isArray(d.redirect_uris) || d.redirect_uris.length === 0 || d.redirect_uris.some((u) => typeof u !== 'string')) {
    throw bad(clientId, 'has no redirect_uris (a non-empty list of URIs)');
  }
  for (const u of d.redirect_uris as string[]) {
    const why = checkRedirectUri(u);
    if (why) throw bad(clientId, `lists an unacceptable redirect URI: ${why}`);
  }
  const method = d.token_endpoint_auth_method;
  if (method !== undefined && method !== 'none') {
    throw bad(clientId, `asks for token_endpoint_auth_method ${clip(JSON.stringify(method), 60)}; metadata-document clients are public clients here (none, with PKCE)`);
  }
  if (d.grant_types !== undefined && (!Array.isArray(d.grant_types) || !d.grant_types.includes('authorization_code'))) {
    throw bad(clientId, 'grant_types does not include authorization_code');
  }
  if (d.response_types !== undefined && (!Array.isArray(d.response_types) || !d.response_types.includes('code'))) {
    throw bad(clientId, 'response_types does not include code');
  }
  return {
    clientId, clientName: clip(d.client_name.trim(), 120), redirectUris: [...d.redirect_uris as string[]],
    ...(typeof d.client_uri === 'string' ? { clientUri: d.client_uri } : {}),
    ...(typeof d.logo_uri === 'string' ? { logoUri: d.logo_uri } : {}),
  };
}

const bad = (clientId: string, why: string) =>
  new OAuthError('invalid_client', `client metadata document ${clip(clientId, 200)} ${why}`);
