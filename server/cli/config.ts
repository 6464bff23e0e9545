import { configCheckCommand } from '../../common/cli.ts';
import { checkServerConfigFile, type ServerConfig } from '../config.ts';

/** `tessera-server config check FILE` (common/cli.ts). */
export const configCommands = [configCheckCommand('tessera-server', checkServerConfigFile, (c: ServerConfig) => ({
  trust_domain: c.trust_domain.name,
  agent_api: c.agent_api.listen,
  admin_socket: c.adminSocket,
  datastore: c.datastore.kind,
  node_attestors: Object.keys(c.node_attestors),
  oauth: c.oauth ? c.oauth.listen : 'off',
  metrics: c.metrics ? c.metrics.listen : 'off',
}))];
