import { t, type Field } from '../../common/config.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { ConfigError, TesseraError } from '../../common/errors.ts';
import { readContainerRef } from './cgroup.ts';
import { KubeletClient, type KubeletContainer, type KubeletPod } from './kubelet-client.ts';
import { collectSelectors } from './container-selectors.ts';
import {
  INSTANCE_STRENGTH,
  type WorkloadAttestation,
  type WorkloadAttestor,
  type WorkloadAttestorFactory,
  type WorkloadProcess,
} from './types.ts';

/**
 * Kubernetes workload attestor: caller pid → pod UID + container ID (from
 * /proc/<pid>/cgroup) → the kubelet's /pods → `k8s:*` selectors and a pod-strength
 * instance claim.
 *
 * Instance key: `k8s:<pod UID>/<container name>/<container ID>`. Pod UID + container
 * name say which workload slot this is; the container ID (read from the kernel's
 * cgroup, not from the kubelet) changes when the kubelet restarts the container, so a
 * restarted container is a new instance, while every process inside one running
 * container shares that container's instance.
 */
export interface K8sAttestorConfig {
  kubelet_host: string;
  kubelet_port: number;
  kubelet_read_only_port: number | undefined;
  kubelet_ca_path: string;
  kubelet_server_name: string | undefined;
  token_path: string;
  client_cert_path: string | undefined;
  client_key_path: string | undefined;
  /** Seconds to wait for a pod the kubelet does not know yet. */
  pod_wait: number;
  poll_interval: number;
  pod_cache_ttl: number;
  timeout: number;
  max_response_bytes: number;
  proc_root: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const k8sConfig: Field<K8sAttestorConfig> = t.object({
  kubelet_host: t.string({ default: '127.0.0.1', nonEmpty: true }),
  kubelet_port: t.number({ default: 10250, min: 1, max: 65535, integer: true }),
  kubelet_read_only_port: t.optional(t.number({ min: 1, max: 65535, integer: true })),
  kubelet_ca_path: t.string({ default: `${SA_DIR}/ca.crt`, nonEmpty: true }),
  kubelet_server_name: t.optional(t.string({ nonEmpty: true })),
  token_path: t.string({ default: `${SA_DIR}/token`, nonEmpty: true }),
  client_cert_path: t.optional(t.string({ nonEmpty: true })),
  client_key_path: t.optional(t.string({ nonEmpty: true })),
  pod_wait: t.duration({ default: 4, min: 0, max: 120 }),
  poll_interval: t.duration({ default: 0.25, min: 0.01, max: 10 }),
  pod_cache_ttl: t.duration({ default: 1, min: 0, max: 60 }),
  timeout: t.duration({ default: 3, min: 0.01, max: 60 }),
  max_response_bytes: t.number({ default: 16 * 1024 * 1024, min: 1024, integer: true }),
  proc_root: t.string({ default: '/proc', nonEmpty: true }),
});

interface PodSnapshot { at: number; pods: KubeletPod[] }

/**
 * Shares one /pods fetch between concurrent callers and reuses it for `ttlMs`. A
 * caller that needs something newer than a given time (it already looked and did not
 * find its pod) passes `notBefore`. The shared fetch is not tied to any one caller's
 * signal, so one caller going away does not fail the others.
 */
class PodListCache {
  private last?: PodSnapshot;
  private inflight?: { startedAt: number; promise: Promise<PodSnapshot> };
  constructor(private readonly client: KubeletClient, private readonly clock: Clock, private readonly ttlMs: number) {}

  get(notBefore: number, signal?: AbortSignal): Promise<PodSnapshot> {
    const now = this.clock.now();
    if (this.last && this.last.at >= notBefore && now - this.last.at <= this.ttlMs) return Promise.resolve(this.last);
    if (!this.inflight || this.inflight.startedAt < notBefore) {
      const startedAt = now;
      const promise = this.client.listPods().then((pods) => {
        const snap = { at: startedAt, pods };
        if (!this.last || this.last.at <= startedAt) this.last = snap;
        return snap;
      }).finally(() => { if (this.inflight?.promise === promise) this.inflight = undefined; });
      // Callers may all have gone away; a failure nobody awaits must not crash the agent.
      promise.catch(() => undefined);
      this.inflight = { startedAt, promise };
    }
    return raceAbort(this.inflight.promise, signal, this.client.endpoint);
  }
}

export class K8sWorkloadAttestor implements WorkloadAttestor {
  readonly name = 'k8s';
  private readonly pods: PodListCache;
  private readonly client: KubeletClient;

  constructor(private readonly config: K8sAttestorConfig, private readonly logger: Logger, private readonly clock: Clock) {
    if ((config.client_cert_path === undefined) !== (config.client_key_path === undefined)) {
      throw new ConfigError('config: workload_attestors.k8s: client_cert_path and client_key_path must be set together');
    }
    this.client = new KubeletClient({
      host: config.kubelet_host,
      port: config.kubelet_port,
      ...(config.kubelet_read_only_port !== undefined ? { readOnlyPort: config.kubelet_read_only_port } : {}),
      caPath: config.kubelet_ca_path,
      ...(config.kubelet_server_name ? { serverName: config.kubelet_server_name } : {}),
      tokenPath: config.token_path,
      ...(config.client_cert_path ? { clientCertPath: config.client_cert_path, clientKeyPath: config.client_key_path } : {}),
      timeoutMs: Math.round(config.timeout * 1000),
      maxBytes: config.max_response_bytes,
    });
    if (config.kubelet_read_only_port !== undefined) {
      logger.warn('k8s attestor: using the kubelet read-only port (plain HTTP, unauthenticated) as configured', { port: config.kubelet_read_only_port });
    }
    this.pods = new PodListCache(this.client, clock, config.pod_cache_ttl * 1000);
  }

