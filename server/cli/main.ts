import { runCli } from '../../common/cli.ts';
import { agentCommands } from './agent.ts';
import { bundleCommands } from './bundle.ts';
import { delegationCommands } from './delegation.ts';
import { entryCommands } from './entry.ts';
import { runCommand } from './run.ts';

/** tessera-server: `run` plus the admin verbs (talking to the admin socket). */
export const COMMANDS = [runCommand, ...entryCommands, ...agentCommands, ...bundleCommands, ...delegationCommands];

const code = await runCli('tessera-server', COMMANDS, process.argv.slice(2));
process.exitCode = code;
