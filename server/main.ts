import * as grpc from '@grpc/grpc-js';
import { chmodSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { ConfigError } from '../common/errors.ts';
import { loadAdminProto, loadAgentProto } from '../common/proto.ts';
import type { NodeAttestorServer } from '../attestors/node/types.ts';
import type { ServerConfig } from './config.ts';
import type { Datastore } from './datastore/types.ts';
import { openDatastore } from './datastore/open.ts';
import { AuthorizedEntryIndex } from './entries/index.ts';
import { CaManager, loadUpstreamCa } from './ca/manager.ts';
import { SvidSigner } from './ca/signer.ts';
import { SigningPool } from './ca/sign-pool.ts';
import { ensurePrivateDir } from '../common/private-files.ts';
import { certificatesToPem } from '../spiffe/pem.ts';
import { SERVER_ATTESTOR_FACTORIES } from './attestation/methods.ts';
import { AgentAuthenticator } from './api/authn.ts';
import { agentServiceHandlers } from './api/agent-service.ts';
import { adminHandlers } from './api/admin-service.ts';
import { delegationAdminHandlers } from './api/delegation-admin.ts';
import { clientAdminHandlers } from './api/client-admin.ts';
import { adminAuditStore, withAdminCaller } from './api/admin-caller.ts';
import { issuanceAuditStore } from './audit/issuance-store.ts';
import { PeerListener } from '../common/peercred/peer-listener.ts';
import { capturePeerCredentials } from '../common/peercred/peer-credentials.ts';
import { ServerSvidProvider } from './api/server-credentials.ts';
import { startOAuthServer } from './oauth/start.ts';
import { SharedSignals } from './ssf/start.ts';
import { tokenRequestObservers } from './oauth/token-endpoint.ts';
import { openDelegationCore } from './oauth/core.ts';
import { AuditLog, loadAuditSigner } from './audit/log.ts';
import { auditRoutes } from './audit/http.ts';
import { auditAdminHandlers } from './api/audit-admin.ts';
import { startOpsListener, type OpsListener } from '../common/metrics/ops-listener.ts';
import { METRICS_ADDRESS_FILE } from '../common/metrics/probe.ts';
import { ServerMetrics } from './metrics/server-metrics.ts';
import { timedDatastore } from './metrics/timed-datastore.ts';
import { TimedSvidSigner } from './metrics/timed-signer.ts';
import { serverReadiness, type ServerReadyState } from './metrics/readiness.ts';
import { startFederation } from './federation/start.ts';
import { federationAdminHandlers } from './api/federation-admin.ts';

/**
 * Wiring: config -> store -> CA -> entry index -> attestors -> agent API (TCP, TLS
 * with the server SVID) and admin API (Unix socket in a 0700 directory), plus the
 * long-running loops (CA rotation, server SVID renewal, join-token pruning), all
 * stopped by one AbortSignal.
 *
 * Files in data_dir that other processes read:
 *   agent-api.addr   "host:port" the agent API is bound to (the real port when configured as 0)
 *   bundle.pem       the trust bundle's X.509 authorities (public), rewritten on change
 *   ca.fingerprint   SHA-256 (hex) of the root certificate's DER, for agents to pin
 *   metrics.addr     "host:port" of the metrics and health listener, when configured
 *
 * Metrics (docs/metrics.md): one ServerMetrics per server, handed to what reports into
 * it; the datastore and the signer are timed from outside. With `metrics.listen` the
 * listener starts first, so /live answers and /ready says what is still coming up.
 */
export interface RunningServer {
  agentAddress: string;
  adminSocket: string;
  caFingerprint: string;
  ca: CaManager;
  store: Datastore;
  /** host:port of the OAuth authorization server, when configured. */
  oauthAddress?: string;
  metrics: ServerMetrics;
  /** host:port of the metrics and health listener, when configured. */
  metricsAddress?: string;
  stop(): Promise<void>;
}

export const ADDRESS_FILE = 'agent-api.addr';
export const BUNDLE_FILE = 'bundle.pem';
export const FINGERPRINT_FILE = 'ca.fingerprint';

export async function startServer(cfg: ServerConfig, deps: { clock: Clock; logger: Logger }): Promise<RunningServer> {
  const { clock, logger } = deps;
  const td = cfg.trust_domain;
  const aborter = new AbortController();
  const signal = aborter.signal;
  ensurePrivateDir(cfg.data_dir);

  const metrics = new ServerMetrics(clock);
  const ready: ServerReadyState = { indexLoaded: false };
  const ops: OpsListener | undefined = cfg.metrics ? await startOpsListener({
    listen: cfg.metrics.listen, registry: metrics.registry, checks: serverReadiness(ready, clock), logger,
    addressFile: join(cfg.data_dir, METRICS_ADDRESS_FILE),
  }) : undefined;
  const cleanups: (() => Promise<void> | void)[] = ops ? [() => ops.close()] : [];
  const fail = async (e: unknown): Promise<never> => {
    aborter.abort();
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw e;
  };

  try {
    const store = timedDatastore(await openDatastore(cfg.datastore, { dataDir: cfg.data_dir, clock, logger }), metrics.datastoreSeconds);
    cleanups.push(() => store.close());
    metrics.attachStore(store, logger);
    cleanups.push(() => metrics.close());
    ready.store = store;
    const upstream = cfg.ca.upstream ? loadUpstreamCa(cfg.ca.upstream.cert_file, cfg.ca.upstream.key_file, cfg.ca.upstream.bundle_file) : undefined;
    const ca = await CaManager.open({
      trustDomain: td, dir: join(cfg.data_dir, 'ca'), ttlSeconds: cfg.ca.ttl, upstream,
      subject: { organization: cfg.ca.subject.organization, commonName: cfg.ca.subject.common_name },
      refreshHintSeconds: cfg.bundle.refresh_hint, store, clock, logger: logger.child({ component: 'ca' }),
    });
    cleanups.push(() => ca.close());
    ready.ca = ca;
    const signer: SvidSigner = new TimedSvidSigner(ca, clock, metrics.signingSeconds);
    signer.jwtIssuer = cfg.oidc_discovery?.issuer;
    if (cfg.ca.signing_workers > 0) {
      // CSR checks and leaf signatures on worker threads (ca.signing_workers, docs/performance.md).
      const pool = SigningPool.start(cfg.ca.signing_workers);
      signer.pool = pool;
      cleanups.push(() => pool.close());
      logger.info('signing pool started', { signing_workers: pool.size });
    }
    // The transparency log (docs/audit.md); its public key is written to <data_dir>/audit-key.pub.
    const auditOrigin = cfg.audit.origin ?? `${td.name}/tessera/audit`;
    const audit = cfg.audit.enabled ? new AuditLog({
      store, signer: loadAuditSigner(cfg.data_dir, auditOrigin, cfg.audit.key_file), origin: auditOrigin, clock, logger,
      checkpointIntervalMs: cfg.audit.checkpoint_interval * 1000,
    }) : undefined;
    const index = await AuthorizedEntryIndex.load(store, { trustDomain: td, clock, logger });
    cleanups.push(() => index.close());
    ready.indexLoaded = true;

    const methods = new Map<string, NodeAttestorServer>();
    for (const [method, conf] of Object.entries(cfg.node_attestors)) {
      const f = SERVER_ATTESTOR_FACTORIES.find((x) => x.method === method)!;
      const dataDir = join(cfg.data_dir, 'attestors', method);
      methods.set(method, f.create(conf, { logger: logger.child({ attestor: method }), clock, dataDir, joinTokens: store } as Parameters<typeof f.create>[1]));
    }

    const authn = new AgentAuthenticator({ ca, store, clock, fallback: index });
    const svid = new ServerSvidProvider({
      ca, signer, clock, logger: logger.child({ component: 'server-svid' }),
      ttlSeconds: cfg.svid.x509_ttl, dnsNames: cfg.agent_api.dns_names, ipAddresses: cfg.agent_api.ip_addresses,
    });

    // SPIFFE federation and OIDC discovery (docs/federation.md, docs/oidc-discovery.md).
    const federation = await startFederation({
      federation: cfg.federation, oidcDiscovery: cfg.oidc_discovery, trustDomain: td, store, ca, svid, clock, logger, dataDir: cfg.data_dir, signal,
    });
    cleanups.push(() => federation.close());

    // Agent API.
    const agentServer = new grpc.Server({
      'grpc.keepalive_permit_without_calls': 1, 'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      // Agents send CSR batches (≤ 500 × ~300 B) and attestation evidence (≤ 64 KiB):
      // nothing legitimate comes near 1 MiB, so unauthenticated callers cannot make us buffer 4 MiB.
      'grpc.max_receive_message_length': AGENT_API_MAX_MESSAGE_BYTES,
    });
    // Issuance acknowledges its audit records once queued, not committed (docs/audit.md "Durability per event kind").
    const issuanceStore = issuanceAuditStore(store, { logger });
    agentServer.addService(loadAgentProto().tessera.v1.AgentService.service, agentServiceHandlers({
      trustDomain: td, ca, signer, store: issuanceStore, view: index, authn, clock, logger,
      attestation: { trustDomain: td, methods, store: issuanceStore, signer, clock, logger: logger.child({ component: 'attestation' }), agentSvidTtlSeconds: cfg.svid.agent_ttl },
      x509SvidTtlSeconds: cfg.svid.x509_ttl, jwtSvidTtlSeconds: cfg.svid.jwt_ttl, agentSvidTtlSeconds: cfg.svid.agent_ttl, witSvidTtlSeconds: cfg.svid.wit_ttl, audit,
      observer: metrics, foreignBundles: federation.foreign,
    }));
    const port = await bind(agentServer, cfg.agent_api.listen, svid.credentials);
    cleanups.push(() => shutdown(agentServer));
    const host = cfg.agent_api.listen.slice(0, cfg.agent_api.listen.lastIndexOf(':'));
    const agentAddress = `${host}:${port}`;

    // Admin API: only the server's user can reach the socket (0700 directory). Each connection is
    // pinned to its peer's kernel credentials; every handler runs with them and every audit record
    // it appends names the caller (server/api/admin-caller.ts, docs/audit.md "Admin changes").
    const adminServer = new grpc.Server();
    const adminListener = new PeerListener({
      name: 'admin', socketPath: cfg.adminSocket, mode: 0o600, logger, capture: (sock) => capturePeerCredentials(sock),
      sink: adminServer.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    });
    const adminStore = adminAuditStore(store);
    const serveAdmin = <H extends object>(service: grpc.ServiceDefinition, handlers: H) =>
      adminServer.addService(service, withAdminCaller(handlers, (peer) => adminListener.lookup(peer)) as grpc.UntypedServiceImplementation);
    const admin = adminHandlers({
      trustDomain: td, store: adminStore, ca, authn, clock, logger, joinTokenTtlSeconds: cfg.join_token.default_ttl,
      x509SvidTtlSeconds: cfg.svid.x509_ttl, jwtSvidTtlSeconds: cfg.svid.jwt_ttl, jwtIssuer: cfg.oidc_discovery?.issuer,
    });
    const adminProto = loadAdminProto().tessera.v1;
    serveAdmin(adminProto.EntryAdmin.service, admin.entry);
    serveAdmin(adminProto.AgentAdmin.service, admin.agent);
    serveAdmin(adminProto.BundleAdmin.service, admin.bundle);
    serveAdmin(adminProto.LocalAuthorityAdmin.service, admin.localAuthority);
    serveAdmin(adminProto.SvidAdmin.service, admin.svid);
    serveAdmin(adminProto.DelegationAdmin.service, delegationAdminHandlers({ store: adminStore, clock, logger, maxTokenTtl: cfg.oauth?.token_ttl }));
    serveAdmin(adminProto.AuditAdmin.service, auditAdminHandlers({ store: adminStore, audit, logger }));
    serveAdmin(adminProto.ClientAdmin.service, clientAdminHandlers({ store: adminStore, clock, logger }));
    serveAdmin(adminProto.FederationAdmin.service, federationAdminHandlers({ trustDomain: td, manager: federation.manager, store: adminStore, clock, logger }));
    prepareAdminSocketDir(dirname(cfg.adminSocket), cfg.admin_api.socket === undefined);
    if (existsSync(cfg.adminSocket)) rmSync(cfg.adminSocket); // stale socket from an unclean exit
    // umask 077 while binding: the socket is never reachable by others, not even before its chmod.
    const umask = process.umask(0o077);
    try {
      await adminListener.listen();
    } finally { process.umask(umask); }
    cleanups.push(async () => {
      const closed = adminListener.close();
      await shutdown(adminServer);
      adminListener.destroyAll();
      await closed;
      adminListener.unlinkSocket();
    });

    // Files for agents, tests and operators.
    const writePublic = (name: string, text: string) => {
      const p = join(cfg.data_dir, name);
      writeFileSync(`${p}.tmp`, text, { mode: 0o644 });
      renameSync(`${p}.tmp`, p);
    };
    const publishBundle = () => {
      writePublic(BUNDLE_FILE, certificatesToPem(ca.x509Authorities()));
      writePublic(FINGERPRINT_FILE, ca.fingerprint() + '\n');
    };
    publishBundle();
    ca.onChange((ev) => { if (ev === 'bundle') publishBundle(); });
    writePublic(ADDRESS_FILE, agentAddress + '\n');

    // OAuth authorization server (docs/delegation.md), when configured; writes oauth.addr.
    let oauthAddress: string | undefined;
    let ssfDone: Promise<void> | undefined;
    if (cfg.oauth) {
      const core = await openDelegationCore({ store, clock, logger, tokenTtl: cfg.oauth.token_ttl, heartbeatMs: cfg.oauth.revocation_heartbeat * 1000 });
      cleanups.push(() => core.close());
      // The token endpoint reports through a module-level set: one server per process in production.
      const observeToken = (grant: string, outcome: string) => metrics.tokenRequest(grant, outcome);
      tokenRequestObservers.add(observeToken);
      cleanups.push(() => { tokenRequestObservers.delete(observeToken); });
      const ssf = new SharedSignals();
      const oauth = await startOAuthServer({
        cfg: cfg.oauth, dataDir: cfg.data_dir, ca, svid, store, core, refreshHintSeconds: cfg.bundle.refresh_hint, clock, logger,
        routes: [...(audit ? auditRoutes(audit) : []), ...ssf.routes()],
      });
      cleanups.push(() => oauth.close());
      oauthAddress = oauth.address;
      // OpenID Shared Signals transmitter (docs/shared-signals.md): its routes answer 503 until this runs.
      ssfDone = ssf.start({
        issuer: oauth.issuer, keys: oauth.keys, core, store, ca, clock, logger, cacheSeconds: cfg.bundle.refresh_hint, signal,
      });
    }

    // Long-running loops.
    const loops = [
      ca.run(signal),
      svid.run(signal),
      housekeeping(store, clock, logger, signal),
      federation.done,
      ...(audit ? [audit.run(signal)] : []),
      ...(ssfDone ? [ssfDone] : []),
    ];

    logger.info('tessera server started', {
      trust_domain: td.name, agent_api: agentAddress, admin_socket: cfg.adminSocket, ca_fingerprint: ca.fingerprint(),
      upstream_ca: upstream !== undefined, node_attestors: [...methods.keys()], datastore: cfg.datastore.kind,
      ...(oauthAddress ? { oauth_api: oauthAddress } : {}), ...(ops ? { metrics_api: ops.address } : {}),
    });

    return {
      agentAddress, adminSocket: cfg.adminSocket, caFingerprint: ca.fingerprint(), ca, store, oauthAddress, metrics, metricsAddress: ops?.address,
      async stop() {
        // Not ready from the first moment of a stop: probes see the listener gone.
        await ops?.close();
        aborter.abort();
        await Promise.allSettled(loops);
        for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((e) => logger.warn('cleanup failed', { err: e }));
        if (existsSync(cfg.adminSocket)) rmSync(cfg.adminSocket, { force: true });
        logger.info('tessera server stopped');
      },
    };
  } catch (e) {
    return fail(e);
  }
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => {
    if (err) reject(new ConfigError(`cannot listen on ${address}: ${err.message}`));
    else resolve(port);
  }));
}

