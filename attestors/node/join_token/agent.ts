import { readFileSync } from 'node:fs';
import { t } from '../../../common/config.ts';
import { ConfigError } from '../../../common/errors.ts';
import type { AgentAttestorFactory, NodeAttestorAgent } from '../types.ts';
import { METHOD } from './server.ts';

/**
 * Join token, agent half: presents the operator-issued token as the payload of the
 * first attestation message. The token comes from config, inline or from a file
 * (so it need not sit in a world-readable YAML file).
 */
export interface JoinTokenAgentConfig {
  token?: string;
  token_file?: string;
}

export function createJoinTokenAgent(token: string): NodeAttestorAgent {
  return {
    method: METHOD,
    async payload() { return new TextEncoder().encode(token); },
  };
}

export const agentFactory: AgentAttestorFactory<JoinTokenAgentConfig> = {
  method: METHOD,
  config: t.object({
    token: t.optional(t.string({ nonEmpty: true })),
    token_file: t.optional(t.string({ nonEmpty: true })),
  }),
  create(config) {
    let token = config.token;
    if (!token && config.token_file) {
      try { token = readFileSync(config.token_file, 'utf8').trim(); } catch (e) {
        throw new ConfigError(`config: node_attestor.join_token.token_file: cannot read ${config.token_file}: ${(e as Error).message}`);
      }
    }
    if (!token) throw new ConfigError('config: node_attestor.join_token: set token or token_file');
    return createJoinTokenAgent(token);
  },
};
