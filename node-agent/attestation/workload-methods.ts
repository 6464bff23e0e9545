import type { WorkloadAttestorFactory } from '../../attestors/workload/types.ts';
import { unixWorkloadAttestorFactory } from '../../attestors/workload/unix.ts';
import { dockerWorkloadAttestorFactory } from '../../attestors/workload/docker.ts';
import { k8sWorkloadAttestorFactory } from '../../attestors/workload/k8s.ts';

/**
 * Workload attestors this build knows; each is enabled by its section under
 * `workload_attestors` in the agent config (unix is always on).
 * (Each attestor's owner adds one import + one list item here.)
 */
export const WORKLOAD_ATTESTOR_FACTORIES: readonly WorkloadAttestorFactory<any>[] = [
  unixWorkloadAttestorFactory,
  dockerWorkloadAttestorFactory,
  k8sWorkloadAttestorFactory,
];
