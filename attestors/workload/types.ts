import type { Selector } from '../../spiffe/selector.ts';
import type { Logger } from '../../common/logger.ts';
import type { Clock } from '../../common/clock.ts';
import type { Field } from '../../common/config.ts';

/**
 * Workload attestation contract. The agent learns the caller's pid/uid/gid from the
 * kernel (SO_PEERCRED), never from the caller; attestors turn that into selectors.
 * All enabled attestors run for every caller; the caller's selectors are the union.
 */
export interface WorkloadProcess {
  pid: number;
  uid: number;
  gid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22): with pid, identifies one process instance. */
  startTime: bigint;
}

/**
 * What identifies one running instance of a workload, as strongly as an attestor
 * can tell. The strongest claim wins: pod UID + container name (30) > container ID
 * (20) > node + pid + start time (10).
 */
export interface InstanceClaim {
  strength: number;
  key: string;
}

export const INSTANCE_STRENGTH = { process: 10, container: 20, pod: 30 } as const;

export interface WorkloadAttestation {
  selectors: Selector[];
  instance?: InstanceClaim;
}

export interface WorkloadAttestor {
  /** Selector type this attestor produces, e.g. "unix", "docker", "k8s". */
  readonly name: string;
  attest(proc: WorkloadProcess, signal?: AbortSignal): Promise<WorkloadAttestation>;
}

/** `workload_attestors.<name>` in the agent config, validated by `config`. */
export interface WorkloadAttestorFactory<C = unknown> {
  readonly name: string;
  readonly config: Field<C>;
  create(config: C, deps: { logger: Logger; clock: Clock }): WorkloadAttestor;
  /**
   * The longest (ms) one attest() may take by this config before the attestor gives up
   * with its own error; absent when it has no configured bound. The agent's composer
   * timeout is set above it, so the attestor's own answer is what gets logged.
   */
  worstCaseMs?(config: C): number;
}
