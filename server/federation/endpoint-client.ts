import { request, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { X509BundleSource } from '../../spiffe/bundle/x509bundle.ts';
import { AuthorizationError, SpiffeError } from '../../spiffe/errors.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { authorizeID } from '../../spiffe/tls/authorizers.ts';
import { peerChain, verifyChain } from '../../spiffe/tls/verify-peer.ts';
import type { BundleEndpointProfile } from '../datastore/sql-federation.ts';
import { FederationError, federationError } from './errors.ts';

/**
 * One GET of a foreign SPIFFE bundle endpoint (SPIFFE Federation 5.2), authenticated
 * per profile before a byte of the response is read:
 * - https_web: Node's TLS verification against the WebPKI roots (system store and
 *   NODE_EXTRA_CA_CERTS, or `webPkiCa` in tests) and the URL's host name;
 * - https_spiffe: the server's X.509-SVID verified against the bundle of its own trust
 *   domain (the latest stored bundle; the bootstrap bundle on first contact) and its ID
 *   equal to the configured endpoint SPIFFE ID.
 * Redirects are followed (at most MAX_REDIRECTS, each target an https URL checked the
 * same way, never remembered: 5.2.1.4). The body is bounded; nothing is parsed here.
 */
export interface EndpointTarget {
  url: string;
  profile: BundleEndpointProfile;
  endpointSpiffeId?: SpiffeId;
}

export interface FetchOptions {
  /** Bundles to verify https_spiffe endpoints (looked up by the endpoint ID's trust domain). */
  bundles: X509BundleSource;
  /** PEM roots for https_web instead of the system store (tests, private PKI). */
  webPkiCa?: string | Buffer;
  maxBytes: number;
  timeoutMs: number;
  now?: () => Date;
}

export const MAX_REDIRECTS = 3;

export async function fetchBundleDocument(t: EndpointTarget, o: FetchOptions): Promise<{ body: Buffer; url: string }> {
  let url = t.url;
  for (let hop = 0; ; hop++) {
    const r = await getOnce(url, t, o);
    if (r.kind === 'body') return { body: r.body, url };
    if (hop >= MAX_REDIRECTS) throw federationError('ERR_FEDERATION_HTTP', `bundle endpoint ${t.url}: more than ${MAX_REDIRECTS} redirects`);
    let next: URL;
    try { next = new URL(r.location, url); } catch (e) { throw federationError('ERR_FEDERATION_HTTP', `bundle endpoint ${url} redirected to an invalid URL`, e); }
    if (next.protocol !== 'https:' || next.username || next.password) {
      throw federationError('ERR_FEDERATION_HTTP', `bundle endpoint ${url} redirected to ${next.protocol}//${next.host}: only https URLs without userinfo are followed`);
    }
    url = next.href;
  }
}

type Outcome = { kind: 'body'; body: Buffer } | { kind: 'redirect'; location: string };

function getOnce(url: string, t: EndpointTarget, o: FetchOptions): Promise<Outcome> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<Outcome>((resolve, reject) => {
    let settled = false;
    const fail = (e: FederationError) => { if (!settled) { settled = true; socket.destroy(); reject(e); } };
    const web = t.profile === 'https_web';
    const socket: TLSSocket = connect({
      host, port: Number(u.port || 443), ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.2',
      ...(isIP(host) ? {} : { servername: host }),
      // https_web: Node checks the chain and the host name. https_spiffe: SPIFFE
      // verification below replaces both (WebPKI knows neither bundles nor URI SANs).
      ...(web ? { rejectUnauthorized: true, ...(o.webPkiCa ? { ca: o.webPkiCa } : {}) } : { rejectUnauthorized: false, checkServerIdentity: () => undefined }),
    });
    let verified = web;
    socket.once('secureConnect', () => {
      if (web) return;
      try {
        verifyChain(peerChain(socket), o.bundles, authorizeID(t.endpointSpiffeId!), o.now?.());
        verified = true;
      } catch (e) {
        fail(spiffeRefusal(url, t, e));
      }
    });
    const timer = setTimeout(() => fail(federationError('ERR_FEDERATION_UNREACHABLE', `bundle endpoint ${url}: no response within ${o.timeoutMs} ms`)), o.timeoutMs);
    const req = request({
      createConnection: () => socket, hostname: host, port: Number(u.port || 443), path: `${u.pathname}${u.search}`, method: 'GET',
      headers: { accept: 'application/json', host: u.host, 'user-agent': 'tessera-federation' },
    }, (res) => {
      if (!verified) { fail(federationError('ERR_FEDERATION_ENDPOINT_UNTRUSTED', `bundle endpoint ${url}: response before the server was verified`)); return; }
      readResponse(url, res, o.maxBytes).then((r) => { clearTimeout(timer); if (!settled) { settled = true; socket.end(); resolve(r); } }, (e: FederationError) => { clearTimeout(timer); fail(e); });
    });
    req.on('error', (e) => { clearTimeout(timer); fail(e instanceof FederationError ? e : connectionError(url, web, e)); });
    req.end();
  });
}

