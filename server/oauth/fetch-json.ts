import { request } from 'node:https';

/**
 * GET a JSON document over HTTPS with a timeout and a size cap, optionally trusting a
 * private CA (per-issuer `ca_file`). node:https rather than fetch: global fetch takes
 * no per-request CA without undici's Agent, which is not a dependency.
 */
const MAX_BYTES = 1 << 20;

export function fetchJson(url: string, opts: { ca?: string; timeoutMs: number }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try { u = new URL(url); } catch { reject(new Error(`${url} is not a URL`)); return; }
    if (u.protocol !== 'https:') { reject(new Error(`${url} is not an https URL`)); return; }
    const req = request(u, { method: 'GET', headers: { accept: 'application/json' }, ca: opts.ca, timeout: opts.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > MAX_BYTES) { req.destroy(new Error(`${url} answered more than ${MAX_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
          reject(new Error(`${url} answered HTTP ${res.statusCode}`));
          return;
        }
        try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch { reject(new Error(`${url} did not answer JSON`)); }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
