import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
/** Anything with teardown(): an ava test, or a shared scope for before-hooks. */
export type Scope = { teardown(fn: () => unknown): void };

/** A real HTTP server on 127.0.0.1, port 0, closed when the test ends; records requests. */
export interface RecordedRequest { method: string; path: string; query: URLSearchParams; headers: IncomingMessage['headers'] }

export interface FakeHttpServer {
  url: string;
  requests: RecordedRequest[];
  /** Answer the next `n` requests with `status` (default 503: metadata service briefly down). */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

export type Handler = (req: RecordedRequest, body: string, res: ServerResponse) => void;

export async function startHttpServer(t: Scope | undefined, handler: Handler): Promise<FakeHttpServer> {
  const requests: RecordedRequest[] = [];
  let failures = 0, failStatus = 503;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const rec = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers };
      requests.push(rec);
      if (failures > 0) { failures--; res.writeHead(failStatus).end(failStatus === 404 ? 'Identity not found' : 'service unavailable'); return; }
      try { handler(rec, body, res); } catch (e) { res.writeHead(500).end(String(e)); }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  t?.teardown(close);
  return { url: `http://127.0.0.1:${port}`, requests, failNext: (n, status = 503) => { failures = n; failStatus = status; }, close };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** An address where nothing listens: a metadata service that is down. */
export async function deadAddress(): Promise<string> {
  const s = await startHttpServer(undefined, () => {});
  await s.close();
  return s.url;
}
