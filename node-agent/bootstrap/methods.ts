import type { AgentAttestorFactory } from '../../attestors/node/types.ts';

/**
 * Agent halves of the node attestation methods this build knows. The agent config
 * names one under `node_attestor`. (Each method's owner adds one import + one item.)
 */
export const AGENT_ATTESTOR_FACTORIES: readonly AgentAttestorFactory<any>[] = [
];