function readResponse(url: string, res: IncomingMessage, maxBytes: number): Promise<Outcome> {
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && status !== 304) {
    res.resume();
    const location = res.headers.location;
    if (!location) return Promise.reject(federationError('ERR_FEDERATION_HTTP', `bundle endpoint ${url}: HTTP ${status} without a Location`));
    return Promise.resolve({ kind: 'redirect', location });
  }
  if (status !== 200) {
    res.resume();
    return Promise.reject(federationError('ERR_FEDERATION_HTTP', `bundle endpoint ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim()));
  }
  const declared = Number(res.headers['content-length']);
  const tooLarge = () => federationError('ERR_FEDERATION_TOO_LARGE', `bundle endpoint ${url}: the bundle is larger than ${maxBytes} bytes${Number.isFinite(declared) ? ` (content-length ${declared})` : ''}`);
  if (Number.isFinite(declared) && declared > maxBytes) { res.destroy(); return Promise.reject(tooLarge()); }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (c: Buffer) => {
      total += c.length;
      if (total > maxBytes) { res.destroy(); reject(tooLarge()); return; }
      chunks.push(c);
    });
    res.once('end', () => resolve({ kind: 'body', body: Buffer.concat(chunks) }));
    res.once('error', (e) => reject(federationError('ERR_FEDERATION_UNREACHABLE', `bundle endpoint ${url}: ${e.message}`, e)));
  });
}

function spiffeRefusal(url: string, t: EndpointTarget, e: unknown): FederationError {
  if (e instanceof AuthorizationError) {
    return federationError('ERR_FEDERATION_ENDPOINT_ID', `bundle endpoint ${url} presented a different SPIFFE ID than configured (${t.endpointSpiffeId}): ${e.message}`, e);
  }
  if (e instanceof SpiffeError && e.code === 'ERR_BUNDLE_NOT_FOUND') {
    return federationError('ERR_FEDERATION_NO_BUNDLE', `bundle endpoint ${url}: no bundle for trust domain ${t.endpointSpiffeId!.trustDomain} to authenticate it; set one (federation create --trust-domain-bundle-path, or bundle set)`, e);
  }
  const why = e instanceof Error ? e.message : String(e);
  return federationError('ERR_FEDERATION_ENDPOINT_UNTRUSTED', `bundle endpoint ${url}: its certificate is not a valid X.509-SVID of ${t.endpointSpiffeId!.trustDomain}: ${why}`, e);
}

const UNTRUSTED_TLS = new Set([
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
]);

function connectionError(url: string, web: boolean, e: Error): FederationError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (web && UNTRUSTED_TLS.has(code)) {
    return federationError('ERR_FEDERATION_ENDPOINT_UNTRUSTED', `bundle endpoint ${url}: its WebPKI certificate is not trusted for this host (${code}: ${e.message})`, e);
  }
  return federationError('ERR_FEDERATION_UNREACHABLE', `bundle endpoint ${url} is unreachable: ${code ? `${code}: ` : ''}${e.message}`, e);
}
