import { isIP } from 'node:net';
import { SpiffeError } from '../errors.ts';

/**
 * The Workload API endpoint address, per the SPIFFE Workload Endpoint standard:
 * `unix:///absolute/path` or `tcp://<ip>:<port>`, taken from config or the
 * SPIFFE_ENDPOINT_SOCKET environment variable.
 */
export type WorkloadApiAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export const ENDPOINT_SOCKET_ENV = 'SPIFFE_ENDPOINT_SOCKET';

const bad = (input: string, why: string): never => {
  throw new SpiffeError('ERR_ADDRESS_INVALID', `workload endpoint address "${input}": ${why}`);
};

export function parseWorkloadApiAddress(input: string): WorkloadApiAddress {
  let url: URL;
  try { url = new URL(input); } catch { return bad(input, 'is not a URI (want unix:///path or tcp://ip:port)'); }
  if (url.username || url.password) bad(input, 'must not include user info');
  if (url.search) bad(input, 'must not include query values');
  if (url.hash) bad(input, 'must not include a fragment');
  switch (url.protocol) {
    case 'unix:': {
      // "unix:foo" (opaque) and "unix://host/path" (authority) are both ambiguous: reject.
      if (!input.toLowerCase().startsWith('unix://')) bad(input, 'unix URI must not be opaque (want unix:///absolute/path)');
      if (url.host) bad(input, 'unix URI must not have an authority (want unix:///absolute/path)');
      if (!url.pathname || url.pathname === '/') bad(input, 'unix URI must include a socket path');
      return { kind: 'unix', path: decodeURIComponent(url.pathname) };
    }
    case 'tcp:': {
      if (!input.toLowerCase().startsWith('tcp://')) bad(input, 'tcp URI must not be opaque');
      if (url.pathname && url.pathname !== '/') bad(input, 'tcp URI must not include a path');
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) === 0) bad(input, `host "${url.hostname}" must be an IP address`);
      if (!url.port) bad(input, 'tcp URI must include a port');
      return { kind: 'tcp', host, port: Number(url.port) };
    }
    default:
      return bad(input, `scheme "${url.protocol.replace(/:$/, '')}" is not supported (want unix or tcp)`);
  }
}

/** The address from SPIFFE_ENDPOINT_SOCKET; throws ERR_ADDRESS_INVALID when unset. */
export function addressFromEnv(env: Record<string, string | undefined> = process.env): WorkloadApiAddress {
  const v = env[ENDPOINT_SOCKET_ENV];
  if (!v) throw new SpiffeError('ERR_ADDRESS_INVALID', `${ENDPOINT_SOCKET_ENV} is not set and no address was given`);
  return parseWorkloadApiAddress(v);
}

/** The grpc-js channel target for an address. */
export function grpcTarget(a: WorkloadApiAddress): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  return isIP(a.host) === 6 ? `ipv6:[${a.host}]:${a.port}` : `ipv4:${a.host}:${a.port}`;
}

export function formatWorkloadApiAddress(a: WorkloadApiAddress): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  return isIP(a.host) === 6 ? `tcp://[${a.host}]:${a.port}` : `tcp://${a.host}:${a.port}`;
}
