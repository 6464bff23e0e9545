import { join } from 'node:path';
import { z } from 'zod';
import {
  c, checkConfigFile, fromField, optionalField, parseWith, presentSections, readConfigDocument, validate,
  type ConfigCheck, type EnvOverride, type Validated,
} from '../common/config.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { SERVER_ATTESTOR_FACTORIES } from './attestation/methods.ts';
import { oauthConfigField } from './oauth/config.ts';
import { federationConfigSchema, oidcDiscoveryConfigSchema } from './federation/config.ts';

/**
 * tessera-server's YAML config: one zod schema, checked once at start (and by
 * `tessera-server config check FILE`); every problem is reported with its full key
 * path and what is allowed (common/config.ts). Defaults follow SPIRE's (X.509-SVID 1h,
 * JWT-SVID 5m, CA 24h). docs/config.md is generated from this schema
 * (scripts/gen-config-docs.ts): the descriptions below are that page.
 */

export const LISTEN_PATTERN = /^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/;
const listen = (def: string) => c.string({ default: def, pattern: LISTEN_PATTERN, format: 'host:port (port 0 picks a free one)' });

const trustDomain = c.string({ nonEmpty: true }).transform((v, ctx) => {
  try { return TrustDomain.parse(v); } catch (e) {
    ctx.issues.push({ code: 'custom', input: v, message: (e as Error).message });
    return z.NEVER;
  }
});

const known = (what: string) => (keys: string[]) => `unknown ${what} (known: ${keys.join(', ')})`;

/** Where each method's settings are explained (the attestors' schemas carry no descriptions). */
const METHOD_DOCS: Record<string, string> = {
  tpm: 'docs/tpm.md', aws_iid: 'docs/cloud-attestation.md', gcp_iit: 'docs/cloud-attestation.md',
  azure_msi: 'docs/cloud-attestation.md', azure_imds: 'docs/cloud-attestation.md', k8s_psat: 'docs/kubernetes.md',
};

/** node_attestors.<method>: each method's own section schema; a method is enabled by its key. */
const nodeAttestors = c.object(
  Object.fromEntries(SERVER_ATTESTOR_FACTORIES.map((f) => [f.method, optionalField(f.config).describe(`enables ${f.method} node attestation${METHOD_DOCS[f.method] ? ` (${METHOD_DOCS[f.method]})` : ''}`)])),
  { unknownKey: known('node attestor') },
).prefault({ join_token: {} }) as unknown as z.ZodType<Record<string, unknown>>;

