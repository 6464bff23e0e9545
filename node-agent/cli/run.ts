import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { optString, type Command } from '../../common/cli.ts';
import { ConfigError } from '../../common/errors.ts';
import { createLogger, type LogLevel } from '../../common/logger.ts';
import { systemClock } from '../../common/clock.ts';
import { runUntilSignal } from '../../common/lifecycle.ts';
import { applyOverrides, parseAgentConfig } from '../config.ts';
import { startAgent } from '../main.ts';

export const runCommand: Command = {
  name: 'run',
  summary: 'run the node agent: attest (or resume), sync entries, serve the Workload API',
  // A daemon: it prints nothing; its logs are JSON lines on stderr.
  output: false,
  details: [
    'Flags override the config file. First contact trusts the server through --trust-bundle',
    '(PEM or SPIFFE JWKS) or --ca-fingerprint (SHA-256 of the server CA certificate).',
    'Logs are JSON lines on stderr.',
  ].join('\n'),
  options: {
    config: { type: 'string', short: 'c', value: 'PATH', description: 'agent config file (YAML)' },
    'server-address': { type: 'string', value: 'HOST:PORT', description: 'server agent API address' },
    'trust-domain': { type: 'string', value: 'NAME', description: 'trust domain, e.g. example.org' },
    'trust-bundle': { type: 'string', value: 'PATH', description: 'CA certificates that validate the server at first contact' },
    'ca-fingerprint': { type: 'string', value: 'SHA256', description: 'pin the server CA by SHA-256 fingerprint instead of a bundle file' },
    'data-dir': { type: 'string', value: 'DIR', description: 'where the agent keeps its key, SVID and bundle (0700)' },
    'socket-path': { type: 'string', value: 'PATH', description: 'Workload API Unix socket' },
    'join-token': { type: 'string', value: 'TOKEN', description: 'attest with this join token (node_attestor.method: join_token)' },
    'log-level': { type: 'string', value: 'LEVEL', description: 'debug, info, warn or error' },
  },
  async run(ctx) {
    const o = ctx.options;
    const path = optString(o, 'config');
    let raw: Record<string, unknown> = {};
    if (path) {
      let text: string;
      try { text = readFileSync(path, 'utf8'); } catch (e) { throw new ConfigError(`config: cannot read ${path}: ${(e as Error).message}`); }
      try { raw = (parseYaml(text) ?? {}) as Record<string, unknown>; } catch (e) { throw new ConfigError(`config: ${path} is not valid YAML: ${(e as Error).message}`); }
      if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config: ${path}: must be a map`);
    }
    const config = parseAgentConfig(applyOverrides(raw, {
      serverAddress: optString(o, 'server-address'), trustDomain: optString(o, 'trust-domain'),
      trustBundlePath: optString(o, 'trust-bundle'), caFingerprint: optString(o, 'ca-fingerprint'),
      dataDir: optString(o, 'data-dir'), socketPath: optString(o, 'socket-path'),
      joinToken: optString(o, 'join-token'), logLevel: optString(o, 'log-level'),
    }, ctx.io.env));
    const logger = createLogger({ level: config.logLevel as LogLevel, fields: { service: 'tessera-agent' } });
    await runUntilSignal(() => startAgent(config, { logger, clock: systemClock }), logger);
    return 0;
  },
};
