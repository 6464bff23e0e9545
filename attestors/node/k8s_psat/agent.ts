import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { AttestationError, ConfigError } from '../../../common/errors.ts';
import type { AgentAttestorFactory, NodeAttestorAgent } from '../types.ts';
import { K8S_PSAT_METHOD, k8sPsatAgentConfig, type K8sPsatAgentConfig, type K8sPsatPayload } from './config.ts';

/**
 * Agent half: sends the projected service-account token the kubelet keeps in
 * `token_path` (audience = the server) with the cluster name. The file is read at each
 * attestation, never cached: the kubelet replaces the token before it expires, and the
 * server accepts each token only once.
 */
export class K8sPsatAgent implements NodeAttestorAgent {
  readonly method = K8S_PSAT_METHOD;
  constructor(private readonly config: K8sPsatAgentConfig) {}

  async payload(): Promise<Uint8Array> {
    let token: string;
    try { token = (await readFile(this.config.token_path, 'utf8')).trim(); } catch (e) {
      throw new AttestationError('internal', 'ERR_K8S_PSAT_TOKEN_UNREADABLE',
        `k8s_psat: cannot read the projected service account token ${this.config.token_path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    if (!token) throw new AttestationError('internal', 'ERR_K8S_PSAT_TOKEN_UNREADABLE', `k8s_psat: token file ${this.config.token_path} is empty`);
    const p: K8sPsatPayload = { cluster: this.config.cluster, token };
    return new TextEncoder().encode(JSON.stringify(p));
  }
}

export const agentFactory: AgentAttestorFactory<K8sPsatAgentConfig> = {
  method: K8S_PSAT_METHOD,
  config: k8sPsatAgentConfig,
  create(config) {
    // A missing projection is a deployment mistake: stop at start, naming the key.
    try { readFileSync(config.token_path); } catch (e) {
      throw new ConfigError(`config: node_attestor.k8s_psat.token_path: cannot read ${config.token_path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (mount a projected service account token there)`);
    }
    return new K8sPsatAgent(config);
  },
};
