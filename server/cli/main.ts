import { completionCommand, runCli } from '../../common/cli.ts';
import { agentCommands } from './agent.ts';
import { approvalCommands } from './approval.ts';
import { auditCommands } from './audit.ts';
import { bundleCommands } from './bundle.ts';
import { delegationCommands } from './delegation.ts';
import { clientCommands } from './client.ts';
import { configCommands } from './config.ts';
import { entryCommands } from './entry.ts';
import { federationCommands } from './federation.ts';
import { healthcheckCommand } from './healthcheck.ts';
import { localAuthorityCommands } from './localauthority.ts';
import { mintCommands } from './mint.ts';
import { runCommand } from './run.ts';

/** tessera-server: `run` plus the admin verbs (talking to the admin socket). */
export const COMMANDS = [runCommand, ...entryCommands, ...agentCommands, ...bundleCommands, ...localAuthorityCommands, ...mintCommands,
  ...delegationCommands, ...approvalCommands, ...auditCommands, healthcheckCommand, ...clientCommands, ...federationCommands, ...configCommands];

COMMANDS.push(completionCommand('tessera-server', () => COMMANDS));

const code = await runCli('tessera-server', COMMANDS, process.argv.slice(2));
process.exitCode = code;