function shutdown(server: grpc.Server, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
    server.tryShutdown(() => { clearTimeout(timer); resolve(); });
  });
}

const AGENT_API_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * The admin socket's directory is what keeps other users out. Our own default directory
 * is (re)made 0700; a configured one must already be private (owned by us, no group or
 * other access): chmod-ing an operator's shared directory (say /run) would break the host.
 */
export function prepareAdminSocketDir(dir: string, ours: boolean): void {
  if (ours || !existsSync(dir)) { ensurePrivateDir(dir); return; }
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new ConfigError(`config: admin_api.socket: directory ${dir} must be owned by this user and closed to others `
      + `(mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid}); use a dedicated directory such as /run/tessera-server`);
  }
}

/** The change log is kept this long: far beyond any reconnect gap a follower server must catch up on. */
const CHANGE_LOG_RETENTION_S = 7 * 86_400;

/**
 * Hourly housekeeping: drops expired join tokens (consumption checks expiry itself;
 * this only keeps the table small) and change-log rows older than the retention.
 */
async function housekeeping(store: Datastore, clock: Clock, logger: Logger, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const now = Math.floor(clock.now() / 1000);
    try {
      const n = await store.pruneJoinTokens(now);
      if (n > 0) logger.debug('pruned expired join tokens', { count: n });
    } catch (e) { logger.warn('join token pruning failed', { err: e }); }
    try {
      const n = await store.pruneChanges(now - CHANGE_LOG_RETENTION_S);
      if (n > 0) logger.debug('pruned change log', { count: n });
    } catch (e) { logger.warn('change log pruning failed', { err: e }); }
    try { await clock.sleep(3_600_000 * (0.9 + Math.random() * 0.2), signal); } catch { return; }
  }
}
