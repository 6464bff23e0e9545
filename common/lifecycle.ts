import type { Logger } from './logger.ts';

export interface Stoppable { stop(): Promise<void> }

/**
 * Runs a long-lived service until SIGINT/SIGTERM, then stops it gracefully. A second
 * signal, or a stop that takes longer than `graceMs`, exits at once.
 */
export async function runUntilSignal(start: () => Promise<Stoppable>, logger: Logger, graceMs = 10_000): Promise<void> {
  const svc = await start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) { logger.warn('second signal, exiting now', { signal: sig }); process.exit(1); }
      stopping = true;
      logger.info('shutting down', { signal: sig });
      const timer = setTimeout(() => { logger.error('shutdown timed out', { grace_ms: graceMs }); process.exit(1); }, graceMs);
      timer.unref();
      svc.stop().then(() => { clearTimeout(timer); resolve(); },
        (e) => { logger.error('shutdown failed', { err: e }); process.exit(1); });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
