import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * A small public, read-only HTTPS listener serving JSON documents: the SPIFFE bundle
 * endpoint and the OIDC discovery endpoints. No client authentication of any kind
 * (Federation 5.2.1.3 forbids it for bundle endpoints; relying parties have none),
 * GET and HEAD only, documents rebuilt per request from what is in memory. The TLS
 * identity can be swapped (setTls) without a restart; without `tls` it serves plain
 * HTTP (only behind a TLS-terminating proxy).
 */
export interface JsonDocument {
  json: unknown;
  /** Cache-Control max-age, seconds; absent = no-store. */
  maxAgeSeconds?: number;
}

export interface JsonRoute {
  path: string;
  document(): JsonDocument;
}

export class PublicListener {
  private readonly routes = new Map<string, JsonRoute>();
  host = '';
  port = 0;

  private constructor(private readonly server: Server, private readonly logger: Logger, private readonly tls: boolean) {}

  /** Binds `listen` ("host:port", port 0 picks one); `what` names the config key in errors; writes `addressFile` when given. */
  static async start(o: { listen: string; what: string; tls?: SecureContextOptions; routes: JsonRoute[]; logger: Logger; addressFile?: string }): Promise<PublicListener> {
    const handler = (req: IncomingMessage, res: ServerResponse) => l.dispatch(req, res);
    const server = o.tls
      ? createHttpsServer({ ...o.tls, minVersion: 'TLSv1.2', headersTimeout: 10_000, requestTimeout: 30_000 }, handler)
      : createHttpServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, handler);
    const l = new PublicListener(server, o.logger, o.tls !== undefined);
    for (const r of o.routes) l.routes.set(r.path, r);
    const sep = o.listen.lastIndexOf(':');
    const host = o.listen.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new ConfigError(`cannot listen on ${o.listen} (${o.what}): ${e.message}`)));
      server.listen(Number(o.listen.slice(sep + 1)), host, () => resolve());
    });
    l.host = o.listen.slice(0, sep);
    l.port = (server.address() as AddressInfo).port;
    if (o.addressFile) {
      writeFileSync(`${o.addressFile}.tmp`, `${l.address}\n`, { mode: 0o644 });
      renameSync(`${o.addressFile}.tmp`, o.addressFile);
    }
    return l;
  }

  get address(): string { return `${this.host}:${this.port}`; }

  /** New certificate and key for new connections (renewed SVID, re-read WebPKI files). */
  setTls(tls: SecureContextOptions): void {
    if (!this.tls) return;
    (this.server as unknown as { setSecureContext(o: SecureContextOptions): void }).setSecureContext({ ...tls, minVersion: 'TLSv1.2' });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    let path = '?';
    try {
      path = new URL(req.url ?? '/', 'https://listener.invalid').pathname;
      const route = this.routes.get(path);
      if (!route) { send(res, 404, { error: 'not_found', error_description: `no document at ${path.slice(0, 100)}` }); return; }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        send(res, 405, { error: 'method_not_allowed', error_description: `${String(req.method).slice(0, 16)} is not allowed; use GET` });
        return;
      }
      const doc = route.document();
      send(res, 200, doc.json, doc.maxAgeSeconds, req.method === 'HEAD');
    } catch (e) {
      this.logger.error('public listener request failed', { err: e as Error, path });
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
    }
  }
}

function send(res: ServerResponse, status: number, json: unknown, maxAgeSeconds?: number, head = false): void {
  const body = Buffer.from(JSON.stringify(json));
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8', 'content-length': body.length,
    'cache-control': maxAgeSeconds !== undefined && status === 200 ? `public, max-age=${Math.floor(maxAgeSeconds)}` : 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(head ? undefined : body);
}
