import { ConfigError } from '../../common/errors.ts';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { WorkloadAttestor, WorkloadAttestorFactory } from '../../attestors/workload/types.ts';
import { WorkloadAttestationComposer } from './composer.ts';
import { WORKLOAD_ATTESTOR_FACTORIES } from './workload-methods.ts';

export interface ComposerFromConfigOptions {
  logger: Logger;
  clock: Clock;
  timeoutMs?: number;
  unixTimeoutMs?: number;
  cacheTtlMs?: number;
  /** Defaults to the build's registry; tests pass their own. */
  factories?: readonly WorkloadAttestorFactory<any>[];
}

/**
 * Builds the composer from the agent config's `workload_attestors` map: unix is
 * always on (its section is optional), every other kind is on when its section is
 * present. Unknown names fail at start, naming the key.
 */
export function composerFromConfig(sections: Record<string, unknown> | undefined, opts: ComposerFromConfigOptions): WorkloadAttestationComposer {
  const factories = opts.factories ?? WORKLOAD_ATTESTOR_FACTORIES;
  const given = sections ?? {};
  for (const name of Object.keys(given)) {
    if (!factories.some((f) => f.name === name)) {
      throw new ConfigError(`config: workload_attestors.${name}: unknown workload attestor (known: ${factories.map((f) => f.name).join(', ')})`);
    }
  }
  const make = (f: WorkloadAttestorFactory<any>): WorkloadAttestor =>
    f.create(f.config.parse(given[f.name], `workload_attestors.${f.name}`), { logger: opts.logger, clock: opts.clock });
  const unixFactory = factories.find((f) => f.name === 'unix');
  if (!unixFactory) throw new ConfigError('config: workload_attestors: the unix attestor is not in this build');
  return new WorkloadAttestationComposer({
    unix: make(unixFactory),
    attestors: factories.filter((f) => f.name !== 'unix' && f.name in given).map(make),
    timeoutMs: opts.timeoutMs,
    unixTimeoutMs: opts.unixTimeoutMs,
    cacheTtlMs: opts.cacheTtlMs,
    clock: opts.clock,
    logger: opts.logger.child({ component: 'workload-attestation' }),
  });
}