  async attest(proc: WorkloadProcess, signal?: AbortSignal): Promise<WorkloadAttestation> {
    const ref = await readContainerRef(this.config.proc_root, proc.pid);
    // A host process or a plain (non-pod) container: nothing for Kubernetes to say.
    if (!ref?.podUid) return { selectors: [] };
    const { podUid, containerId } = ref;

    const start = this.clock.now();
    const deadline = start + this.config.pod_wait * 1000;
    let notBefore = -Infinity;
    let podSeen = false;
    for (let attempt = 1; ; attempt++) {
      const snap = await this.pods.get(notBefore, signal);
      const pod = snap.pods.find((p) => p.uid === podUid);
      const container = pod?.containers.find((c) => c.containerId === containerId);
      if (pod && container) return this.attestation(pod, container, containerId);
      podSeen ||= pod !== undefined;

      // A cached list from before this call may simply predate the pod: look again at once.
      if (snap.at < start) { notBefore = start; continue; }
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) {
        throw new TesseraError('permission_denied', 'ERR_K8S_POD_NOT_FOUND',
          `k8s: ${podSeen ? `pod ${podUid} has no container ${containerId}` : `pod ${podUid} (container ${containerId}) is not known`} at the ${this.client.endpoint} after waiting ${this.config.pod_wait}s (${attempt} lookups)`);
      }
      this.logger.debug('k8s attestor: pod not known to the kubelet yet; waiting', { podUid, containerId, attempt, remainingMs: remaining });
      try {
        await this.clock.sleep(Math.min(this.config.poll_interval * 1000, remaining), signal);
      } catch {
        throw aborted(this.client.endpoint, signal);
      }
      notBefore = this.clock.now();
    }
  }

  /**
   * The pod-level selectors of a pod on this node, found by namespace+name when given,
   * else by UID: what a process in that pod gets, less the container selectors (for
   * the Broker API's pod references, which name a pod, not a process). Undefined when
   * the kubelet does not list it. The instance claim is the pod itself.
   */
  async selectorsForPod(ref: { uid?: string; namespace?: string; name?: string }, signal?: AbortSignal): Promise<{ pod: KubeletPod; attestation: WorkloadAttestation } | undefined> {
    const byKey = ref.name !== undefined;
    const find = (pods: KubeletPod[]) => pods.find((p) => (byKey ? p.namespace === ref.namespace && p.name === ref.name : p.uid === ref.uid));
    const start = this.clock.now();
    const snap = await this.pods.get(-Infinity, signal);
    let pod = find(snap.pods);
    // A cached list from before this call may predate the pod (or its replacement under that name).
    if ((!pod || (ref.uid !== undefined && pod.uid !== ref.uid)) && snap.at < start) pod = find((await this.pods.get(start, signal)).pods);
    if (!pod) return undefined;
    return { pod, attestation: { selectors: collectSelectors('k8s', podValues(pod), this.logger), instance: { strength: INSTANCE_STRENGTH.pod, key: `k8s:${pod.uid}` } } };
  }

  private attestation(pod: KubeletPod, c: KubeletContainer, containerId: string): WorkloadAttestation {
    const values = podValues(pod, [
      `container-name:${c.name}`,
      // Both the spec'd reference and the digest-pinned one the runtime resolved, so an
      // entry can pin either.
      ...[...new Set([c.image, c.imageId].filter((x) => x !== ''))].map((i) => `container-image:${i}`),
    ]);
    return {
      selectors: collectSelectors('k8s', values, this.logger),
      instance: { strength: INSTANCE_STRENGTH.pod, key: `k8s:${pod.uid}/${c.name}/${containerId}` },
    };
  }
}

function podValues(pod: KubeletPod, container: string[] = []): string[] {
  return [
    `ns:${pod.namespace}`,
    ...(pod.serviceAccount ? [`sa:${pod.serviceAccount}`] : []),
    `pod-uid:${pod.uid}`,
    `pod-name:${pod.name}`,
    ...Object.entries(pod.labels).map(([k, v]) => `pod-label:${k}:${v}`),
    ...container,
    ...(pod.nodeName ? [`node-name:${pod.nodeName}`] : []),
  ];
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, endpoint: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(aborted(endpoint, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(endpoint, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

function aborted(endpoint: string, signal: AbortSignal | undefined): TesseraError {
  const reason = signal?.reason as { name?: string; message?: string } | undefined;
  return new TesseraError(reason?.name === 'TimeoutError' ? 'deadline_exceeded' : 'unavailable', 'ERR_K8S_ABORTED',
    `k8s: pod lookup at the ${endpoint} abandoned: ${reason?.message ?? 'caller cancelled'}`);
}

export const k8sWorkloadAttestorFactory: WorkloadAttestorFactory<K8sAttestorConfig> = {
  name: 'k8s',
  config: k8sConfig,
  create: (config, deps) => new K8sWorkloadAttestor(config, deps.logger.child({ attestor: 'k8s' }), deps.clock),
  // Polls until pod_wait has passed; the last /pods request may start just before that and take `timeout`.
  worstCaseMs: (config) => (config.pod_wait + config.timeout) * 1000,
};
