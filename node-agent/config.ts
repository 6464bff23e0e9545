import { homedir } from 'node:os';
import { join } from 'node:path';
import { t, parseConfig, type Field } from '../common/config.ts';
import { ConfigError } from '../common/errors.ts';
import { TrustDomain } from '../spiffe/id.ts';
import { AGENT_ATTESTOR_FACTORIES } from './bootstrap/methods.ts';
import { WORKLOAD_ATTESTOR_FACTORIES } from './attestation/workload-methods.ts';
import { parseFingerprint } from '../spiffe/fingerprint.ts';
import { defaultSocketPath } from './workload-api/socket-path.ts';

/**
 * tessera-agent's YAML config, validated once at start: an unknown key or a bad value
 * stops the agent with a message naming the key. CLI flags are applied to the raw
 * document before validation, so flags and file go through the same checks.
 */

export interface AgentConfig {
  serverAddress: string;
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
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
export const defaultDataDir = () => (isRoot() ? '/var/lib/tessera/agent' : join(homedir(), '.tessera', 'agent'));

/** node_attestor: { method: <name>, <name>: { ...that method's section } } */
const nodeAttestor: Field<{ method: string; config: unknown }> = {
  describe: 'node attestor',
  parse(v, p) {
    if (v === undefined || v === null) throw new ConfigError(`config: ${p}: is required (e.g. method: join_token)`);
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config: ${p}: must be a map`);
    const raw = v as Record<string, unknown>;
    const method = raw.method;
    const known = AGENT_ATTESTOR_FACTORIES.map((f) => f.method);
    if (typeof method !== 'string') throw new ConfigError(`config: ${p}.method: is required (known: ${known.join(', ')})`);
    const f = AGENT_ATTESTOR_FACTORIES.find((x) => x.method === method);
    if (!f) throw new ConfigError(`config: ${p}.method: unknown node attestor "${method}" (known: ${known.join(', ')})`);
    for (const k of Object.keys(raw)) {
      if (k !== 'method' && k !== method) throw new ConfigError(`config: ${p}.${k}: unknown key (a section must be named after the method, "${method}")`);
    }
    return { method, config: f.config.parse(raw[method] ?? {}, `${p}.${method}`) };
  },
};

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

const workloadAttestors: Field<{ raw: Record<string, unknown>; timeoutMs: number }> = {
  describe: 'map of workload attestor configs',
  parse(v, p) {
    const out: Record<string, unknown> = {};
    const parsed: Record<string, unknown> = {};
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config: ${p}: must be a map`);
    const known = WORKLOAD_ATTESTOR_FACTORIES.map((f) => f.name);
    for (const [name, section] of Object.entries(v as Record<string, unknown>)) {
      const f = WORKLOAD_ATTESTOR_FACTORIES.find((x) => x.name === name);
      if (!f) throw new ConfigError(`config: ${p}.${name}: unknown workload attestor (known: ${known.join(', ') || 'none'})`);
      // Validated here so a bad section stops the agent at start; the raw section is kept
      // because the workload attestation composer parses it again itself.
      parsed[name] = f.config.parse(section ?? {}, `${p}.${name}`);
      out[name] = section ?? {};
    }
    return { raw: out, timeoutMs: attestorTimeoutMs(parsed) };
  },
};

const trustDomain: Field<TrustDomain> = {
  describe: 'trust domain',
  parse(v, p) {
    const s = t.string({ nonEmpty: true }).parse(v, p);
    try { return TrustDomain.parse(s); } catch (e) { throw new ConfigError(`config: ${p}: ${(e as Error).message}`); }
  },
};

const schema = t.object({
  server_address: t.string({ pattern: /^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d{1,5}$/ }),
  trust_domain: trustDomain,
  trust_bundle_path: t.optional(t.string({ nonEmpty: true })),
  ca_fingerprint: t.optional(t.string({ nonEmpty: true })),
  data_dir: t.optional(t.string({ nonEmpty: true })),
  socket_path: t.optional(t.string({ nonEmpty: true })),
  node_attestor: nodeAttestor,
  workload_attestors: workloadAttestors,
  log_level: t.enum(['debug', 'info', 'warn', 'error'] as const, { default: 'info' }),
  instance_idle_timeout: t.duration({ default: 600, min: 1 }),
  workload_api: t.object({
    idle_timeout: t.duration({ default: 30, min: 1 }),
  }),
  delegation: t.object({
    token_endpoint: t.optional(t.string({ pattern: /^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/ })),
  }),
});

/** Validates a raw (YAML-decoded, flag-overridden) document into the agent config. */
export function parseAgentConfig(raw: unknown): AgentConfig {
  const c = parseConfig(schema, raw ?? {});
  if (!c.trust_bundle_path && !c.ca_fingerprint) {
    throw new ConfigError('config: set trust_bundle_path or ca_fingerprint (how the agent trusts the server at first contact)');
  }
  let caFingerprint: string | undefined;
  if (c.ca_fingerprint) {
    try { caFingerprint = parseFingerprint(c.ca_fingerprint); } catch (e) { throw new ConfigError(`config: ca_fingerprint: ${(e as Error).message}`); }
  }
  return {
    serverAddress: c.server_address,
    trustDomain: c.trust_domain,
    trustBundlePath: c.trust_bundle_path,
    caFingerprint,
    dataDir: c.data_dir ?? defaultDataDir(),
    socketPath: c.socket_path ?? defaultSocketPath(),
    nodeAttestor: c.node_attestor,
    workloadAttestors: c.workload_attestors.raw,
    logLevel: c.log_level,
    instanceIdleTimeout: c.instance_idle_timeout,
    workloadAttestorTimeoutMs: c.workload_attestors.timeoutMs,
    workloadApi: { idleTimeoutMs: Math.round(c.workload_api.idle_timeout * 1000) },
    delegation: { tokenEndpoint: c.delegation.token_endpoint },
  };
}

/** Flag overrides, applied onto the raw document (a flag beats the file). */
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

export function applyOverrides(raw: Record<string, unknown>, o: AgentConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
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
