import { existsSync } from 'node:fs';
import { optDuration, optString, UsageError, type OptionSpec, type OptionValues } from '../../common/cli.ts';
import { ENDPOINT_SOCKET_ENV, parseWorkloadApiAddress, type WorkloadApiAddress } from '../../spiffe/workloadapi/address.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';
import { defaultSocketPath } from '../workload-api/socket-path.ts';

/**
 * Where the Workload API is: --socket (a path or a unix:// / tcp:// address), else
 * SPIFFE_ENDPOINT_SOCKET, else the agent's default socket, as spire-agent does. The
 * default depends on the uid the agent runs as (root: /run/tessera, others: /tmp/tessera),
 * not on ours, so the first of the two that exists is used.
 */
const DEFAULT_SOCKETS = [defaultSocketPath(0), defaultSocketPath(65534)];

export const socketOption: Record<string, OptionSpec> = {
  socket: {
    type: 'string', value: 'PATH',
    description: `Workload API socket path or address (default: $${ENDPOINT_SOCKET_ENV}, else ${DEFAULT_SOCKETS.join(' or ')})`,
  },
  timeout: { type: 'string', value: 'DURATION', description: 'give up after this long, e.g. 10s or seconds', default: '10s' },
};

export function workloadAddress(o: OptionValues, env: NodeJS.ProcessEnv): WorkloadApiAddress {
  const s = optString(o, 'socket') || env[ENDPOINT_SOCKET_ENV] || DEFAULT_SOCKETS.find((p) => existsSync(p)) || defaultSocketPath();
  return parseWorkloadApiAddress(s.startsWith('/') ? `unix://${s}` : s);
}

export function timeoutMs(o: OptionValues): number {
  return (optDuration(o, 'timeout', { min: 0.001 }) ?? 10) * 1000;
}

export async function withClient<T>(o: OptionValues, env: NodeJS.ProcessEnv, fn: (c: WorkloadApiClient) => Promise<T>): Promise<T> {
  const address = workloadAddress(o, env);
  const client = new WorkloadApiClient({ address });
  try { return await fn(client); } catch (e) {
    // gRPC's "No connection established ... ENOENT" hides the one thing to fix.
    if (address.kind === 'unix' && !existsSync(address.path)) {
      throw new UsageError(`no Workload API socket at ${address.path}: is tessera-agent running? (set --socket or ${ENDPOINT_SOCKET_ENV})`);
    }
    throw e;
  } finally { client.close(); }
}
