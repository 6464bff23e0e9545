import { requireString, type Command } from '../../common/cli.ts';
import { systemClock } from '../../common/clock.ts';
import { runUntilSignal } from '../../common/lifecycle.ts';
import { createLogger } from '../../common/logger.ts';
import { loadServerConfig } from '../config.ts';
import { startServer } from '../main.ts';

/** `tessera-server run --config FILE`: validate the config, start, serve until SIGINT/SIGTERM. */
export const runCommand: Command = {
  name: 'run', summary: 'run the server',
  options: { config: { type: 'string', short: 'c', value: 'FILE', description: 'config file (YAML; required)' } },
  details: 'An unknown key or a bad value in the config stops the server with a message naming the key.\n'
    + 'Once started it prints (as JSON with --output json) the agent API address, the admin socket and the\n'
    + 'CA fingerprint agents can pin, and writes <data_dir>/bundle.pem and <data_dir>/ca.fingerprint for agents.',
  async run(ctx) {
    const cfg = loadServerConfig(requireString(ctx.options, 'config'));
    const logger = createLogger({ level: cfg.log_level, fields: { service: 'tessera-server' } });
    await runUntilSignal(async () => {
      const srv = await startServer(cfg, { clock: systemClock, logger });
      // For operators: what agents need to find and pin this server.
      ctx.print({ agent_api: srv.agentAddress, admin_socket: srv.adminSocket, ca_fingerprint: srv.caFingerprint },
        () => `tessera-server: agent API ${srv.agentAddress}, admin socket ${srv.adminSocket}\nCA fingerprint (SHA-256): ${srv.caFingerprint}`);
      return srv;
    }, logger);
  },
};
