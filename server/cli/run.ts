import { requireString, type Command } from '../../common/cli.ts';
import { systemClock } from '../../common/clock.ts';
import { runUntilSignal } from '../../common/lifecycle.ts';
import { createLogger } from '../../common/logger.ts';
import { loadServerConfig } from '../config.ts';
import { startServer } from '../main.ts';

/** `tessera-server run --config FILE`: validate the config, start, serve until SIGINT/SIGTERM. */
export const runCommand: Command = {
  name: 'run', summary: 'run the server',
  options: { config: { type: 'string', short: 'c', value: 'FILE', description: 'config file (YAML)' } },
  details: 'An unknown key or a bad value in the config stops the server with a message naming the key.',
  async run(ctx) {
    const cfg = loadServerConfig(requireString(ctx.options, 'config'));
    const logger = createLogger({ level: cfg.log_level, fields: { service: 'tessera-server' } });
    await runUntilSignal(() => startServer(cfg, { clock: systemClock, logger }), logger);
  },
};
