import { referenceInvalid } from './errors.ts';
import type { ResolvedWorkload } from './pid-resolver.ts';
import { describeReference, type KubernetesObjectReference } from './reference.ts';

/**
 * KubernetesObjectReferences are not resolved by this agent yet: it cannot look the
 * object up, so it does not understand the type (spec §3.1.1 → InvalidArgument), and
 * the message says what works instead. Brokers on the node can reference the pod's
 * container process by pid, which the k8s workload attestor (when enabled) attests
 * with the pod's selectors exactly as for a Workload API caller.
 */
export function refuseKubernetesObjects(k8sAttestorEnabled: boolean): (ref: KubernetesObjectReference) => Promise<ResolvedWorkload> {
  return async (ref) => {
    const why = k8sAttestorEnabled
      ? 'resolving Kubernetes objects through the kubelet is not implemented yet'
      : 'this agent has no k8s workload attestor (workload_attestors.k8s)';
    throw referenceInvalid(`cannot resolve Kubernetes object ${describeReference(ref)}: ${why}; reference the workload's process by pid instead`,
      { plural: ref.type.plural, group: ref.type.group });
  };
}
