/**
 * The agent's side of the browser's return (RFC 8252 §7.3 loopback redirect): an HTTP
 * listener on 127.0.0.1 only, at the port registered with the redirect URI. Each request
 * to its path goes to `check` (SpiffeMcpClientProvider.completeAuthorization): a code
 * ends the wait; a request with another state is answered 400 and the wait goes on (a
 * stray or forged request must not cancel the person's authorization); any other
 * refusal (another issuer, access_denied) ends it with that error.
 */
import { createServer } from 'node:http';
import { log } from './log.ts';

export interface LoopbackCallback {
  redirectUrl: string;
  /** The code of the first callback that passes `check`. */
  code: Promise<string>;
  close(): void;
}

export async function loopbackCallback(port: number, check: (callbackUrl: string) => string): Promise<LoopbackCallback> {
  const redirectUrl = `http://127.0.0.1:${port}/callback`;
  let settle!: { resolve: (code: string) => void; reject: (err: Error) => void };
  const code = new Promise<string>((resolve, reject) => { settle = { resolve, reject }; });
  code.catch(() => undefined); // observed by whoever awaits it
  const page = (id: string, text: string) => `<!doctype html><title>agent</title><p id="${id}">${text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`)}</p>`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', redirectUrl);
    if (req.method !== 'GET' || url.pathname !== '/callback') { res.writeHead(404).end(); return; }
    const send = (status: number, id: string, text: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end(page(id, text));
    };
    try {
      const c = check(url.href);
      send(200, 'done', 'The agent is authorized. You can close this window.');
      log('callback accepted');
      settle.resolve(c);
    } catch (err) {
      const e = err as Error & { code?: string };
      log('callback refused', { code: e.code, error: e.message });
      send(400, 'refused', `The agent refused this answer: ${e.message}`);
      if (e.code !== 'ERR_MCP_STATE') settle.reject(e);
    }
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
  return { redirectUrl, code, close: () => { server.closeAllConnections(); server.close(); } };
}
