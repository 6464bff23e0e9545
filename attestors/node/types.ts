import type { SpiffeId, TrustDomain } from '../../spiffe/id.ts';
import type { Logger } from '../../common/logger.ts';
import type { Clock } from '../../common/clock.ts';
import type { Field } from '../../common/config.ts';
import type { Selector } from '../../spiffe/selector.ts';

/**
 * Node attestation contract. Each method has an agent half (gathers evidence on
 * the host) and a server half (verifies it), side by side in attestors/node/<method>/.
 * The wire is tessera.v1.AgentService/Attest: params{method,payload} -> zero or more
 * challenge/response rounds -> result. Failures throw AttestationError
 * (common/errors.ts) with a stable code and a message that says why.
 */

/** Agent half. */
export interface NodeAttestorAgent {
  readonly method: string;
  /** Evidence for the first message of the attestation stream. */
  payload(signal?: AbortSignal): Promise<Uint8Array>;
  /** Answers one server challenge; only challenge/response methods implement it. */
  respond?(challenge: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export interface NodeAttestationContext {
  trustDomain: TrustDomain;
  /** Sends one challenge to the agent and resolves with its answer. */
  challenge(challenge: Uint8Array): Promise<Uint8Array>;
  /** Milliseconds since the epoch (injected clock). */
  now(): number;
  signal?: AbortSignal;
}

export interface NodeAttestationResult {
  agentId: SpiffeId;
  selectors: Selector[];
  /**
   * True for methods without a server nonce (AWS IID, GCP IIT, Azure MSI): the same
   * agent ID may not attest again until an operator evicts it. The server enforces it.
   */
  trustOnFirstUse: boolean;
  /** Facts for the audit trail (verified PCRs, quote clock, document times). JSON-safe. */
  audit?: Record<string, unknown>;
}

/** Server half. */
export interface NodeAttestorServer {
  readonly method: string;
  attest(payload: Uint8Array, ctx: NodeAttestationContext): Promise<NodeAttestationResult>;
}

/**
 * How a method plugs into server and agent config: `node_attestors.<method>` in each
 * YAML file is validated by `config` and handed to `create`. Each method exports
 * `serverFactory` from server.ts and `agentFactory` from agent.ts; the registries
 * (server/attestation/methods.ts, node-agent/bootstrap/methods.ts) list them.
 */
export interface NodeAttestorDeps {
  logger: Logger;
  clock: Clock;
  /** Directory for the method's own files (e.g. cached keys); agent data dir or server data dir. */
  dataDir: string;
}

export interface ServerAttestorFactory<C = unknown> {
  readonly method: string;
  readonly config: Field<C>;
  create(config: C, deps: NodeAttestorDeps): NodeAttestorServer;
}

export interface AgentAttestorFactory<C = unknown> {
  readonly method: string;
  readonly config: Field<C>;
  create(config: C, deps: NodeAttestorDeps): NodeAttestorAgent;
}
