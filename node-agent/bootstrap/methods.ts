import type { AgentAttestorFactory } from '../../attestors/node/types.ts';
import { agentFactory as joinToken } from '../../attestors/node/join_token/agent.ts';
import { agentFactory as tpm } from '../../attestors/node/tpm/agent.ts';
import { agentFactory as awsIid } from '../../attestors/node/aws-iid/agent.ts';
import { agentFactory as gcpIit } from '../../attestors/node/gcp-iit/agent.ts';
import { agentFactory as azureMsi } from '../../attestors/node/azure-msi/agent.ts';
import { agentFactory as azureImds } from '../../attestors/node/azure-imds/agent.ts';
import { agentFactory as k8sPsat } from '../../attestors/node/k8s_psat/agent.ts';

/**
 * Agent halves of the node attestation methods this build knows. The agent config
 * names one under `node_attestor`. (Each method's owner adds one import + one item.)
 */
export const AGENT_ATTESTOR_FACTORIES: readonly AgentAttestorFactory<any>[] = [
  joinToken,
  tpm,
  awsIid,
  gcpIit,
  azureMsi,
  azureImds,
  k8sPsat,
];
