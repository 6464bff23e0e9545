import { join } from 'node:path';
import { t, loadConfigFile, parseConfig, type Field } from '../common/config.ts';
import { ConfigError } from '../common/errors.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { SERVER_ATTESTOR_FACTORIES } from './attestation/methods.ts';
import { oauthConfigField } from './oauth/config.ts';

/**
 * tessera-server's YAML config. Validated once at start: an unknown key or a bad
 * value stops the server with a message naming the key (common/config.ts).
 * Defaults follow SPIRE's (X.509-SVID 1h, JWT-SVID 5m, CA 24h).
 */

/** `host:port`; port 0 picks a free one (the real address is logged and written to <data_dir>/agent-api.addr). */
const listenAddress = (def: string): Field<string> => t.string({ default: def, pattern: /^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/ });

/** node_attestors.<method>: each method validates its own section with its factory's schema. */
const nodeAttestors: Field<Record<string, unknown>> = {
  describe: 'map of node attestor configs',
  parse(v, p) {
    if (v === undefined || v === null) return { join_token: {} };
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config: ${p}: must be a map`);
    const out: Record<string, unknown> = {};
    for (const [method, section] of Object.entries(v as Record<string, unknown>)) {
      const f = SERVER_ATTESTOR_FACTORIES.find((x) => x.method === method);
      if (!f) {
        throw new ConfigError(`config: ${p}.${method}: unknown node attestor (known: ${SERVER_ATTESTOR_FACTORIES.map((x) => x.method).join(', ')})`);
      }
      out[method] = f.config.parse(section ?? {}, `${p}.${method}`);
    }
    return out;
  },
};

const schema = t.object({
  trust_domain: t.string({ nonEmpty: true }),
  data_dir: t.string({ default: '/var/lib/tessera/server', nonEmpty: true }),
  log_level: t.enum(['debug', 'info', 'warn', 'error'] as const, { default: 'info' }),
  agent_api: t.object({
    listen: listenAddress('0.0.0.0:8081'),
    /** DNS SANs of the server SVID (agents verify it by SPIFFE ID, not by name). */
    dns_names: t.array(t.string({ nonEmpty: true }), { default: ['localhost'] }),
    ip_addresses: t.array(t.string({ pattern: /^[0-9a-fA-F.:]+$/ }), { default: ['127.0.0.1'] }),
  }),
  admin_api: t.object({
    /** Default: <data_dir>/admin/admin.sock (the directory is made 0700). */
    socket: t.optional(t.string({ pattern: /^\/./ })),
  }),
  ca: t.object({
    ttl: t.duration({ default: 86400, min: 10 }),
    /** Upstream CA on disk: the server becomes an intermediate and bundles carry the upstream root. */
    upstream: t.optional(t.object({
      cert_file: t.string({ nonEmpty: true }),
      key_file: t.string({ nonEmpty: true }),
      /** PEM root(s) agents trust; default: the self-signed certificate(s) in cert_file. */
      bundle_file: t.optional(t.string({ nonEmpty: true })),
    })),
    subject: t.object({
      organization: t.string({ default: 'Tessera' }),
      common_name: t.string({ default: 'Tessera CA' }),
    }),
  }),
  svid: t.object({
    x509_ttl: t.duration({ default: 3600, min: 10 }),
    jwt_ttl: t.duration({ default: 300, min: 10 }),
    agent_ttl: t.duration({ default: 3600, min: 10 }),
  }),
  bundle: t.object({
    refresh_hint: t.duration({ default: 300, min: 1 }),
  }),
  datastore: t.object({
    kind: t.enum(['sqlite', 'postgres'] as const, { default: 'sqlite' }),
    /** sqlite: file path (default <data_dir>/datastore.sqlite3); postgres: connection string. */
    connection: t.optional(t.string({ nonEmpty: true })),
    /** postgres deadlines (docs/datastore.md); unset: 5s, 10s, 5s, 10s. */
    connect_timeout: t.optional(t.duration({ min: 0.01 })),
    statement_timeout: t.optional(t.duration({ min: 0.01 })),
    pool_wait_timeout: t.optional(t.duration({ min: 0.01 })),
    keepalive: t.optional(t.duration({ min: 0.01 })),
  }),
  join_token: t.object({
    default_ttl: t.duration({ default: 600, min: 1 }),
  }),
  node_attestors: nodeAttestors,
  /** The OAuth authorization server (docs/delegation.md); off when absent. */
  oauth: oauthConfigField,
  /** The transparency log (docs/audit.md). */
  audit: t.object({
    /** false: no issuance events and no checkpoints (appendAudit records still land in the log). */
    enabled: t.boolean({ default: true }),
    checkpoint_interval: t.duration({ default: 10, min: 0.05 }),
    /** Checkpoint origin and key name; default "<trust_domain>/tessera/audit". */
    origin: t.optional(t.string({ pattern: /^[^\s+]+$/ })),
    /** Ed25519 PKCS#8 PEM shared by servers on one database; default <data_dir>/audit/audit-key.pem (created). */
    key_file: t.optional(t.string({ nonEmpty: true })),
  }),
});

type Raw = ReturnType<typeof schema.parse>;

export interface ServerConfig extends Omit<Raw, 'trust_domain'> {
  trust_domain: TrustDomain;
  /** Resolved admin socket path. */
  adminSocket: string;
}

function finish(raw: Raw): ServerConfig {
  let td: TrustDomain;
  try { td = TrustDomain.parse(raw.trust_domain); } catch (e) {
    throw new ConfigError(`config: trust_domain: ${(e as Error).message}`);
  }
  if (raw.datastore.kind === 'postgres' && !raw.datastore.connection) {
    throw new ConfigError('config: datastore.connection: is required when datastore.kind is postgres');
  }
  if (raw.svid.x509_ttl >= raw.ca.ttl) throw new ConfigError(`config: svid.x509_ttl: must be shorter than ca.ttl (${raw.ca.ttl}s)`);
  const adminSocket = raw.admin_api.socket ?? join(raw.data_dir, 'admin', 'admin.sock');
  return { ...raw, trust_domain: td, adminSocket };
}

export function parseServerConfig(raw: unknown): ServerConfig {
  return finish(parseConfig(schema, raw));
}

export function loadServerConfig(path: string): ServerConfig {
  return finish(loadConfigFile(schema, path));
}
