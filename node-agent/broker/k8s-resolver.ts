import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { k8sWorkloadAttestorFactory, type K8sWorkloadAttestor } from '../../attestors/workload/k8s.ts';
import { agentInstanceId } from '../attestation/instance-id.ts';
import { referenceInvalid, workloadNotFound } from './errors.ts';
import type { ResolvedWorkload } from './pid-resolver.ts';
import { describeReference, type KubernetesObjectReference } from './reference.ts';

export type KubernetesResolver = (ref: KubernetesObjectReference) => Promise<ResolvedWorkload>;

/**
 * The agent's KubernetesObjectReference resolver: pods through the k8s workload
 * attestor's kubelet client when `workload_attestors.k8s` is configured, else a clear
 * refusal. The attestor is a second instance built from the same config section, since
 * the composer keeps its own private; they differ only in their /pods caches.
 */
export function kubernetesResolverFromConfig(sections: Record<string, unknown>, deps: { logger: Logger; clock: Clock; agentId: () => string }): KubernetesResolver {
  if (!('k8s' in sections)) return refuseKubernetesObjects(false);
  const f = k8sWorkloadAttestorFactory;
  const attestor = f.create(f.config.parse(sections.k8s, 'workload_attestors.k8s'), deps) as K8sWorkloadAttestor;
  return resolvePods(attestor, deps.agentId);
}

/**
 * A pod on this node, by uid and/or namespace+name (spec §3.1.3), gets the pod-level
 * `k8s:` selectors a process in it would get from the attestor (the reference names no
 * container, so no container selectors), then the broker's usual entry matching.
 * No such pod on this node, or none of its containers started: NotFound. Key and uid
 * both given but naming different pods: NotFound too, since the object the key names
 * is not the one referenced. Only pods (core) are resolved.
 */
export function resolvePods(attestor: Pick<K8sWorkloadAttestor, 'selectorsForPod'>, agentId: () => string): KubernetesResolver {
  return async (ref) => {
    const what = describeReference(ref);
    const meta = { plural: ref.type.plural, group: ref.type.group, ...(ref.uid ? { uid: ref.uid } : {}) };
    if (ref.type.plural !== 'pods' || ref.type.group !== 'core') {
      throw referenceInvalid(`cannot resolve Kubernetes object ${what}: this agent resolves pods (plural "pods", group "core") only`, meta);
    }
    if (ref.key && !ref.key.namespace) throw referenceInvalid(`KubernetesObjectReference.key.namespace is required: pods are namespaced (${what})`, meta);
    const query = { ...(ref.uid ? { uid: ref.uid } : {}), ...(ref.key ? { namespace: ref.key.namespace, name: ref.key.name } : {}) };

    const lookup = async () => {
      const found = await attestor.selectorsForPod(query);
      if (!found) return `the kubelet lists no such pod on this node`;
      if (ref.uid && found.pod.uid !== ref.uid) return `pod ${found.pod.namespace}/${found.pod.name} on this node has uid ${found.pod.uid}, not ${ref.uid}`;
      if (found.pod.containers.length === 0) return `pod ${found.pod.namespace}/${found.pod.name} has no started container`;
      return found;
    };
    const first = await lookup();
    if (typeof first === 'string') throw workloadNotFound(`${what}: ${first}`, meta);
    const { attestation } = first;

    // verify() is synchronous (streams call it before every message): it reports the
    // last background look at the kubelet, and starts the next one. A kubelet that
    // cannot be reached does not end a stream; only a pod that is gone does.
    let gone: Error | undefined;
    let checking = false;
    let released = false;
    const verify = () => {
      if (gone) throw gone;
      if (checking || released) return;
      checking = true;
      lookup().then((r) => { if (typeof r === 'string') gone = workloadNotFound(`${what} is gone: ${r}`, meta); }, () => undefined)
        .finally(() => { checking = false; });
    };
    return {
      // No process: pid 0 keeps the SVID cache's "process exited" sweep off these
      // (kill(0, 0) always succeeds), so they age out as idle instead.
      workload: { selectors: attestation.selectors, instanceId: agentInstanceId(agentId(), attestation.instance!), pid: 0, uid: -1, gid: -1 },
      verify,
      release: () => { released = true; },
    };
  };
}

/**
 * Without the k8s workload attestor the agent cannot look objects up, so it does not
 * understand the type (spec §3.1.1 → InvalidArgument); the message says what to change.
 */
export function refuseKubernetesObjects(k8sAttestorEnabled: boolean): KubernetesResolver {
  return async (ref) => {
    const why = k8sAttestorEnabled
      ? 'no Kubernetes resolver was given to the broker endpoint'
      : 'this agent has no k8s workload attestor (workload_attestors.k8s): kubernetes references need the k8s workload attestor';
    throw referenceInvalid(`cannot resolve Kubernetes object ${describeReference(ref)}: ${why}; configure it, or reference the workload's process by pid instead`,
      { plural: ref.type.plural, group: ref.type.group });
  };
}
