import { writeFileSync } from 'node:fs';
import { formatTable, optDuration, optString, UsageError, type Command, type CommandContext, type OptionSpec } from '../../common/cli.ts';
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

const AGENT_FILTERS: Record<string, OptionSpec> = {
  'attestation-type': { type: 'string', value: 'METHOD', description: 'only agents attested with this method' },
  banned: { type: 'boolean', description: 'only banned agents' },
};
const agentFilter = (ctx: CommandContext) => ({
  by_attestation_type: optString(ctx.options, 'attestation-type') ?? '', only_banned: ctx.options.banned === true,
});

export const agentCommands: Command[] = [
  {
    name: 'agent list', summary: 'list attested agents',
    options: { ...AGENT_FILTERS, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const res = await call<unknown, ListAgentsResponse__Output>(c.agent, 'ListAgents', agentFilter(ctx));
        ctx.print(res.agents, () => (res.agents.length === 0 ? 'no agents' : formatTable(
          ['SPIFFE ID', 'METHOD', 'BANNED', 'SVID EXPIRES', 'SELECTORS'],
          res.agents.map((a) => [a.spiffe_id, a.attestation_type, a.banned, time(a.x509_svid_expires_at), a.selectors.map(formatSelector).join(',')]))));
      });
    },
  },
  {
    name: 'agent count', summary: 'count attested agents (optionally filtered)',
    options: { ...AGENT_FILTERS, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const r = await call<unknown, { count: number }>(c.agent, 'CountAgents', agentFilter(ctx));
        ctx.print({ count: r.count }, () => String(r.count));
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
      ttl: { type: 'string', value: 'DURATION', description: 'token lifetime, e.g. 10m, 1h or seconds (default: join_token.default_ttl, 10m)' },
      write: { type: 'string', value: 'FILE', description: 'also write the token alone into FILE (0600), for the agent\'s join_token.token_file' },
      ...SOCKET_OPTIONS,
    },
    details: 'The agent attests with the token once (node_attestor.join_token.token in its config, or --join-token);\nits SPIFFE ID is spiffe://<trust domain>/tessera/agent/join_token/<token>.',
    async run(ctx) {
      const ttl = optDuration(ctx.options, 'ttl', { min: 1 });
      if (ttl !== undefined && !Number.isInteger(ttl)) throw new UsageError(`--ttl must be whole seconds, got ${optString(ctx.options, 'ttl')}`);
      await withAdmin(ctx, async (c) => {
        const t = await call<unknown, JoinToken__Output>(c.agent, 'CreateJoinToken', { ttl: ttl ?? 0 });
        const file = optString(ctx.options, 'write');
        if (file) writeFileSync(file, t.token + '\n', { mode: 0o600 });
        ctx.print(t, () => `Token: ${t.token}\nExpires at: ${time(t.expires_at)}`);
      });
    },
  },
];
