import type { AgentAttestorFactory, NodeAttestorAgent, NodeAttestorDeps } from '../types.ts';
import { fetchBytes, fetchText, withRetry } from '../cloud/http.ts';
import { retryPolicy } from '../cloud/config-fields.ts';
import { awsIidAgentConfig, type AwsIidAgentConfig } from './config.ts';
import { AWS_IID_METHOD, type AwsIidPayload } from './payload.ts';

/**
 * Agent half: reads the instance identity document and its signature from IMDS
 * using IMDSv2 (PUT a session token, then GET with it); IMDSv1 is never used so the
 * agent works on instances that require tokens.
 */
export class AwsIidAgent implements NodeAttestorAgent {
  readonly method = AWS_IID_METHOD;
  constructor(private readonly config: AwsIidAgentConfig, private readonly deps: NodeAttestorDeps) {}

  async payload(signal?: AbortSignal): Promise<Uint8Array> {
    const base = this.config.metadata_url;
    const policy = retryPolicy(this.config);
    const what = `aws_iid: instance metadata service at ${base}`;
    const body = await withRetry(what, policy, this.deps, async (sig) => {
      const token = await fetchText(`${base}/latest/api/token`, {
        method: 'PUT',
        headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(Math.round(this.config.token_ttl)) },
      }, policy.timeoutMs, sig);
      const headers = { 'X-aws-ec2-metadata-token': token.trim() };
      const document = await fetchBytes(`${base}/latest/dynamic/instance-identity/document`, { headers }, policy.timeoutMs, sig);
      const variant = this.config.signature;
      const signature = await fetchText(`${base}/latest/dynamic/instance-identity/${variant}`, { headers }, policy.timeoutMs, sig);
      const p: AwsIidPayload = { document: Buffer.from(document).toString('base64'), [variant]: signature.replace(/\s+/g, '') };
      return p;
    }, signal);
    return new TextEncoder().encode(JSON.stringify(body));
  }
}

export const agentFactory: AgentAttestorFactory<AwsIidAgentConfig> = {
  method: AWS_IID_METHOD,
  config: awsIidAgentConfig,
  create: (config, deps) => new AwsIidAgent(config, deps),
};
