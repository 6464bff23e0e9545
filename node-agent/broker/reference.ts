import { K8S_OBJECT_REFERENCE_TYPE, loadBrokerApiProto, PID_REFERENCE_TYPE, type ReferenceRequest } from './proto.ts';
import { referenceInvalid } from './errors.ts';

/** Short names of the reference types, as the broker policy (config) names them. */
export type ReferenceKind = 'pid' | 'kubernetes_object';
export const REFERENCE_KINDS: readonly [ReferenceKind, ...ReferenceKind[]] = ['pid', 'kubernetes_object'];

export interface PidReference { kind: 'pid'; pid: number }
export interface KubernetesObjectReference {
  kind: 'kubernetes_object';
  type: { plural: string; group: string };
  key?: { namespace: string; name: string };
  uid?: string;
}
export type WorkloadReference = PidReference | KubernetesObjectReference;

/** Linux pid_max is at most 2^22. */
const PID_MAX = 4_194_304;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Unpacks a request's WorkloadReference (spec §3.1) into a validated reference, or
 * throws WORKLOAD_REFERENCE_INVALID (InvalidArgument): missing, of a type this agent
 * does not understand (§3.1.4), undecodable, or violating the type's rules.
 */
export function parseReference(req: ReferenceRequest): WorkloadReference {
  const any = req.reference?.reference;
  if (!any || !any.type_url) throw referenceInvalid('reference is required: WorkloadReference.reference must hold a packed reference type');
  const { types } = loadBrokerApiProto();
  const typeUrl = any.type_url.slice(0, 256);
  const decode = <T>(t: typeof types.pid): T => {
    try { return t.toObject(t.decode(any.value ?? Buffer.alloc(0)), { defaults: true }) as T; } catch (e) {
      throw referenceInvalid(`reference of type ${typeUrl} could not be decoded: ${(e as Error).message}`, { type_url: typeUrl });
    }
  };
  switch (any.type_url) {
    case PID_REFERENCE_TYPE: {
      const { pid } = decode<{ pid: number }>(types.pid);
      if (!Number.isInteger(pid) || pid <= 0 || pid > PID_MAX) {
        throw referenceInvalid(`WorkloadPIDReference.pid must be a positive process id, got ${pid}`, { pid: String(pid) });
      }
      return { kind: 'pid', pid };
    }
    case K8S_OBJECT_REFERENCE_TYPE:
      return k8sObject(decode(types.k8sObject));
    default:
      throw referenceInvalid(`unknown workload reference type "${typeUrl}" (this agent understands ${PID_REFERENCE_TYPE} and ${K8S_OBJECT_REFERENCE_TYPE})`, { type_url: typeUrl });
  }
}

interface RawK8s { type?: { plural: string; group: string } | null; key?: { namespace: string; name: string } | null; uid: string }

function k8sObject(r: RawK8s): KubernetesObjectReference {
  if (!r.type?.plural || !r.type.group) {
    throw referenceInvalid('KubernetesObjectReference.type needs both plural and group ("core" for core resources)');
  }
  if (!r.key && !r.uid) throw referenceInvalid('KubernetesObjectReference needs key or uid (or both)');
  if (r.key && !r.key.name) throw referenceInvalid('KubernetesObjectReference.key.name is required when key is set');
  if (r.uid && !UUID.test(r.uid)) throw referenceInvalid(`KubernetesObjectReference.uid must be a UUID, got "${r.uid.slice(0, 64)}"`);
  return {
    kind: 'kubernetes_object',
    type: { plural: r.type.plural, group: r.type.group },
    ...(r.key ? { key: { namespace: r.key.namespace, name: r.key.name } } : {}),
    ...(r.uid ? { uid: r.uid.toLowerCase() } : {}),
  };
}

/** For logs and error messages. */
export function describeReference(r: WorkloadReference): string {
  if (r.kind === 'pid') return `pid ${r.pid}`;
  const name = r.key ? `${r.key.namespace ? `${r.key.namespace}/` : ''}${r.key.name}` : '';
  return `${r.type.plural}.${r.type.group} ${[name, r.uid && `uid ${r.uid}`].filter(Boolean).join(' ')}`;
}
