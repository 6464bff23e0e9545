import * as grpc from '@grpc/grpc-js';
import { formatTable, optString, optStrings, UsageError, type Command, type CommandContext } from '../../common/cli.ts';
import { loadAdminProto } from '../../common/proto.ts';
import type { ClientAdminClient } from '../../proto/gen/tessera-api/tessera/v1/ClientAdmin.ts';
import type { DeleteClientResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/DeleteClientResponse.ts';
import type { ListClientsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListClientsResponse.ts';
import type { OAuthClient, OAuthClient__Output } from '../../proto/gen/tessera-api/tessera/v1/OAuthClient.ts';
import { call, SOCKET_OPTIONS, socketPath, withAdmin } from './admin-client.ts';

/**
 * `tessera-server client ...`: pre-registered OAuth clients of the authorization server
 * (docs/mcp.md "Clients") through the admin socket. Workloads authenticate with their
 * SVIDs, public clients with PKCE: there are no client secrets to create or rotate.
 */
const METHODS = ['tls_client_auth', 'spiffe_jwt', 'none'];
const CLIENT_ID_OPT = { 'client-id': { type: 'string' as const, value: 'ID', description: 'the client_id (or as the positional argument)' } };

function withClients<T>(ctx: CommandContext, fn: (c: ClientAdminClient) => Promise<T>): Promise<T> {
  return withAdmin(ctx, async () => {
    const p = loadAdminProto().tessera.v1;
    const client = new p.ClientAdmin(`unix://${socketPath(ctx.options, ctx.io.env)}`, grpc.credentials.createInsecure());
    try { return await fn(client); } finally { client.close(); }
  });
}

function clientIdArg(ctx: CommandContext): string {
  const id = optString(ctx.options, 'client-id') ?? ctx.positionals[0];
  if (!id) throw new UsageError('a client_id is required (--client-id or positional)');
  return id;
}

const time = (s: number) => (s ? new Date(s * 1000).toISOString() : '-');
const clientTable = (cs: OAuthClient__Output[]) => formatTable(['CLIENT ID', 'NAME', 'AUTH METHOD', 'REDIRECT URIS', 'REGISTERED BY'],
  cs.map((c) => [c.client_id, c.name || '-', c.auth_method, c.redirect_uris.join(' ') || '-', c.registered_by]));
const clientDetail = (c: OAuthClient__Output) => [
  `Client ID     : ${c.client_id}`,
  `Name          : ${c.name || '-'}`,
  `Auth method   : ${c.auth_method}`,
  ...(c.redirect_uris.length ? c.redirect_uris.map((u) => `Redirect URI  : ${u}`) : ['Redirect URIs : none (client credentials only)']),
  `Registered by : ${c.registered_by}`,
  `Created at    : ${time(c.created_at)}`,
].join('\n');

export const clientCommands: Command[] = [
  {
    name: 'client create', summary: 'pre-register an OAuth client (an attested workload or a public client)', positionals: '[CLIENT-ID]',
    options: {
      ...CLIENT_ID_OPT,
      'redirect-uri': { type: 'string', multiple: true, value: 'URI', description: 'redirect URI (repeatable; exact match at authorization)' },
      'auth-method': { type: 'string', value: 'METHOD', description: `${METHODS.join(' | ')} (default: tls_client_auth for a SPIFFE ID, none for a URL)` },
      name: { type: 'string', value: 'TEXT', description: 'name shown on the consent page' },
      ...SOCKET_OPTIONS,
    },
    details: 'A workload: --client-id spiffe://example.org/agents/researcher --redirect-uri https://agent.example.org/cb --auth-method spiffe_jwt\n' +
      'A public client: --client-id https://app.example.com/client --redirect-uri http://127.0.0.1:8976/callback\n' +
      'There are no client secrets: workloads authenticate with their X.509-SVID (tls_client_auth) or a JWT-SVID\n' +
      'assertion (spiffe_jwt); public clients use PKCE. A workload used only for client_credentials needs no redirect URI.',
    async run(ctx) {
      const method = optString(ctx.options, 'auth-method');
      if (method !== undefined && !METHODS.includes(method)) {
        throw new UsageError(`--auth-method must be one of ${METHODS.join(', ')}, got "${method}" (there are no client secrets)`);
      }
      const req: OAuthClient = {
        client_id: clientIdArg(ctx), redirect_uris: optStrings(ctx.options, 'redirect-uri'),
        name: optString(ctx.options, 'name') ?? '', auth_method: method ?? '',
      };
      await withClients(ctx, async (c) => {
        const created = await call<OAuthClient, OAuthClient__Output>(c, 'CreateClient', req);
        ctx.print(created, () => clientDetail(created));
      });
    },
  },
  {
    name: 'client list', summary: 'list pre-registered OAuth clients',
    options: { ...SOCKET_OPTIONS },
    async run(ctx) {
      await withClients(ctx, async (c) => {
        const res = await call<unknown, ListClientsResponse__Output>(c, 'ListClients', {});
        ctx.print(res.clients, () => (res.clients.length ? clientTable(res.clients) : 'no OAuth clients'));
      });
    },
  },
  {
    name: 'client show', summary: 'show one OAuth client', positionals: '<CLIENT-ID>',
    options: { ...CLIENT_ID_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      const id = clientIdArg(ctx);
      await withClients(ctx, async (c) => {
        const r = await call<unknown, OAuthClient__Output>(c, 'GetClient', { client_id: id });
        ctx.print(r, () => clientDetail(r));
      });
    },
  },
  {
    name: 'client delete', summary: 'delete OAuth clients', positionals: '<CLIENT-ID>...',
    options: { 'client-id': { type: 'string', multiple: true, value: 'ID', description: 'client_id (repeatable, or positional)' }, ...SOCKET_OPTIONS },
    details: 'Tokens already issued to the client stay valid until they expire or are revoked (tessera-server delegation revoke).',
    async run(ctx) {
      const ids = [...optStrings(ctx.options, 'client-id'), ...ctx.positionals];
      if (ids.length === 0) throw new UsageError('at least one client_id is required');
      return withClients(ctx, async (c) => {
        const done: string[] = [];
        let failed = 0;
        for (const id of ids) {
          try { done.push((await call<unknown, DeleteClientResponse__Output>(c, 'DeleteClient', { client_id: id })).client_id); } catch (e) {
            failed++;
            ctx.io.err(`${id}: ${(e as Error).message}`);
          }
        }
        if (ctx.output === 'json') ctx.print(done.map((id) => ({ client_id: id })));
        else for (const id of done) ctx.io.out(`deleted ${id}`);
        return failed ? 1 : 0;
      });
    },
  },
];
