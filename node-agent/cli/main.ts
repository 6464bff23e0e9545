import { completionCommand, runCli } from '../../common/cli.ts';
import { runCommand } from './run.ts';
import { apiCommands } from './api.ts';
import { healthcheckCommand } from './healthcheck.ts';
import { configCommands } from './config.ts';

/** tessera-agent: the node agent (`run`) and a Workload API client for operators and scripts. */
export const AGENT_COMMANDS = [runCommand, ...apiCommands, healthcheckCommand, ...configCommands];
AGENT_COMMANDS.push(completionCommand('tessera-agent', () => AGENT_COMMANDS));

const code = await runCli('tessera-agent', AGENT_COMMANDS, process.argv.slice(2));
// gRPC channels and timers may keep the loop alive after a command is done.
process.exit(code);
