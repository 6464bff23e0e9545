import { configCheckCommand } from '../../common/cli.ts';
import { checkAgentConfigFile, type AgentConfig } from '../config.ts';

/** `tessera-agent config check FILE` (common/cli.ts). */
export const configCommands = [configCheckCommand('tessera-agent', checkAgentConfigFile, (c: AgentConfig) => ({
  trust_domain: c.trustDomain.name,
  server_address: c.serverAddress,
  node_attestor: c.nodeAttestor.method,
  workload_attestors: ['unix', ...Object.keys(c.workloadAttestors).filter((k) => k !== 'unix')],
  socket_path: c.socketPath,
  data_dir: c.dataDir,
  metrics: c.metrics ? c.metrics.listen : 'off',
}))];
