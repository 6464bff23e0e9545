import { formatTable, optString, UsageError, type Command, type CommandContext } from '../../common/cli.ts';
import type { Agent__Output } from '../../proto/gen/tessera-api/tessera/v1/Agent.ts';
import type { ListAgentsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListAgentsResponse.ts';
import type { JoinToken__Output } from '../../proto/gen/tessera-api/tessera/v1/JoinToken.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { call, SOCKET_OPTIONS, withAdmin } from './admin-client.ts';

/** `tessera-server agent ...` and `token generate`. */
const time = (s: number) => (s ? new Date(s * 1000).toISOString() : '');
const agentDetail = (a: Agent__Output) => [
  `SPIFFE ID        : ${a.spiffe_id}`, `Attestation type : ${a.attestation_type}`,
  `SVID serial      : ${a.x509_svid_serial}`, `SVID expires at  : ${time(a.x509_svid_expires_at)}`,
  `Banned           : ${a.banned}`, `Attested at      : ${time(a.created_at)}`, `Updated at       : ${time(a.updated_at)}`,
  ...a.selectors.map((s) => `Selector         : ${formatSelector(s)}`),
].join('\n');

const idArg = (ctx: CommandContext): string => {
  const id = optString(ctx.options, 'spiffe-id') ?? ctx.positionals[0];
  if (!id) throw new UsageError('an agent SPIFFE ID is required');
  return id;
};
const ID_OPT = { 'spiffe-id': { type: 'string' as const, value: 'ID', description: 'agent SPIFFE ID (or as the positional argument)' } };

export const agentCommands: Command[] = [
  {
    name: 'agent list', summary: 'list attested agents',
    options: {
      'attestation-type': { type: 'string', value: 'METHOD', description: 'only agents attested with this method' },
      banned: { type: 'boolean', description: 'only banned agents' }, ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const res = await call<unknown, ListAgentsResponse__Output>(c.agent, 'ListAgents', {
          by_attestation_type: optString(ctx.options, 'attestation-type') ?? '', only_banned: ctx.options.banned === true,
        });
        ctx.print(res.agents, () => (res.agents.length === 0 ? 'no agents' : formatTable(
          ['SPIFFE ID', 'METHOD', 'BANNED', 'SVID EXPIRES', 'SELECTORS'],
          res.agents.map((a) => [a.spiffe_id, a.attestation_type, a.banned, time(a.x509_svid_expires_at), a.selectors.map(formatSelector).join(',')]))));
      });
    },
  },
  {
    name: 'agent show', summary: 'show one agent', positionals: '<SPIFFE-ID>', options: { ...ID_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const a = await call<unknown, Agent__Output>(c.agent, 'GetAgent', { spiffe_id: idArg(ctx) });
        ctx.print(a, () => agentDetail(a));
      });
    },
  },
  {
    name: 'agent ban', summary: 'ban an agent: it can neither renew nor re-attest until evicted', positionals: '<SPIFFE-ID>',
    options: { ...ID_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const a = await call<unknown, Agent__Output>(c.agent, 'BanAgent', { spiffe_id: idArg(ctx) });
        ctx.print(a, () => `banned ${a.spiffe_id}`);
      });
    },
  },
  {
    name: 'agent evict', summary: 'evict an agent: its record is deleted and it must attest again', positionals: '<SPIFFE-ID>',
    options: { ...ID_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const r = await call<unknown, { spiffe_id: string }>(c.agent, 'EvictAgent', { spiffe_id: idArg(ctx) });
        ctx.print(r, () => `evicted ${r.spiffe_id}`);
      });
    },
  },
  {
    name: 'token generate', summary: 'generate a single-use join token',
    options: {
      ttl: { type: 'string', value: 'SECONDS', description: 'token lifetime (default: join_token.default_ttl, 600)' },
      'spiffe-id': { type: 'string', value: 'ID', description: 'reserved: not supported yet' },
      ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      const ttlArg = optString(ctx.options, 'ttl');
      if (ttlArg !== undefined && !/^\d+$/.test(ttlArg)) throw new UsageError(`--ttl must be a number of seconds, got "${ttlArg}"`);
      await withAdmin(ctx, async (c) => {
        const t = await call<unknown, JoinToken__Output>(c.agent, 'CreateJoinToken', { ttl: ttlArg ? Number(ttlArg) : 0 });
        ctx.print(t, () => `Token: ${t.token}\nExpires at: ${time(t.expires_at)}`);
      });
    },
  },
];
