import * as grpc from '@grpc/grpc-js';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { permissionDenied } from '../../common/errors.ts';
import { loadAdminProto } from '../../common/proto.ts';
import { optString, UsageError, type CommandContext, type OptionSpec, type OptionValues } from '../../common/cli.ts';
import type { EntryAdminClient } from '../../proto/gen/tessera-api/tessera/v1/EntryAdmin.ts';
import type { AgentAdminClient } from '../../proto/gen/tessera-api/tessera/v1/AgentAdmin.ts';
import type { BundleAdminClient } from '../../proto/gen/tessera-api/tessera/v1/BundleAdmin.ts';
import type { LocalAuthorityAdminClient } from '../../proto/gen/tessera-api/tessera/v1/LocalAuthorityAdmin.ts';
import type { SvidAdminClient } from '../../proto/gen/tessera-api/tessera/v1/SvidAdmin.ts';
import { serverAdminSocket } from '../config.ts';

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
  localAuthority: LocalAuthorityAdminClient;
  svid: SvidAdminClient;
  close(): void;
}

export function socketPath(o: OptionValues, env: NodeJS.ProcessEnv): string {
  const flag = optString(o, 'socket');
  if (flag) return flag;
  const cfg = optString(o, 'config');
  if (cfg) return serverAdminSocket(cfg);
  return env.TESSERA_ADMIN_SOCKET || DEFAULT_SOCKET;
}

export function connectAdmin(o: OptionValues, env: NodeJS.ProcessEnv): AdminClients {
  const path = socketPath(o, env);
  checkSocket(path);
  const p = loadAdminProto().tessera.v1;
  const creds = grpc.credentials.createInsecure();
  const target = `unix://${path}`;
  const entry = new p.EntryAdmin(target, creds);
  const agent = new p.AgentAdmin(target, creds);
  const bundle = new p.BundleAdmin(target, creds);
  const localAuthority = new p.LocalAuthorityAdmin(target, creds);
  const svid = new p.SvidAdmin(target, creds);
  return {
    entry, agent, bundle, localAuthority, svid,
    close: () => { entry.close(); agent.close(); bundle.close(); localAuthority.close(); svid.close(); },
  };
}

/**
 * Fails early with the real reason the socket cannot be used. The socket lives in a
 * 0700 directory, so for anyone but its owner (and root) stat fails with EACCES,
 * which must not read as "the server is not running".
 */
function checkSocket(path: string): void {
  try {
    statSync(path);
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`admin socket ${path} does not exist: is tessera-server running? (set --socket or --config)`);
    }
    if (code === 'EACCES' || code === 'EPERM') throw permissionDenied('ERR_ADMIN_SOCKET_ACCESS', accessDenied(path));
    throw new UsageError(`admin socket ${path} cannot be used: ${(e as Error).message}`);
  }
}

/** Names the path component that refuses access (the deepest one we can still stat) and its owner. */
function accessDenied(path: string): string {
  let blocker = path;
  let st: { uid: number; mode: number } | undefined;
  for (let p = path; ; p = dirname(p)) {
    try { st = statSync(p); blocker = p; break; } catch { /* not reachable: its parent is the blocker */ }
    if (dirname(p) === p) break;
  }
  const self = describeUid(process.getuid?.() ?? -1);
  if (!st) return `permission denied on admin socket ${path} for ${self}`;
  const owner = describeUid(st.uid);
  const what = blocker === path ? 'the socket' : `directory ${blocker}`;
  return `permission denied on admin socket ${path}: ${what} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}) belongs to ${owner}; `
    + `only that user or root may use the admin API, and this command runs as ${self}`;
}

/** "name (uid N)", or "uid N" for a uid with no passwd entry (containers). */
function describeUid(uid: number): string {
  const name = userName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function userName(uid: number): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid && id !== '') return name;
    }
  } catch { /* no passwd file: the uid alone */ }
  return undefined;
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
