import type { AgentAttestorFactory } from '../../attestors/node/types.ts';
import { agentFactory as joinToken } from '../../attestors/node/join_token/agent.ts';
import { agentFactory as tpm } from '../../attestors/node/tpm/agent.ts';

/**
 * Agent halves of the node attestation methods this build knows. The agent config
 * names one under `node_attestor`. (Each method's owner adds one import + one item.)
 */
export const AGENT_ATTESTOR_FACTORIES: readonly AgentAttestorFactory<any>[] = [
  joinToken,
  tpm,
];