const fields = z.strictObject({
  trust_domain: trustDomain.describe('the trust domain this server is the authority of, e.g. example.org'),
  data_dir: c.string({ default: '/var/lib/tessera/server', nonEmpty: true }).describe('CA keys, SQLite datastore, admin socket and the files agents read (bundle.pem, ca.fingerprint)'),
  log_level: c.enum(['debug', 'info', 'warn', 'error'], { default: 'info' }).describe('JSON log lines on stderr at this level and above'),
  agent_api: c.section({
    listen: listen('0.0.0.0:8081').describe('agent API (mTLS); the bound address is written to <data_dir>/agent-api.addr'),
    dns_names: c.array(c.string({ nonEmpty: true }), { default: ['localhost'] }).describe('DNS SANs of the server SVID (agents verify it by SPIFFE ID, not by name)'),
    ip_addresses: c.array(c.string({ pattern: /^[0-9a-fA-F.:]+$/, format: 'an IP address' }), { default: ['127.0.0.1'] }).describe('IP SANs of the server SVID'),
  }).describe('the API agents call (gRPC over mTLS with the server SVID)'),
  admin_api: c.section({
    socket: c.string({ pattern: /^\/./, format: 'an absolute path' }).optional()
      .describe('admin socket; default <data_dir>/admin/admin.sock (its directory is made 0700); a configured directory must already be private'),
  }).describe('the admin API the CLI verbs use (gRPC on a Unix socket only this user can reach)'),
  ca: c.section({
    ttl: c.duration({ default: 86400, min: 10 }).describe('lifetime of each CA; the next one is prepared and activated before it ends'),
    upstream: c.object({
      cert_file: c.string({ nonEmpty: true }).describe('PEM certificate of the upstream CA'),
      key_file: c.string({ nonEmpty: true }).describe('PEM private key of the upstream CA'),
      bundle_file: c.string({ nonEmpty: true }).optional().describe('PEM root(s) agents trust; default: the self-signed certificate(s) in cert_file'),
    }).optional().describe('an upstream CA on disk: the server becomes an intermediate and bundles carry the upstream root'),
    subject: c.section({
      organization: c.string({ default: 'Tessera' }).describe('O of the CA certificate'),
      common_name: c.string({ default: 'Tessera CA' }).describe('CN of the CA certificate'),
    }).describe('subject of the CA certificates'),
    signing_workers: c.number({ default: 0, min: 0, max: 256, integer: true })
      .describe('worker threads that check CSRs and sign X.509-SVIDs (docs/performance.md#every-core); 0: on the event loop and the libuv threadpool'),
  }).describe('the trust domain\'s CA (docs/server.md)'),
  svid: c.section({
    x509_ttl: c.duration({ default: 3600, min: 10 }).describe('X.509-SVID lifetime unless the entry sets one; must be shorter than ca.ttl'),
    jwt_ttl: c.duration({ default: 300, min: 10 }).describe('JWT-SVID lifetime unless the entry sets one'),
    agent_ttl: c.duration({ default: 3600, min: 10 }).describe('lifetime of agent SVIDs (renewed at half-life)'),
    wit_ttl: c.duration({ default: 1800, min: 10 }).describe('WIT-SVID lifetime (docs/wit-svid.md)'),
  }).describe('default SVID lifetimes'),
  bundle: c.section({
    refresh_hint: c.duration({ default: 300, min: 1 }).describe('refresh hint published in the trust bundle'),
  }).describe('the published trust bundle'),
  datastore: c.section({
    kind: c.enum(['sqlite', 'postgres'], { default: 'sqlite' }).describe('sqlite (embedded, one server) or postgres (several servers, one store)'),
    connection: c.string({ nonEmpty: true }).optional()
      .describe('sqlite: file path (default <data_dir>/datastore.sqlite3); postgres: connection string (required); env TESSERA_DATASTORE_CONNECTION_STRING'),
    connect_timeout: c.duration({ min: 0.01 }).optional().describe('postgres: connection deadline (default 5s)'),
    statement_timeout: c.duration({ min: 0.01 }).optional().describe('postgres: per-statement deadline (default 10s)'),
    pool_wait_timeout: c.duration({ min: 0.01 }).optional().describe('postgres: wait for a pooled connection (default 5s)'),
    keepalive: c.duration({ min: 0.01 }).optional().describe('postgres: TCP keepalive idle time (default 10s)'),
  }).describe('where entries, agents, bundles and the change feed live (docs/datastore.md)'),
  join_token: c.section({
    default_ttl: c.duration({ default: 600, min: 1 }).describe('lifetime of join tokens made without --ttl'),
  }).describe('join tokens (`tessera-server token generate`)'),
  node_attestors: nodeAttestors.describe('node attestation methods this server accepts (default: join_token only)'),
  oauth: fromField(oauthConfigField).describe('the OAuth authorization server (docs/delegation.md, docs/mcp.md); off when absent'),
  audit: c.section({
    enabled: c.boolean({ default: true }).describe('false: no issuance events and no checkpoints (appendAudit records still land in the log)'),
    checkpoint_interval: c.duration({ default: 10, min: 0.05 }).describe('how often a signed checkpoint is written'),
    origin: c.string({ pattern: /^[^\s+]+$/, format: 'a checkpoint origin without spaces or "+"' }).optional()
      .describe('checkpoint origin and key name; default "<trust_domain>/tessera/audit"'),
    key_file: c.string({ nonEmpty: true }).optional()
      .describe('Ed25519 PKCS#8 PEM shared by servers on one database; default <data_dir>/audit/audit-key.pem (created)'),
  }).describe('the transparency log (docs/audit.md)'),
  federation: federationConfigSchema.describe('SPIFFE federation: this trust domain\'s bundle endpoint and relationships with others (docs/federation.md); off when absent'),
  oidc_discovery: oidcDiscoveryConfigSchema.describe('OpenID Connect discovery for JWT-SVIDs (docs/oidc-discovery.md); off when absent'),
  metrics: c.object({
    listen: listen('127.0.0.1:9988').describe('HTTP listener for /metrics, /live and /ready; the bound address is written to <data_dir>/metrics.addr'),
  }).optional().describe('Prometheus metrics and health endpoints (docs/metrics.md); off when absent'),
});

