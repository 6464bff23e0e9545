import { createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { SpiffeBundle, type SpiffeJwks } from '../../spiffe/bundle/spiffebundle.ts';
import { serverId } from '../../spiffe/id.ts';
import type { ServerSvidProvider } from '../api/server-credentials.ts';
import type { CaManager } from '../ca/manager.ts';
import type { BundleEndpointConfig } from './config.ts';
import { PublicListener, type JsonRoute } from './public-listener.ts';
import { readCertFiles, watchCertFiles } from './web-cert.ts';

/**
 * This trust domain's SPIFFE bundle endpoint (SPIFFE Federation 5.2): GET <path>
 * answers the bundle every server shares (all X.509 authorities and JWT keys in
 * force, with spiffe_sequence and spiffe_refresh_hint), so another trust domain can
 * follow our CA rotations. Profiles:
 * - https_spiffe: TLS with the server's own X.509-SVID (spiffe://<td>/tessera/server),
 *   swapped in at each renewal; foreign trust domains configure that ID;
 * - https_web: a WebPKI certificate and key from files, re-read when they change.
 * Writes <data_dir>/bundle-endpoint.addr ("host:port").
 */
export const BUNDLE_ENDPOINT_ADDRESS_FILE = 'bundle-endpoint.addr';

export interface RunningBundleEndpoint {
  address: string;
  close(): Promise<void>;
}

/** The route: the document is rebuilt when the bundle changes, and at most once a minute for expiries. */
export function bundleRoute(ca: Pick<CaManager, 'bundle' | 'x509Authorities' | 'trustDomain'>, clock: Clock, path: string): JsonRoute {
  let cached: { key: unknown; minute: number; json: SpiffeJwks } | undefined;
  return {
    path,
    document() {
      const b = ca.bundle();
      const now = clock.now();
      const minute = Math.floor(now / 60_000);
      if (cached?.key !== b || cached.minute !== minute) {
        const jwt = new Map<string, KeyObject>();
        for (const k of b.jwtAuthorities) {
          if (k.expiresAt !== 0 && k.expiresAt * 1000 <= now) continue;
          try { jwt.set(k.kid, createPublicKey({ key: Buffer.from(k.publicKey), format: 'der', type: 'spki' })); } catch { /* unusable key: left out */ }
        }
        const doc = new SpiffeBundle(ca.trustDomain, { x509Authorities: ca.x509Authorities(), jwtAuthorities: jwt, sequence: b.sequence, refreshHint: b.refreshHint });
        cached = { key: b, minute, json: doc.toJwks() };
      }
      // Clients poll at the refresh hint (Federation 4.1): no HTTP caching in between.
      return { json: cached.json };
    },
  };
}

export async function startBundleEndpoint(o: {
  cfg: BundleEndpointConfig; ca: CaManager; svid: ServerSvidProvider; clock: Clock; logger: Logger; dataDir: string; signal: AbortSignal;
}): Promise<RunningBundleEndpoint> {
  const logger = o.logger.child({ component: 'bundle-endpoint' });
  const route = bundleRoute(o.ca, o.clock, o.cfg.path);
  const addressFile = join(o.dataDir, BUNDLE_ENDPOINT_ADDRESS_FILE);
  const what = 'federation.bundle_endpoint';
  if (o.cfg.profile === 'https_web') {
    const files = o.cfg.https_web!;
    const pair = readCertFiles(files, `${what}.https_web`);
    const listener = await PublicListener.start({ listen: o.cfg.listen, what, tls: pair, routes: [route], logger, addressFile });
    void watchCertFiles(files, `${what}.https_web`, { clock: o.clock, logger, signal: o.signal, onChange: (p) => listener.setTls(p) });
    logger.info('bundle endpoint started', { address: listener.address, profile: 'https_web', path: o.cfg.path });
    return { address: listener.address, close: () => listener.close() };
  }
  // https_spiffe: the server SVID, delivered by the provider on registration and at each renewal.
  let listener: PublicListener | undefined;
  let current: { cert: Buffer; key: Buffer } | undefined;
  const onIdentity = (u: { certificate: Buffer; privateKey: Buffer } | null) => {
    if (!u) return;
    current = { cert: u.certificate, key: u.privateKey };
    listener?.setTls(current);
  };
  o.svid.addIdentityCertificateListener(onIdentity);
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (!current) { o.svid.removeIdentityCertificateListener(onIdentity); throw new Error('the server SVID is not available for the bundle endpoint'); }
  try {
    listener = await PublicListener.start({ listen: o.cfg.listen, what, tls: current, routes: [route], logger, addressFile });
  } catch (e) { o.svid.removeIdentityCertificateListener(onIdentity); throw e; }
  logger.info('bundle endpoint started', { address: listener.address, profile: 'https_spiffe', path: o.cfg.path, endpoint_spiffe_id: serverId(o.ca.trustDomain).toString() });
  const l = listener;
  return { address: l.address, async close() { o.svid.removeIdentityCertificateListener(onIdentity); await l.close(); } };
}
