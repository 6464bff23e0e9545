import { AttestationError } from '../../../common/errors.ts';
import type { AgentAttestorFactory, NodeAttestorAgent, NodeAttestorDeps } from '../types.ts';
import { fetchText, withRetry } from '../cloud/http.ts';
import { retryPolicy } from '../cloud/config-fields.ts';
import { AZURE_MSI_METHOD, azureMsiAgentConfig, type AzureMsiAgentConfig } from './config.ts';

/**
 * Agent half: gets a managed identity access token for the configured resource
 * from IMDS (`Metadata: true`). Payload: `{"token": "<JWT>"}`.
 */
export class AzureMsiAgent implements NodeAttestorAgent {
  readonly method = AZURE_MSI_METHOD;
  constructor(private readonly config: AzureMsiAgentConfig, private readonly deps: NodeAttestorDeps) {}

  async payload(signal?: AbortSignal): Promise<Uint8Array> {
    const c = this.config;
    const q = new URLSearchParams({ 'api-version': c.api_version, resource: c.resource });
    if (c.client_id) q.set('client_id', c.client_id);
    const url = `${c.metadata_url}/metadata/identity/oauth2/token?${q}`;
    const policy = retryPolicy(c);
    // 404: the identity is still being assigned to the VM; Azure asks clients to retry.
    const body = await withRetry(`azure_msi: instance metadata service at ${c.metadata_url}`, policy, { ...this.deps, alsoRetry: [404] },
      (sig) => fetchText(url, { headers: { Metadata: 'true' } }, policy.timeoutMs, sig), signal);
    let token: unknown;
    try { token = (JSON.parse(body) as { access_token?: unknown }).access_token; } catch { token = undefined; }
    if (typeof token !== 'string' || token === '') {
      throw new AttestationError('unavailable', 'ERR_METADATA_REQUEST_REJECTED', `azure_msi: IMDS token answer has no access_token`);
    }
    return new TextEncoder().encode(JSON.stringify({ token }));
  }
}

export const agentFactory: AgentAttestorFactory<AzureMsiAgentConfig> = {
  method: AZURE_MSI_METHOD,
  config: azureMsiAgentConfig,
  create: (config, deps) => new AzureMsiAgent(config, deps),
};
