import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { systemClock, type Clock } from '../../common/clock.ts';
import { memoryLogger } from '../../common/logger.ts';
import { SpiffeBundle } from '../../spiffe/bundle/spiffebundle.ts';
import { SqliteDatastore } from '../../server/datastore/sqlite.ts';
import { makeRootCa, makeSvid, toPem, type TestCa } from '../helpers/pki.ts';
import { makeTlsIdentity } from '../helpers/oidc-provider.ts';
import { tempDir } from '../helpers/tmp.ts';
import { join } from 'node:path';

/**
 * Fixtures for federation tests: a foreign trust domain's CA, a real HTTPS bundle
 * endpoint in this process whose answer each test sets, and a real SQLite store.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestEndpoint {
  url: string;
  port: number;
  /** What the next requests get. */
  handle(h: Handler): void;
  requests: number;
}

/** An HTTPS server presenting `cert`/`key` (PEM); closed at teardown. */
export async function startEndpoint(t: Pick<ExecutionContext, 'teardown'>, tls: { cert: string; key: string }, path = '/bundle'): Promise<TestEndpoint> {
  let handler: Handler = (_req, res) => { res.writeHead(503); res.end(); };
  const ep = { requests: 0 } as TestEndpoint;
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => { ep.requests++; handler(req, res); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(ep, { url: `https://127.0.0.1:${port}${path}`, port, handle: (h: Handler) => { handler = h; } });
}

export function json(body: string | Buffer, status = 200, headers: Record<string, string> = {}): Handler {
  return (_req, res) => { res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(body); };
}

/** The SPIFFE bundle (JWKS) of `ca`'s trust domain with these roots. */
export function bundleJson(ca: TestCa, o: { sequence?: number; refreshHint?: number; roots?: Uint8Array[] } = {}): string {
  const doc = new SpiffeBundle(ca.trustDomain, { x509Authorities: o.roots ?? [ca.root], refreshHint: o.refreshHint ?? 60, sequence: o.sequence ?? 1 }).toJwks();
  if (o.sequence === undefined) delete doc.spiffe_sequence;
  return JSON.stringify(doc);
}

/** A foreign trust domain's CA and the bundle endpoint SVID a Tessera server of it would present. */
export async function foreignDomain(name: string, endpointPath = '/tessera/server') {
  const ca = await makeRootCa(name);
  const svid = makeSvid(ca, `spiffe://${name}${endpointPath}`, { dnsNames: ['localhost'] });
  return { ca, tls: { cert: svid.certificates.map(toPem).join(''), key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string } };
}

/** A WebPKI-style server certificate for 127.0.0.1 from a test "public" CA (PEM), and that CA's PEM. */
export async function webPkiServer() {
  const id = await makeTlsIdentity();
  return { caPem: id.caPem, tls: { cert: id.certPem, key: id.keyPem } };
}

export function sqliteStore(t: ExecutionContext, clock: Clock = systemClock): SqliteDatastore {
  const store = SqliteDatastore.open({ path: join(tempDir(t, 'tfed-'), 'store.sqlite3'), clock });
  t.teardown(() => store.close());
  return store;
}

export { memoryLogger };
