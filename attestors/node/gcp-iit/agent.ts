import type { AgentAttestorFactory, NodeAttestorAgent, NodeAttestorDeps } from '../types.ts';
import { fetchText, withRetry } from '../cloud/http.ts';
import { retryPolicy } from '../cloud/config-fields.ts';
import { GCP_IIT_METHOD, gcpIitAgentConfig, type GcpIitAgentConfig } from './config.ts';

/**
 * Agent half: asks the metadata server for an instance identity token for the
 * configured audience, `format=full` so it carries the google.compute_engine claims.
 * Payload: `{"token": "<JWT>"}`.
 */
export class GcpIitAgent implements NodeAttestorAgent {
  readonly method = GCP_IIT_METHOD;
  constructor(private readonly config: GcpIitAgentConfig, private readonly deps: NodeAttestorDeps) {}

  async payload(signal?: AbortSignal): Promise<Uint8Array> {
    const c = this.config;
    const url = `${c.metadata_url}/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(c.service_account)}/identity`
      + `?audience=${encodeURIComponent(c.audience)}&format=full`;
    const policy = retryPolicy(c);
    const token = await withRetry(`gcp_iit: metadata server at ${c.metadata_url}`, policy, this.deps,
      (sig) => fetchText(url, { headers: { 'Metadata-Flavor': 'Google' } }, policy.timeoutMs, sig), signal);
    return new TextEncoder().encode(JSON.stringify({ token: token.trim() }));
  }
}

export const agentFactory: AgentAttestorFactory<GcpIitAgentConfig> = {
  method: GCP_IIT_METHOD,
  config: gcpIitAgentConfig,
  create: (config, deps) => new GcpIitAgent(config, deps),
};