type Fields = z.output<typeof fields>;

export interface ServerConfig extends Fields {
  /** Resolved admin socket path. */
  adminSocket: string;
}

/** The whole server config schema (docs/config.md is rendered from it). */
export const serverConfigSchema: z.ZodType<ServerConfig> = fields
  .superRefine((v, ctx) => {
    if (v.datastore.kind === 'postgres' && !v.datastore.connection) {
      ctx.addIssue({ code: 'custom', path: ['datastore', 'connection'], message: 'is required when datastore.kind is postgres (or set TESSERA_DATASTORE_CONNECTION_STRING)' });
    }
    if (v.svid.x509_ttl >= v.ca.ttl) ctx.addIssue({ code: 'custom', path: ['svid', 'x509_ttl'], message: `must be shorter than ca.ttl (${v.ca.ttl}s)` });
  })
  .transform((v) => ({ ...v, adminSocket: v.admin_api.socket ?? join(v.data_dir, 'admin', 'admin.sock') }));

/** Secrets may come from the environment instead of the file (the variable wins). */
export const SERVER_ENV_OVERRIDES: readonly EnvOverride[] = [
  {
    name: 'TESSERA_DATASTORE_CONNECTION_STRING', path: 'datastore.connection',
    description: 'the datastore connection: a PostgreSQL connection string with its password (or an SQLite file path)',
  },
  {
    name: 'TESSERA_OAUTH_LOGIN_CLIENT_SECRET', path: 'oauth.login.client_secret',
    description: 'the client secret Tessera uses at the upstream OpenID Provider (oauth.login must be configured)',
    apply(doc, value) {
      const login = (doc.oauth as Record<string, unknown> | undefined)?.login;
      if (typeof login !== 'object' || login === null || Array.isArray(login)) return 'oauth.login is not configured';
      (login as Record<string, unknown>).client_secret = value;
      return undefined;
    },
  },
];

/** `node_attestors: { join_token: }` (YAML null) enables the method with its defaults. */
const normalize = (raw: unknown) => presentSections(raw, 'node_attestors');

export function validateServerConfig(raw: unknown): Validated<ServerConfig> {
  return validate(serverConfigSchema, normalize(raw));
}

/** Validates a document (no environment): tests and callers holding a parsed document. */
export function parseServerConfig(raw: unknown): ServerConfig {
  return parseWith(serverConfigSchema, normalize(raw));
}

/** The config file with its environment overrides, checked; issues listed rather than thrown. */
export function checkServerConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck<ServerConfig> {
  return checkConfigFile(path, { env, overrides: SERVER_ENV_OVERRIDES, validate: validateServerConfig });
}

/** The config file with its environment overrides; throws a ConfigError listing every problem. */
export function loadServerConfig(path: string, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  return checkServerConfigFile(path, env).orThrow();
}

/**
 * Where a config file's metrics listener is, reading only `data_dir` and `metrics`
 * (the `healthcheck` verb: a probe must not fail over a secret it does not need).
 */
export function serverMetricsTarget(path: string): { listen: string; dataDir: string } | undefined {
  const v = parseWith(z.object({ data_dir: fields.shape.data_dir, metrics: fields.shape.metrics }), readConfigDocument(path));
  return v.metrics ? { listen: v.metrics.listen, dataDir: v.data_dir } : undefined;
}

/** The admin socket a config file names, reading only `data_dir` and `admin_api` (admin verbs need no datastore secret). */
export function serverAdminSocket(path: string): string {
  const v = parseWith(z.object({ data_dir: fields.shape.data_dir, admin_api: fields.shape.admin_api }), readConfigDocument(path));
  return v.admin_api.socket ?? join(v.data_dir, 'admin', 'admin.sock');
}
