import { optString, UsageError, type OptionSpec, type OptionValues } from '../../common/cli.ts';
import { ENDPOINT_SOCKET_ENV, parseWorkloadApiAddress, type WorkloadApiAddress } from '../../spiffe/workloadapi/address.ts';
import { WorkloadApiClient } from '../../spiffe/workloadapi/client.ts';

/** `--socket` (a path or a unix:// / tcp:// address), else SPIFFE_ENDPOINT_SOCKET. */
export const socketOption: Record<string, OptionSpec> = {
  socket: { type: 'string', value: 'PATH', description: `Workload API socket path or address (default: $${ENDPOINT_SOCKET_ENV})` },
  timeout: { type: 'string', value: 'SECONDS', description: 'give up after this long', default: '10' },
};

export function workloadAddress(o: OptionValues, env: NodeJS.ProcessEnv): WorkloadApiAddress {
  const s = optString(o, 'socket') ?? env[ENDPOINT_SOCKET_ENV];
  if (!s) throw new UsageError(`--socket is required (or set ${ENDPOINT_SOCKET_ENV})`);
  return parseWorkloadApiAddress(s.startsWith('/') ? `unix://${s}` : s);
}

export function timeoutMs(o: OptionValues): number {
  const n = Number(optString(o, 'timeout') ?? '10');
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  return n * 1000;
}

export async function withClient<T>(o: OptionValues, env: NodeJS.ProcessEnv, fn: (c: WorkloadApiClient) => Promise<T>): Promise<T> {
  const client = new WorkloadApiClient({ address: workloadAddress(o, env) });
  try { return await fn(client); } finally { client.close(); }
}
