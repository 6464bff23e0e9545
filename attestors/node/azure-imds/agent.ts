import { AttestationError } from '../../../common/errors.ts';
import type { AgentAttestorFactory, NodeAttestorAgent, NodeAttestorDeps } from '../types.ts';
import { fetchBytes, withRetry } from '../cloud/http.ts';
import { retryPolicy } from '../cloud/config-fields.ts';
import { AZURE_IMDS_METHOD, azureImdsAgentConfig, type AzureImdsAgentConfig } from './config.ts';

/** IMDS takes up to 32 alphanumeric characters as nonce. */
const NONCE = /^[a-zA-Z0-9]{1,32}$/;

/**
 * Agent half of the nonce-bound method: the first message carries no evidence;
 * the server's challenge is the nonce, answered with the attested document IMDS
 * signs over it, passed on byte for byte (`{"encoding":"pkcs7","signature":...}`).
 */
export class AzureImdsAgent implements NodeAttestorAgent {
  readonly method = AZURE_IMDS_METHOD;
  constructor(private readonly config: AzureImdsAgentConfig, private readonly deps: NodeAttestorDeps) {}

  async payload(): Promise<Uint8Array> {
    return new TextEncoder().encode('{}');
  }

  async respond(challenge: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const nonce = Buffer.from(challenge).toString('utf8');
    if (!NONCE.test(nonce)) {
      throw new AttestationError('invalid_argument', 'ERR_AZURE_IMDS_NONCE_INVALID', 'azure_imds: server nonce must be 1-32 alphanumeric characters');
    }
    const c = this.config;
    const url = `${c.metadata_url}/metadata/attested/document?${new URLSearchParams({ 'api-version': c.api_version, nonce })}`;
    const policy = retryPolicy(c);
    return withRetry(`azure_imds: instance metadata service at ${c.metadata_url}`, policy, this.deps,
      (sig) => fetchBytes(url, { headers: { Metadata: 'true' } }, policy.timeoutMs, sig), signal);
  }
}

export const agentFactory: AgentAttestorFactory<AzureImdsAgentConfig> = {
  method: AZURE_IMDS_METHOD,
  config: azureImdsAgentConfig,
  create: (config, deps) => new AzureImdsAgent(config, deps),
};
