/**
 * Small builders for SDK tests: SVIDs as the SDK holds them (parsed, with key),
 * static sources, and a tiny HTTPS request helper over an mTLS agent.
 */
import * as https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import { parseX509Svid, type X509Svid } from '../../spiffe/x509svid/parse.ts';
import { StaticX509Source } from '../../spiffe/source/static.ts';
import type { BundleSet } from '../../spiffe/bundle/set.ts';
import { makeSvid, type LeafOptions, type TestCa } from '../helpers/pki.ts';

export function svid(ca: TestCa, id: string, o: LeafOptions = {}): X509Svid {
  const s = makeSvid(ca, id, o);
  return parseX509Svid(s.certificates, s.pkcs8);
}

export function source(ca: TestCa, id: string, bundles: BundleSet, claims?: AgentClaims): StaticX509Source {
  return new StaticX509Source({ svid: svid(ca, id, claims ? { claims } : {}), bundles });
}

export const serialOf = (der: Uint8Array): string => new X509Certificate(der).serialNumber;

export interface Reply { status: number; body: string; socket: import('node:tls').TLSSocket }

export function get(port: number, agent: https.Agent, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const socket = res.socket as import('node:tls').TLSSocket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export const listen = (server: import('node:net').Server): Promise<number> => new Promise((resolve) => {
  server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
});

export const close = (server: import('node:net').Server): Promise<void> => new Promise((resolve) => {
  server.close(() => resolve());
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
});
