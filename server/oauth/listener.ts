import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { X509Bundle } from '../../spiffe/bundle/x509bundle.ts';
import { SpiffeError } from '../../spiffe/errors.ts';
import type { SpiffeId } from '../../spiffe/id.ts';
import { certificateChain } from '../../spiffe/tls/verify-peer.ts';
import { verifyX509Svid } from '../../spiffe/x509svid/verify.ts';
import type { ServerSvidProvider } from '../api/server-credentials.ts';
import { OAuthError } from './errors.ts';
import { clip, Form, MethodNotAllowed, readBody, sendError } from './http.ts';
import type { TrustDomainBundles } from './trust.ts';

/**
 * The one HTTPS listener of the authorization server. TLS with the server's own
 * X.509-SVID, swapped in with setSecureContext when it is renewed (and the client-CA
 * list when the bundle changes), so neither needs a restart. Client certificates are
 * requested, not required: a caller without one may still present an actor_token, so
 * the TLS layer accepts any certificate and each route decides, through
 * `ctx.client()`, which verifies the chain against the trust domain's bundle.
 *
 * Writes <data_dir>/oauth.addr ("host:port", the real port when listening on 0).
 */
export const OAUTH_ADDRESS_FILE = 'oauth.addr';

/** A verified X.509-SVID client certificate. */
export interface ClientCertificate {
  id: SpiffeId;
  claims: AgentClaims;
  /** DER of the leaf (for the cnf thumbprint). */
  leaf: Uint8Array;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /**
   * The caller's verified SVID, or undefined when it presented no certificate. A
   * certificate that does not verify is OAuthError invalid_client (401): a caller
   * that tried to authenticate and failed is told so, never treated as anonymous.
   */
  client(): ClientCertificate | undefined;
  /** The form body (at most 64 KiB, application/x-www-form-urlencoded). */
  form(): Promise<Form>;
}

export interface Route {
  /** '*': the handler answers every method itself (REST-style endpoints such as SSF stream management). */
  method: 'GET' | 'POST' | '*';
  path: string;
  handler(ctx: RouteContext): Promise<void> | void;
}

interface Verified { bundle: X509Bundle; value: ClientCertificate; notAfter: number }

export class OAuthListener {
  private routes = new Map<string, Route>();
  private verified = new WeakMap<TLSSocket, Verified>();
  private identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  private caPem: Buffer | undefined;
  private server: Server | undefined;
  private readonly onIdentity = (u: { certificate: Buffer; privateKey: Buffer } | null) => { if (u) { this.identity = u; this.refreshContext(); } };
  private readonly onCa = (u: { caCertificate: Buffer } | null) => { if (u) { this.caPem = u.caCertificate; this.refreshContext(); } };
  host = '';
  port = 0;

  private constructor(private readonly o: {
    svid: ServerSvidProvider; bundles: TrustDomainBundles; clock: Clock; logger: Logger; dataDir: string;
    /** oauth.tls: a WebPKI certificate for browsers, served instead of the server SVID (PEM). */
    tls?: { certificate: Buffer; privateKey: Buffer };
  }) {}

  /** Binds `listen` (host:port) and writes oauth.addr. Routes are mounted afterwards (they need the bound address). */
  static async start(o: { listen: string; svid: ServerSvidProvider; bundles: TrustDomainBundles; clock: Clock; logger: Logger; dataDir: string;
    tls?: { certificate: Buffer; privateKey: Buffer } }): Promise<OAuthListener> {
    const l = new OAuthListener(o);
    // The provider delivers the current SVID and bundle on registration (next microtask).
    o.svid.addIdentityCertificateListener(l.onIdentity);
    o.svid.addCaCertificateListener(l.onCa);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!l.identity) { l.detach(); throw new Error('the server SVID is not available'); }
    const server = createServer({
      ...l.contextOptions(),
      requestCert: true,
      rejectUnauthorized: false,
      headersTimeout: 10_000,
      requestTimeout: 30_000,
    }, (req, res) => { void l.dispatch(req, res); });
    l.server = server;
    const sep = o.listen.lastIndexOf(':');
    const host = o.listen.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
    const port = Number(o.listen.slice(sep + 1));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => { l.detach(); reject(new ConfigError(`cannot listen on ${o.listen} (oauth.listen): ${e.message}`)); });
      server.listen(port, host, () => resolve());
    });
    l.host = o.listen.slice(0, sep);
    l.port = (server.address() as AddressInfo).port;
    const path = join(o.dataDir, OAUTH_ADDRESS_FILE);
    writeFileSync(`${path}.tmp`, `${l.address}\n`, { mode: 0o644 });
    renameSync(`${path}.tmp`, path);
    return l;
  }

  get address(): string { return `${this.host}:${this.port}`; }

  mount(route: Route): void {
    if (this.routes.has(route.path)) throw new Error(`route ${route.path} is mounted twice`);
    this.routes.set(route.path, route);
  }

  async close(): Promise<void> {
    this.detach();
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      // Event streams (the revocation feed) stay open until their clients leave: end them.
      s.closeAllConnections();
    });
  }

  private detach(): void {
    this.o.svid.removeIdentityCertificateListener(this.onIdentity);
    this.o.svid.removeCaCertificateListener(this.onCa);
  }

  private contextOptions() {
    // Browsers do not trust the SPIFFE CA: oauth.tls replaces the server certificate; the
    // client-CA list (and so mTLS client authentication) stays the trust domain's.
    const id = this.o.tls ?? this.identity!;
    return { cert: id.certificate, key: id.privateKey, ca: this.caPem, minVersion: 'TLSv1.2' as const };
  }

  private refreshContext(): void {
    if (!this.server || !this.identity) return;
    this.server.setSecureContext(this.contextOptions());
    this.o.logger.debug('oauth listener TLS context updated');
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path = '?';
    try {
      const url = new URL(req.url ?? '/', 'https://oauth.invalid');
      path = url.pathname;
      const route = this.routes.get(path);
      if (!route) throw new OAuthError('invalid_request', `no endpoint ${clip(path, 100)} on this authorization server`, { status: 404 });
      if (route.method !== '*' && req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) throw new MethodNotAllowed(req.method ?? '', path, route.method);
      let form: Promise<Form> | undefined;
      await route.handler({
        req, res, url,
        client: () => this.client(req.socket as TLSSocket),
        form: () => (form ??= readBody(req).then((b) => Form.parse(b, req.headers['content-type']))),
      });
    } catch (e) {
      sendError(res, e, this.o.logger, path);
    }
  }

  private client(socket: TLSSocket): ClientCertificate | undefined {
    const bundle = this.o.bundles.getX509BundleForTrustDomain(this.o.bundles.trustDomain)!;
    const now = this.o.clock.now();
    const hit = this.verified.get(socket);
    // Re-verified when the bundle changed or the certificate expired (connections outlive both).
    if (hit && hit.bundle === bundle && now <= hit.notAfter) return hit.value;
    const leaf = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
    if (!leaf || !leaf.raw) return undefined;
    let v;
    try {
      v = verifyX509Svid(certificateChain(leaf), this.o.bundles, { now: new Date(now) });
    } catch (e) {
      if (!(e instanceof SpiffeError)) throw e;
      throw new OAuthError('invalid_client', `the TLS client certificate is not a valid X.509-SVID of trust domain ${this.o.bundles.trustDomain}: ${e.message}`);
    }
    const value: ClientCertificate = { id: v.id, claims: v.claims, leaf: new Uint8Array(leaf.raw) };
    this.verified.set(socket, { bundle, value, notAfter: Date.parse(leaf.valid_to) });
    return value;
  }
}
