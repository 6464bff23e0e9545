import type { ServerAttestorFactory } from '../../attestors/node/types.ts';
import { serverFactory as joinToken } from '../../attestors/node/join_token/server.ts';
import { serverFactory as tpm } from '../../attestors/node/tpm/server.ts';
import { serverFactory as awsIid } from '../../attestors/node/aws-iid/server.ts';
import { serverFactory as gcpIit } from '../../attestors/node/gcp-iit/server.ts';
import { serverFactory as azureMsi } from '../../attestors/node/azure-msi/server.ts';
import { serverFactory as azureImds } from '../../attestors/node/azure-imds/server.ts';
import { serverFactory as k8sPsat } from '../../attestors/node/k8s_psat/server.ts';

/**
 * Server halves of the node attestation methods this build knows. A method is
 * enabled by its section under `node_attestors` in the server config.
 * (Each method's owner adds one import + one list item here.)
 */
export const SERVER_ATTESTOR_FACTORIES: readonly ServerAttestorFactory<any>[] = [
  joinToken,
  tpm,
  awsIid,
  gcpIit,
  azureMsi,
  azureImds,
  k8sPsat,
];
