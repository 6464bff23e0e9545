import { AttestationError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { normalizeSelectors } from '../../spiffe/selector.ts';
import type { WorkloadAttestation, WorkloadAttestor, WorkloadProcess } from '../../attestors/workload/types.ts';
import type { PinnedWorkloadProcess } from '../peercred/peer-process.ts';
import { strongestClaim } from './instance-id.ts';

export interface WorkloadAttestationComposerOptions {
  /** Always on: if it cannot read the process, the caller is denied. */
  unix: WorkloadAttestor;
  /** Optional kinds (docker, k8s, ...): a failure is logged and skipped. */
  attestors?: readonly WorkloadAttestor[];
  /** Per non-unix attestor, per call. Default 5 s. */
  timeoutMs?: number;
  /**
   * For the unix attestor. Default 30 s: it only reads /proc, but the first hash of
   * a large executable on a loaded host can take seconds, and a unix timeout denies.
   */
  unixTimeoutMs?: number;
  /** How long one process instance's result is reused. Default 1 s. */
  cacheTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

const CACHE_MAX = 4096;

/**
 * Runs every enabled workload attestor for a caller in parallel and unions their
 * selectors. Results are cached per process instance (pid + start time) for a
 * moment, so a burst of calls from one workload attests it once; concurrent calls
 * share one in-flight attestation.
 */
export class WorkloadAttestationComposer {
  private readonly unix: WorkloadAttestor;
  private readonly others: readonly WorkloadAttestor[];
  private readonly timeoutMs: number;
  private readonly unixTimeoutMs: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly cache = new Map<string, { at: number; result: Promise<WorkloadAttestation> }>();

  constructor(opts: WorkloadAttestationComposerOptions) {
    this.unix = opts.unix;
    this.others = opts.attestors ?? [];
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.unixTimeoutMs = opts.unixTimeoutMs ?? 30_000;
    this.ttlMs = opts.cacheTtlMs ?? 1000;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
  }

  get attestorNames(): string[] { return [this.unix.name, ...this.others.map((a) => a.name)]; }

  attest(proc: PinnedWorkloadProcess): Promise<WorkloadAttestation> {
    // The executable is part of the key: after an execve (same pid and start time) the
    // process is another program and must not reuse the previous one's selectors.
    const key = `${proc.pid}:${proc.startTime}:${proc.exeId ?? ''}`;
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.result;
    const result = this.run(proc);
    this.remember(key, now, result);
    return result;
  }

  private async run(proc: WorkloadProcess): Promise<WorkloadAttestation> {
    const [unix, ...others] = await Promise.allSettled([
      this.withTimeout(this.unix, proc, this.unixTimeoutMs),
      ...this.others.map((a) => this.withTimeout(a, proc, this.timeoutMs)),
    ]);
    if (unix!.status === 'rejected') {
      const reason = unix!.reason as Error;
      this.logger.warn('workload attestation failed: process unreadable', { pid: proc.pid, err: reason });
      throw new AttestationError('permission_denied', 'ERR_WORKLOAD_ATTESTATION',
        `cannot attest process ${proc.pid}: ${reason.message}`, { cause: reason });
    }
    const parts: WorkloadAttestation[] = [unix!.value];
    others.forEach((r, i) => {
      if (r.status === 'fulfilled') parts.push(r.value);
      else this.logger.warn('workload attestor failed; continuing without its selectors',
        { attestor: this.others[i]!.name, pid: proc.pid, reason: (r.reason as Error).message });
    });
    return {
      selectors: normalizeSelectors(parts.flatMap((p) => p.selectors)),
      instance: strongestClaim(parts.map((p) => p.instance)),
    };
  }

  private async withTimeout(a: WorkloadAttestor, proc: WorkloadProcess, ms: number): Promise<WorkloadAttestation> {
    const ac = new AbortController();
    const timeout = this.clock.sleep(ms, ac.signal).then(() => {
      throw new AttestationError('unavailable', 'ERR_WORKLOAD_ATTESTOR_TIMEOUT', `${a.name} attestor timed out after ${ms} ms`);
    }, () => new Promise<never>(() => { /* cancelled: never settles */ }));
    try {
      return await Promise.race([a.attest(proc, ac.signal), timeout]);
    } finally {
      ac.abort();
    }
  }

  private remember(key: string, now: number, result: Promise<WorkloadAttestation>): void {
    if (this.cache.size >= CACHE_MAX) {
      for (const [k, v] of this.cache) if (now - v.at >= this.ttlMs) this.cache.delete(k);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    }
    const entry = { at: now, result };
    this.cache.set(key, entry);
    // A failure is not remembered: the next call tries again.
    result.catch(() => { if (this.cache.get(key) === entry) this.cache.delete(key); });
  }
}
