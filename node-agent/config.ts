import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  applyEnvOverrides, c, checkConfigFile, ConfigValidationError, fromField, isPlainObject, optionalField, parseWith, presentSections, readConfigDocument, validate,
  type ConfigCheck, type EnvOverride, type Validated,
} from '../common/config.ts';
import { SpiffeId, TrustDomain } from '../spiffe/id.ts';
import { AGENT_ATTESTOR_FACTORIES } from './bootstrap/methods.ts';
import { WORKLOAD_ATTESTOR_FACTORIES } from './attestation/workload-methods.ts';
import { parseFingerprint } from '../spiffe/fingerprint.ts';
import { defaultSocketPath } from './workload-api/socket-path.ts';
import type { SdsOptions } from './sds/options.ts';

/**
 * tessera-agent's YAML config: one zod schema, checked once at start (and by
 * `tessera-agent config check FILE`); every problem is reported with its full key path
 * and what is allowed (common/config.ts). The environment (secrets) and then CLI flags
 * are applied to the raw document before validation, so all three go through the same
 * checks. docs/config.md is generated from this schema (scripts/gen-config-docs.ts).
 */

export interface AgentConfig {
  serverAddress: string;
  /** More servers of the same trust domain (one shared store) to fail over to, after serverAddress. */
  serverAddresses: string[];
  trustDomain: TrustDomain;
  /** Exactly one of trustBundlePath / caFingerprint (hex SHA-256) says how to trust the server at first contact. */
  trustBundlePath?: string;
  caFingerprint?: string;
  dataDir: string;
  socketPath: string;
  nodeAttestor: { method: string; config: unknown };
  /** workload_attestors.<name> -> that attestor's section (validated, raw). */
  workloadAttestors: Record<string, unknown>;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Per-instance SVIDs unused this long (or whose process exited) are dropped. Seconds. */
  instanceIdleTimeout: number;
  /**
   * How long the workload attestation composer lets each non-unix attestor run (ms):
   * longer than the slowest enabled attestor's own worst case, see attestorTimeoutMs.
   */
  workloadAttestorTimeoutMs: number;
  /** The Workload API endpoint (workload_api section). */
  workloadApi: {
    /** A connection without a call in progress for this long is closed by the agent (ms). */
    idleTimeoutMs: number;
  };
  /** Token exchange on the Workload API socket (delegation section; docs/agent.md). */
  delegation: {
    /** The authorization server's token endpoint; absent = the Delegation RPC answers FailedPrecondition. */
    tokenEndpoint?: string;
  };
  /** The /metrics, /live and /ready listener (metrics section); absent = off. */
  metrics?: { listen: string };
  /** The SPIFFE Broker Endpoint (broker section; docs/broker-api.md); absent = off. */
  broker?: { socketPath: string; allow: { spiffeId: string; referenceTypes?: ('pid' | 'kubernetes_object')[] }[] };
  /** Envoy SDS on the Workload API socket (sds section; docs/envoy-sds.md). */
  sds: SdsOptions;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
export const defaultDataDir = () => (isRoot() ? '/var/lib/tessera/agent' : join(homedir(), '.tessera', 'agent'));

/** The composer's own default per-attestor timeout; never go below it. */
export const COMPOSER_DEFAULT_TIMEOUT_MS = 5_000;
/** Headroom over an attestor's worst case for scheduling and /proc reads on a loaded host. */
export const ATTESTOR_TIMEOUT_MARGIN_MS = 1_000;

/**
 * Composer timeout for the enabled attestors' parsed sections: the slowest worst case
 * (each factory's `worstCaseMs`) + margin, at least the composer's default, so an
 * attestor's own error (k8s: "pod … is not known … after waiting 4s") is never
 * replaced by the composer's generic "timed out".
 */
export function attestorTimeoutMs(parsed: Record<string, unknown>): number {
  let ms = COMPOSER_DEFAULT_TIMEOUT_MS;
  for (const [name, section] of Object.entries(parsed)) {
    const worst = WORKLOAD_ATTESTOR_FACTORIES.find((f) => f.name === name)?.worstCaseMs?.(section);
    if (worst !== undefined) ms = Math.max(ms, Math.ceil(worst) + ATTESTOR_TIMEOUT_MARGIN_MS);
  }
  return ms;
}

const known = (what: string) => (keys: string[]) => `unknown ${what} (known: ${keys.join(', ') || 'none'})`;

/**
 * node_attestor: { method: <name>, <name>: { ...that method's section } }. One option
 * per method; the section may be left out (its defaults apply).
 */
const methods = AGENT_ATTESTOR_FACTORIES.map((f) => f.method);
const nodeAttestor = z.discriminatedUnion('method', AGENT_ATTESTOR_FACTORIES.map((f) => z.strictObject(
  { method: z.literal(f.method), [f.method]: fromField(f.config) },
  { error: (i) => (i.code === 'unrecognized_keys' ? `unknown key (a section must be named after the method, "${f.method}")` : undefined) },
)) as unknown as [z.ZodObject, ...z.ZodObject[]], {
  error: (i) => {
    if (i.input === undefined) return `is required (e.g. method: join_token; known: ${methods.join(', ')})`;
    if (i.code !== 'invalid_union') return undefined;
    const method = (i.input as Record<string, unknown>)?.method;
    return method === undefined ? `is required (known: ${methods.join(', ')})` : `unknown node attestor ${JSON.stringify(method)} (known: ${methods.join(', ')})`;
  },
}).transform((v) => ({ method: v.method as string, config: (v as Record<string, unknown>)[v.method as string] }));

const workloadAttestors = c.object(
  Object.fromEntries(WORKLOAD_ATTESTOR_FACTORIES.map((f) => [f.name, optionalField(f.config).describe(`enables the ${f.name} workload attestor (docs/workload-attestation.md)`)])),
  { unknownKey: known('workload attestor') },
).prefault({}) as unknown as z.ZodType<Record<string, unknown>>;

const trustDomain = c.string({ nonEmpty: true }).transform((v, ctx) => {
  try { return TrustDomain.parse(v); } catch (e) { ctx.issues.push({ code: 'custom', input: v, message: (e as Error).message }); return z.NEVER; }
});

const fingerprint = c.string({ nonEmpty: true }).transform((v, ctx) => {
  try { return parseFingerprint(v); } catch (e) { ctx.issues.push({ code: 'custom', input: v, message: (e as Error).message }); return z.NEVER; }
});

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d{1,5}$/;

const fields = z.strictObject({
  server_address: c.string({ pattern: ADDRESS, format: 'host:port of the server agent API' }).describe('the server\'s agent API'),
  server_addresses: c.array(c.string({ pattern: ADDRESS, format: 'host:port of a server agent API' }), { default: [] })
    .describe('more servers sharing the first one\'s store (HA): tried in order when the current one cannot be reached, without re-attesting'),
  trust_domain: trustDomain.describe('the trust domain, e.g. example.org'),
  trust_bundle_path: c.string({ nonEmpty: true }).optional().describe('CA certificates (PEM, or a SPIFFE bundle) that validate the server at first contact'),
  ca_fingerprint: fingerprint.optional().describe('instead of trust_bundle_path: SHA-256 of the server CA certificate (as the server prints it)'),
  data_dir: c.string({ nonEmpty: true }).optional().describe('agent key, SVID and bundle (0700); default /var/lib/tessera/agent as root, else ~/.tessera/agent'),
  socket_path: c.string({ nonEmpty: true }).optional().describe('Workload API socket; default /run/tessera/agent.sock as root, else /tmp/tessera/agent.sock'),
  node_attestor: nodeAttestor.describe('how the agent attests its host: method plus that method\'s section'),
  workload_attestors: workloadAttestors.describe('workload attestors besides unix (always on), each enabled by its key'),
  log_level: c.enum(['debug', 'info', 'warn', 'error'], { default: 'info' }).describe('JSON log lines on stderr at this level and above'),
  instance_idle_timeout: c.duration({ default: 600, min: 1 }).describe('per-instance SVIDs unused this long (or whose process exited) are dropped'),
  workload_api: c.section({
    idle_timeout: c.duration({ default: 30, min: 1 }).describe('a connection without a call in progress for this long is closed (clients reconnect)'),
  }).describe('the Workload API endpoint'),
  delegation: c.section({
    token_endpoint: c.string({ pattern: /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, format: 'an https:// URL' }).optional()
      .describe('the authorization server\'s token endpoint for token exchange on the Workload API socket'),
  }).describe('token exchange on the Workload API socket (docs/agent.md)'),
  sds: c.section({
    default_svid_name: c.string({ default: 'default', nonEmpty: true }).describe('SDS resource name of the caller\'s default X.509-SVID'),
    default_bundle_name: c.string({ default: 'ROOTCA', nonEmpty: true }).describe('SDS resource name of the agent\'s own trust domain bundle'),
    default_all_bundles_name: c.string({ default: 'ALL', nonEmpty: true }).describe('SDS resource name of the own and federated bundles together (SPIFFE validator only)'),
    disable_spiffe_cert_validation: c.boolean({ default: false })
      .describe('send plain trusted_ca instead of the envoy.tls.cert_validator.spiffe config (Envoy node metadata can override)'),
  }).describe('Envoy Secret Discovery Service on the Workload API socket, SPIRE\'s resource names (docs/envoy-sds.md)'),
  broker: c.object({
    socket_path: c.string({ nonEmpty: true }).describe('the Broker Endpoint\'s own Unix socket (mTLS with X.509-SVIDs), separate from socket_path'),
    allow: c.array(c.object({
      spiffe_id: c.string({ nonEmpty: true }).transform((v, ctx) => {
        try { return SpiffeId.parse(v).toString(); } catch (e) { ctx.issues.push({ code: 'custom', input: v, message: (e as Error).message }); return z.NEVER; }
      }).describe('SPIFFE ID of a broker allowed to call (its X.509-SVID, verified against the agent\'s trust bundle)'),
      reference_types: c.array(c.enum(['pid', 'kubernetes_object'])).optional().describe('the only workload reference types it may use; default all'),
    })).refine((a) => a.length > 0, 'list at least one broker (the policy is allow-only)').describe('the allow-only policy: brokers that may call; every other caller is PermissionDenied'),
  }).optional().describe('the SPIFFE Broker API on its own socket, for brokers fetching SVIDs on behalf of workloads (docs/broker-api.md); off when absent'),
  metrics: c.object({
    listen: c.string({ default: '127.0.0.1:9989', pattern: ADDRESS, format: 'host:port (port 0 picks a free one)' })
      .describe('HTTP listener for /metrics, /live and /ready; the bound address is written to <data_dir>/metrics.addr'),
  }).optional().describe('Prometheus metrics and health endpoints (docs/metrics.md); off when absent'),
});

/** The whole agent config schema (docs/config.md is rendered from it). */
export const agentConfigSchema = fields.superRefine((v, ctx) => {
  if (!v.trust_bundle_path && !v.ca_fingerprint) {
    ctx.addIssue({ code: 'custom', path: [], message: 'set trust_bundle_path or ca_fingerprint (how the agent trusts the server at first contact)' });
  }
});

const normalize = (raw: unknown) => presentSections(raw ?? {}, 'workload_attestors');

function toAgentConfig(v: z.output<typeof fields>, raw: unknown): AgentConfig {
  // The composer parses each workload attestor section again itself: it gets the raw sections.
  const rawSections = (isPlainObject(raw) && isPlainObject(raw.workload_attestors) ? raw.workload_attestors : {}) as Record<string, unknown>;
  return {
    serverAddress: v.server_address,
    serverAddresses: v.server_addresses,
    trustDomain: v.trust_domain,
    trustBundlePath: v.trust_bundle_path,
    caFingerprint: v.ca_fingerprint,
    dataDir: v.data_dir ?? defaultDataDir(),
    socketPath: v.socket_path ?? defaultSocketPath(),
    nodeAttestor: v.node_attestor,
    workloadAttestors: Object.fromEntries(Object.keys(v.workload_attestors).map((k) => [k, rawSections[k] ?? {}])),
    logLevel: v.log_level,
    instanceIdleTimeout: v.instance_idle_timeout,
    workloadAttestorTimeoutMs: attestorTimeoutMs(v.workload_attestors),
    workloadApi: { idleTimeoutMs: Math.round(v.workload_api.idle_timeout * 1000) },
    delegation: { tokenEndpoint: v.delegation.token_endpoint },
    sds: {
      defaultSvidName: v.sds.default_svid_name, defaultBundleName: v.sds.default_bundle_name,
      defaultAllBundlesName: v.sds.default_all_bundles_name, disableSpiffeCertValidation: v.sds.disable_spiffe_cert_validation,
    },
    ...(v.metrics ? { metrics: v.metrics } : {}),
    ...(v.broker ? { broker: { socketPath: v.broker.socket_path, allow: v.broker.allow.map((a) => ({ spiffeId: a.spiffe_id, ...(a.reference_types ? { referenceTypes: a.reference_types } : {}) })) } } : {}),
  };
}

export function validateAgentConfig(raw: unknown): Validated<AgentConfig> {
  const doc = normalize(raw);
  const r = validate(agentConfigSchema, doc);
  return r.ok ? { ok: true, value: toAgentConfig(r.value, doc) } : r;
}

/** Validates a raw (YAML-decoded, overridden) document into the agent config. */
export function parseAgentConfig(raw: unknown): AgentConfig {
  const doc = normalize(raw);
  return toAgentConfig(parseWith(agentConfigSchema, doc), doc);
}

/** Secrets may come from the environment instead of the file (the variable wins, a flag beats both). */
export const AGENT_ENV_OVERRIDES: readonly EnvOverride[] = [{
  name: 'TESSERA_JOIN_TOKEN', path: 'node_attestor.join_token.token',
  description: 'the join token to attest with (node_attestor.method must be join_token, or node_attestor absent); replaces token_file',
  apply(doc, token) {
    const na = doc.node_attestor ?? { method: 'join_token' };
    if (!isPlainObject(na)) return 'node_attestor must be a map';
    const method = na.method ?? 'join_token';
    if (method !== 'join_token') return `node_attestor.method is ${JSON.stringify(method)}, not join_token`;
    const section: Record<string, unknown> = isPlainObject(na.join_token) ? { ...na.join_token } : {};
    delete section.token_file;
    doc.node_attestor = { ...na, method, join_token: { ...section, token } };
    return undefined;
  },
}];

/** Flag overrides, applied onto the raw document (a flag beats the environment and the file). */
export interface AgentConfigOverrides {
  serverAddress?: string;
  trustDomain?: string;
  trustBundlePath?: string;
  caFingerprint?: string;
  dataDir?: string;
  socketPath?: string;
  joinToken?: string;
  logLevel?: string;
}

/** The environment overrides (AGENT_ENV_OVERRIDES), then the flags. */
export function applyOverrides(raw: Record<string, unknown>, o: AgentConfigOverrides, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const overrides = o.joinToken !== undefined ? AGENT_ENV_OVERRIDES.filter((x) => x.name !== 'TESSERA_JOIN_TOKEN') : AGENT_ENV_OVERRIDES;
  const fromEnv = applyEnvOverrides(raw, overrides, env);
  if (fromEnv.issues.length > 0) throw new ConfigValidationError(fromEnv.issues);
  const out: Record<string, unknown> = fromEnv.doc;
  if (o.serverAddress !== undefined) out.server_address = o.serverAddress;
  if (o.trustDomain !== undefined) out.trust_domain = o.trustDomain;
  // The two trust options are alternatives: a flag for one replaces the file's other.
  if (o.trustBundlePath !== undefined) { out.trust_bundle_path = o.trustBundlePath; delete out.ca_fingerprint; }
  if (o.caFingerprint !== undefined) { out.ca_fingerprint = o.caFingerprint; delete out.trust_bundle_path; }
  if (o.dataDir !== undefined) out.data_dir = o.dataDir;
  if (o.socketPath !== undefined) out.socket_path = o.socketPath;
  if (o.joinToken !== undefined) out.node_attestor = { method: 'join_token', join_token: { token: o.joinToken } };
  if (o.logLevel !== undefined) out.log_level = o.logLevel;
  return out;
}

/** The config file with its environment overrides, checked; issues listed rather than thrown. */
export function checkAgentConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck<AgentConfig> {
  return checkConfigFile(path, { env, overrides: AGENT_ENV_OVERRIDES, validate: validateAgentConfig });
}

/**
 * Where a config file's metrics listener is, reading only `data_dir` and `metrics`
 * (the `healthcheck` verb: a probe must not fail over a secret it does not need).
 */
export function agentMetricsTarget(path: string): { listen: string; dataDir: string } | undefined {
  const v = parseWith(z.object({ data_dir: fields.shape.data_dir, metrics: fields.shape.metrics }), readConfigDocument(path));
  return v.metrics ? { listen: v.metrics.listen, dataDir: v.data_dir ?? defaultDataDir() } : undefined;
}
