import { isObject } from '../../workload/container-http.ts';

/**
 * The fields of TokenReviewStatus (authentication.k8s.io/v1), Pod and Node (core/v1)
 * that k8s_psat decides on, parsed at the edge. A response without a field the
 * decision needs is rejected (`bad`), never read as "absent means anything".
 */
export interface TokenReviewStatus {
  authenticated: boolean;
  /** status.error: why the API server did not authenticate the token. */
  error?: string;
  username?: string;
  /** user.extra: for pod-bound tokens authentication.kubernetes.io/pod-name, pod-uid (and node-name, node-uid since 1.30). */
  extra: Record<string, string[]>;
  /** Audiences compatible with both the request and the token; absent from audience-unaware authenticators. */
  audiences?: string[];
}

export interface KubePod {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  nodeName?: string;
  serviceAccountName?: string;
  hostIP?: string;
}

export interface KubeNode {
  name: string;
  uid: string;
  labels: Record<string, string>;
}

type Bad = (why: string) => Error;

export function parseTokenReviewStatus(s: Record<string, unknown>, bad: Bad): TokenReviewStatus {
  const user = isObject(s.user) ? s.user : {};
  const extra: Record<string, string[]> = {};
  if (isObject(user.extra)) {
    for (const [k, v] of Object.entries(user.extra)) if (Array.isArray(v)) extra[k] = v.filter((x): x is string => typeof x === 'string');
  }
  if (s.authenticated !== undefined && typeof s.authenticated !== 'boolean') throw bad('status.authenticated is not a boolean');
  return {
    // Omitted (omitempty) when false.
    authenticated: s.authenticated === true,
    error: str(s.error),
    username: str(user.username),
    extra,
    audiences: Array.isArray(s.audiences) ? s.audiences.filter((x): x is string => typeof x === 'string') : undefined,
  };
}

export function parsePod(j: unknown, bad: Bad): KubePod {
  if (!isObject(j) || j.kind !== 'Pod' || !isObject(j.metadata)) throw bad('expected a Pod object');
  const md = j.metadata;
  const spec = isObject(j.spec) ? j.spec : {};
  const status = isObject(j.status) ? j.status : {};
  return {
    name: required(md.name, 'metadata.name', bad),
    namespace: required(md.namespace, 'metadata.namespace', bad),
    uid: required(md.uid, 'metadata.uid', bad),
    labels: labels(md.labels),
    nodeName: str(spec.nodeName),
    serviceAccountName: str(spec.serviceAccountName) ?? str(spec.serviceAccount),
    hostIP: str(status.hostIP),
  };
}

export function parseNode(j: unknown, bad: Bad): KubeNode {
  if (!isObject(j) || j.kind !== 'Node' || !isObject(j.metadata)) throw bad('expected a Node object');
  return {
    name: required(j.metadata.name, 'metadata.name', bad),
    uid: required(j.metadata.uid, 'metadata.uid', bad),
    labels: labels(j.metadata.labels),
  };
}

function labels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function required(v: unknown, field: string, bad: Bad): string {
  const s = str(v);
  if (s === undefined) throw bad(`${field} is missing`);
  return s;
}

function str(v: unknown): string | undefined { return typeof v === 'string' && v !== '' ? v : undefined; }
