import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { loadAdminProto } from '../../common/proto.ts';
import { optString, UsageError, type CommandContext, type OptionSpec, type OptionValues } from '../../common/cli.ts';
import type { EntryAdminClient } from '../../proto/gen/tessera-api/tessera/v1/EntryAdmin.ts';
import type { AgentAdminClient } from '../../proto/gen/tessera-api/tessera/v1/AgentAdmin.ts';
import type { BundleAdminClient } from '../../proto/gen/tessera-api/tessera/v1/BundleAdmin.ts';
import { loadServerConfig } from '../config.ts';

/**
 * The CLI's connection to the admin socket. Found by --socket, else the config file
 * (--config), else $TESSERA_ADMIN_SOCKET, else the default data dir's socket.
 */
export const DEFAULT_SOCKET = '/var/lib/tessera/server/admin/admin.sock';

export const SOCKET_OPTIONS: Record<string, OptionSpec> = {
  socket: { type: 'string', value: 'PATH', description: `admin API socket (default: $TESSERA_ADMIN_SOCKET or ${DEFAULT_SOCKET})` },
  config: { type: 'string', short: 'c', value: 'FILE', description: 'server config file, to find the admin socket' },
};

export interface AdminClients {
  entry: EntryAdminClient;
  agent: AgentAdminClient;
  bundle: BundleAdminClient;
  close(): void;
}

export function socketPath(o: OptionValues, env: NodeJS.ProcessEnv): string {
  const flag = optString(o, 'socket');
  if (flag) return flag;
  const cfg = optString(o, 'config');
  if (cfg) return loadServerConfig(cfg).adminSocket;
  return env.TESSERA_ADMIN_SOCKET || DEFAULT_SOCKET;
}

export function connectAdmin(o: OptionValues, env: NodeJS.ProcessEnv): AdminClients {
  const path = socketPath(o, env);
  if (!existsSync(path)) throw new UsageError(`admin socket ${path} does not exist: is tessera-server running? (set --socket or --config)`);
  const p = loadAdminProto().tessera.v1;
  const creds = grpc.credentials.createInsecure();
  const target = `unix://${path}`;
  const entry = new p.EntryAdmin(target, creds);
  const agent = new p.AgentAdmin(target, creds);
  const bundle = new p.BundleAdmin(target, creds);
  return { entry, agent, bundle, close: () => { entry.close(); agent.close(); bundle.close(); } };
}

/** Connects to the admin socket, runs `fn`, and closes the clients whatever happens. */
export async function withAdmin<T>(ctx: CommandContext, fn: (c: AdminClients) => Promise<T>): Promise<T> {
  const c = connectAdmin(ctx.options, ctx.io.env);
  try { return await fn(c); } finally { c.close(); }
}

/** Promisifies one unary call with a deadline; a gRPC error's details become the message. */
export function call<Req, Res>(client: grpc.Client, method: string, req: Req, timeoutMs = 10_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: Req, m: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => void>)[method]!;
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) {
        const e = new Error(err.details || err.message) as Error & { code?: string; grpcCode?: number };
        e.code = (err.metadata?.get('tessera-error-code')[0] as string | undefined) ?? grpc.status[err.code];
        e.grpcCode = err.code;
        reject(e);
      } else resolve(res!);
    });
  });
}
