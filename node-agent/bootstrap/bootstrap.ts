import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { AgentConfig } from '../config.ts';
import { AGENT_ATTESTOR_FACTORIES } from './methods.ts';
import { AgentStore, type AgentState } from './store.ts';
import { ServerApi } from './server-api.ts';
import { AgentIdentity } from './identity.ts';
import { attestAgent } from './attest.ts';
import { loadBundleFile, type TrustBundle } from './bundle.ts';
import { fetchPinnedBundle } from './pinned-bundle.ts';
import { certInfo, chainsTo } from './cert-info.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import { TesseraError } from '../../common/errors.ts';

/**
 * Gets the agent an identity: resume the one in the data dir while it is still
 * valid (no re-attestation: join tokens are single use), else trust the server
 * (bundle file or pinned CA fingerprint) and attest with the configured method.
 */
export interface Bootstrapped { identity: AgentIdentity; api: ServerApi; store: AgentStore; resumed: boolean }

export async function bootstrapAgent(p: { config: AgentConfig; logger: Logger; clock: Clock; signal?: AbortSignal }): Promise<Bootstrapped> {
  const { config, logger, clock } = p;
  const store = new AgentStore(config.dataDir);
  store.init();

  let saved: AgentState | undefined;
  try { saved = store.load(); } catch (e) { logger.warn('ignoring unreadable agent state in data dir', { data_dir: config.dataDir, err: e as Error }); }
  const why = saved ? unusableReason(saved, config, clock.now()) : 'no saved agent SVID';
  if (saved && !why) {
    const api = new ServerApi({ ...servers(config), trustDomain: config.trustDomain, bundle: saved.bundle, svid: saved.svid, logger });
    const identity = new AgentIdentity({ store, api, trustDomain: config.trustDomain, logger }, saved);
    logger.info('resumed agent identity from data dir, not re-attesting', { spiffe_id: identity.spiffeId, expires_at: new Date(identity.lifetime.notAfter).toISOString() });
    return { identity, api, store, resumed: true };
  }
  logger.info('attesting to the server', { reason: why, method: config.nodeAttestor.method, server: config.serverAddress });

  // First contact goes to each configured server in turn while they are unreachable.
  const addresses = [config.serverAddress, ...config.serverAddresses];
  let contact = 0;
  const trust = await retryUnavailable('fetch the server CA',
    () => initialTrust(config, addresses[contact++ % addresses.length]!, logger, saved?.bundle), p);
  const factory = AGENT_ATTESTOR_FACTORIES.find((f) => f.method === config.nodeAttestor.method)!;
  const attestor = factory.create(config.nodeAttestor.config, { logger: logger.child({ attestor: factory.method }), clock, dataDir: config.dataDir });
  const api = new ServerApi({ ...servers(config), trustDomain: config.trustDomain, bundle: trust, logger });
  try {
    const out = await retryUnavailable('attest', () => attestAgent({ api, attestor, trustDomain: config.trustDomain, logger, signal: p.signal }), p);
    store.saveBundle(out.bundle);
    store.saveSvid(out.svid);
    api.update({ bundle: out.bundle, svid: out.svid });
    const identity = new AgentIdentity({ store, api, trustDomain: config.trustDomain, logger }, out);
    return { identity, api, store, resumed: false };
  } catch (e) {
    api.close();
    throw e;
  } finally {
    await attestor.close?.();
  }
}

/**
 * An agent may start before its server: while the server is unreachable, wait and try
 * again (backoff with jitter). Any other failure (bad token, wrong CA) is final.
 */
async function retryUnavailable<T>(what: string, fn: () => Promise<T>, p: { logger: Logger; clock: Clock; signal?: AbortSignal }): Promise<T> {
  const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
  for (;;) {
    try { return await fn(); } catch (e) {
      if (!(e instanceof TesseraError) || (e.kind !== 'unavailable' && e.kind !== 'deadline_exceeded') || p.signal?.aborted) throw e;
      const wait = backoff.next();
      // Unavailable also covers a reachable server whose attestation depends on something
      // down (a cloud metadata service, its key URL): `err` says which.
      p.logger.warn(`cannot ${what}: server unreachable or unavailable; retrying`, { err: e, retry_in_ms: wait });
      await p.clock.sleep(wait, p.signal);
    }
  }
}

/** Why a saved identity cannot be resumed, or undefined when it can. */
function unusableReason(s: AgentState, config: AgentConfig, now: number): string | undefined {
  if (!s.bundle.trustDomain.equals(config.trustDomain)) return `saved identity is for trust domain ${s.bundle.trustDomain.name}`;
  const leaf = s.svid.chain[0]!;
  const info = certInfo(leaf);
  // A minute of margin: an SVID that expires while we connect is no use.
  if (info.notAfter - 60_000 <= now) return `saved agent SVID expired at ${new Date(info.notAfter).toISOString()}`;
  if (!new X509Certificate(leaf).checkPrivateKey(s.svid.key)) return 'saved agent key does not match the saved SVID';
  if (!chainsTo(s.svid.chain, s.bundle.x509Authorities)) return 'saved agent SVID does not chain to the saved bundle';
  return undefined;
}

const servers = (config: AgentConfig) => ({ address: config.serverAddress, addresses: config.serverAddresses });

async function initialTrust(config: AgentConfig, address: string, logger: Logger, saved: TrustBundle | undefined): Promise<TrustBundle> {
  const configured = config.trustBundlePath
    ? loadBundleFile(config.trustBundlePath, config.trustDomain)
    : await fetchPinnedBundle({ address, trustDomain: config.trustDomain, fingerprint: config.caFingerprint!, logger });
  // A bundle learnt from the server before (after CA rotations) is trusted too.
  if (saved && saved.trustDomain.equals(config.trustDomain)) {
    const seen = new Set(configured.x509Authorities.map((d) => Buffer.from(d).toString('base64')));
    for (const d of saved.x509Authorities) if (!seen.has(Buffer.from(d).toString('base64'))) configured.x509Authorities.push(d);
  }
  return configured;
}
