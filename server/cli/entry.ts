import { readFileSync } from 'node:fs';
import { formatTable, optDuration, optString, optStrings, requireString, UsageError, type Command, type CommandContext, type OptionSpec } from '../../common/cli.ts';
import { serverId, SpiffeId } from '../../spiffe/id.ts';
import type { Entry, Entry__Output } from '../../proto/gen/tessera-api/tessera/v1/Entry.ts';
import type { BatchEntryResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchEntryResponse.ts';
import type { BatchDeleteEntryResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/BatchDeleteEntryResponse.ts';
import type { ListEntriesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListEntriesResponse.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import { call, SOCKET_OPTIONS, withAdmin } from './admin-client.ts';

/** `tessera-server entry ...`: registration entries through the admin socket. */
const FIELDS: Record<string, OptionSpec> = {
  'spiffe-id': { type: 'string', value: 'ID', description: 'SPIFFE ID the entry grants' },
  'parent-id': { type: 'string', value: 'ID', description: 'agent ID (or node-alias ID) the entry is served through' },
  selector: { type: 'string', multiple: true, value: 'TYPE:VALUE', description: 'selector, e.g. unix:uid:1000' },
  'x509-svid-ttl': { type: 'string', value: 'DURATION', description: 'X.509-SVID lifetime, e.g. 1h, 90m or seconds (0 = server default)' },
  'jwt-svid-ttl': { type: 'string', value: 'DURATION', description: 'JWT-SVID lifetime, e.g. 5m or seconds (0 = server default)' },
  dns: { type: 'string', multiple: true, value: 'NAME', description: 'DNS SAN for the X.509-SVID' },
  hint: { type: 'string', value: 'TEXT', description: 'hint shown to workloads with several identities' },
  'agent-model': { type: 'string', value: 'TEXT', description: 'agent claim: model' },
  'agent-provider': { type: 'string', value: 'TEXT', description: 'agent claim: provider' },
  'agent-version': { type: 'string', value: 'TEXT', description: 'agent claim: version' },
  node: { type: 'boolean', description: 'node-alias entry: parent is the server ID, selectors are node selectors' },
  admin: { type: 'boolean', description: 'admin entry' },
  downstream: { type: 'boolean', description: 'downstream entry' },
  'federates-with': { type: 'string', multiple: true, value: 'TD', description: 'trust domain to federate with' },
  'expires-at': { type: 'string', value: 'UNIX', description: 'entry expiry (unix seconds; 0 = never)' },
};

function int(ctx: CommandContext, k: string): number | undefined {
  const v = optString(ctx.options, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${k} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

/** A TTL flag: a duration in whole seconds (the wire carries int32 seconds). */
function ttl(ctx: CommandContext, k: string): number | undefined {
  const v = optDuration(ctx.options, k, { max: 2 ** 31 - 1 });
  if (v !== undefined && !Number.isInteger(v)) throw new UsageError(`--${k} must be whole seconds, got ${optString(ctx.options, k)}`);
  return v;
}

function parseSelectorArg(s: string): { type: string; value: string } {
  const i = s.indexOf(':');
  if (i <= 0 || i === s.length - 1) throw new UsageError(`--selector "${s}" must have the form type:value`);
  return { type: s.slice(0, i), value: s.slice(i + 1) };
}

const ENTRY_ID_OPT: Record<string, OptionSpec> = { id: { type: 'string', value: 'ID', description: 'entry ID (or as the positional argument)' } };

function entryIdArg(ctx: CommandContext): string {
  const id = optString(ctx.options, 'id') ?? ctx.positionals[0];
  if (!id) throw new UsageError('an entry ID is required');
  return id;
}

/** Builds the wire entry from flags; `base` (update) supplies fields not given. */
function entryFromFlags(ctx: CommandContext, base?: Entry__Output): Entry {
  const o = ctx.options;
  const e: Entry = base ? { ...base } : {};
  const spiffeId = optString(o, 'spiffe-id');
  if (spiffeId !== undefined) e.spiffe_id = spiffeId;
  let parent = optString(o, 'parent-id');
  if (o.node) {
    if (parent) throw new UsageError('--node and --parent-id are exclusive (a node-alias entry\'s parent is the server ID)');
    const id = spiffeId ?? base?.spiffe_id;
    if (!id) throw new UsageError('--spiffe-id is required');
    parent = serverId(SpiffeId.parse(id).trustDomain).toString();
  }
  if (parent !== undefined) e.parent_id = parent;
  const sels = optStrings(o, 'selector');
  if (sels.length > 0) e.selectors = sels.map(parseSelectorArg);
  const x = ttl(ctx, 'x509-svid-ttl'); if (x !== undefined) e.x509_svid_ttl = x;
  const j = ttl(ctx, 'jwt-svid-ttl'); if (j !== undefined) e.jwt_svid_ttl = j;
  const exp = int(ctx, 'expires-at'); if (exp !== undefined) e.expires_at = exp;
  const dns = optStrings(o, 'dns'); if (dns.length > 0) e.dns_names = dns;
  const fw = optStrings(o, 'federates-with'); if (fw.length > 0) e.federates_with = fw;
  const hint = optString(o, 'hint'); if (hint !== undefined) e.hint = hint;
  if (o.admin) e.admin = true;
  if (o.downstream) e.downstream = true;
  const model = optString(o, 'agent-model'), provider = optString(o, 'agent-provider'), version = optString(o, 'agent-version');
  if (model !== undefined || provider !== undefined || version !== undefined) {
    e.agent = {
      agent_model: model ?? base?.agent?.agent_model ?? '',
      agent_provider: provider ?? base?.agent?.agent_provider ?? '',
      agent_version: version ?? base?.agent?.agent_version ?? '',
    };
  }
  return e;
}

const sel = (e: Entry__Output) => e.selectors.map(formatSelector).join(',');
const entryTable = (list: Entry__Output[]) => formatTable(
  ['ID', 'SPIFFE ID', 'PARENT ID', 'SELECTORS', 'X509 TTL', 'JWT TTL', 'AGENT'],
  list.map((e) => [e.id, e.spiffe_id, e.parent_id, sel(e), e.x509_svid_ttl || 'default', e.jwt_svid_ttl || 'default',
    e.agent ? [e.agent.agent_model, e.agent.agent_provider, e.agent.agent_version].filter(Boolean).join('/') : '']),
);
const entryDetail = (e: Entry__Output) => [
  `Entry ID      : ${e.id}`, `SPIFFE ID     : ${e.spiffe_id}`, `Parent ID     : ${e.parent_id}`,
  `Revision      : ${e.revision}`, `X509-SVID TTL : ${e.x509_svid_ttl || 'default'}`, `JWT-SVID TTL  : ${e.jwt_svid_ttl || 'default'}`,
  ...e.selectors.map((s) => `Selector      : ${formatSelector(s)}`),
  ...e.dns_names.map((d) => `DNS name      : ${d}`),
  ...(e.hint ? [`Hint          : ${e.hint}`] : []),
  ...(e.agent?.agent_model ? [`Agent model   : ${e.agent.agent_model}`] : []),
  ...(e.agent?.agent_provider ? [`Agent provider: ${e.agent.agent_provider}`] : []),
  ...(e.agent?.agent_version ? [`Agent version : ${e.agent.agent_version}`] : []),
  ...(e.expires_at ? [`Expires at    : ${new Date(e.expires_at * 1000).toISOString()}`] : []),
].join('\n');

/** Prints batch results; exit 1 if any item failed (message per failed item on stderr). */
function reportBatch(ctx: CommandContext, res: BatchEntryResponse__Output): number {
  const failed = res.results.filter((r) => r.status?.code !== 0);
  const ok = res.results.filter((r) => r.status?.code === 0).map((r) => r.entry!);
  if (ctx.output === 'json') ctx.print(res.results);
  else {
    if (ok.length > 0) ctx.io.out(ok.length === 1 && failed.length === 0 ? entryDetail(ok[0]!) : entryTable(ok));
    res.results.forEach((r, i) => { if (r.status?.code !== 0) ctx.io.err(`item ${i + 1}: ${r.status?.message}`); });
  }
  return failed.length > 0 ? 1 : 0;
}

/** JSON file for batch create: an array of entries (wire field names) or { "entries": [...] }. */
function readEntriesFile(path: string): Entry[] {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { throw new UsageError(`--file ${path}: ${(e as Error).message}`); }
  const list = Array.isArray(raw) ? raw : (raw as { entries?: unknown })?.entries;
  if (!Array.isArray(list)) throw new UsageError(`--file ${path}: expected a JSON array of entries or {"entries": [...]}`);
  return list.map((x) => {
    const e = { ...(x as Record<string, unknown>) };
    if (Array.isArray(e.selectors)) e.selectors = e.selectors.map((s) => (typeof s === 'string' ? parseSelectorArg(s) : s));
    return e as Entry;
  });
}

const FILTERS: Record<string, OptionSpec> = {
  'spiffe-id': { type: 'string', value: 'ID', description: 'only entries granting this SPIFFE ID' },
  'parent-id': { type: 'string', value: 'ID', description: 'only entries served through this parent (agent or node-alias) ID' },
  selector: { type: 'string', multiple: true, value: 'TYPE:VALUE', description: 'only entries with these selectors (see --match)' },
  hint: { type: 'string', value: 'TEXT', description: 'only entries with this hint' },
  match: { type: 'string', value: 'MODE', description: 'selector match: exact (default), subset, superset, any' },
};

/** The ListEntries / CountEntries request of the filter flags. */
function filterRequest(ctx: CommandContext): Record<string, unknown> {
  const o = ctx.options;
  return {
    by_spiffe_id: optString(o, 'spiffe-id') ?? '', by_parent_id: optString(o, 'parent-id') ?? '',
    by_selectors: optStrings(o, 'selector').map(parseSelectorArg), selector_match: optString(o, 'match') ?? '',
    by_hint: optString(o, 'hint') ?? '',
  };
}

const hasFilter = (ctx: CommandContext) => Object.keys(FILTERS).some((k) => ctx.options[k] !== undefined);

async function listEntries(ctx: CommandContext): Promise<void> {
  await withAdmin(ctx, async (c) => {
    const res = await call<unknown, ListEntriesResponse__Output>(c.entry, 'ListEntries', filterRequest(ctx));
    ctx.print(res.entries, () => (res.entries.length === 0 ? 'no entries' : entryTable(res.entries)));
  });
}

export const entryCommands: Command[] = [
  {
    name: 'entry create', summary: 'create a registration entry (or a batch from --file)',
    options: { ...FIELDS, file: { type: 'string', value: 'FILE', description: 'JSON file with entries to create in one batch' }, ...SOCKET_OPTIONS },
    details: 'Example: tessera-server entry create --spiffe-id spiffe://example.org/agent/triage --parent-id spiffe://example.org/tessera/agent/join_token/<token> --selector unix:uid:1000',
    async run(ctx) {
      const file = optString(ctx.options, 'file');
      let entries: Entry[];
      if (file) entries = readEntriesFile(file);
      else {
        requireString(ctx.options, 'spiffe-id');
        if (!ctx.options.node) requireString(ctx.options, 'parent-id');
        if (optStrings(ctx.options, 'selector').length === 0) throw new UsageError('--selector is required (at least one)');
        entries = [entryFromFlags(ctx)];
      }
      return withAdmin(ctx, async (c) => reportBatch(ctx, await call(c.entry, 'BatchCreateEntry', { entries })));
    },
  },
  {
    name: 'entry show', summary: 'show one entry by ID, or the entries matching filters', positionals: '[ENTRY-ID]',
    options: { ...ENTRY_ID_OPT, ...FILTERS, ...SOCKET_OPTIONS },
    details: 'With an entry ID: that entry in detail. Without: like entry list, the entries matching the filters (as spire-server entry show).',
    async run(ctx) {
      const id = optString(ctx.options, 'id') ?? ctx.positionals[0];
      if (!id) {
        if (!hasFilter(ctx)) throw new UsageError('give an entry ID, or filter by --spiffe-id, --parent-id, --selector or --hint (entry list shows all)');
        return listEntries(ctx);
      }
      if (hasFilter(ctx)) throw new UsageError('an entry ID and filters are exclusive');
      await withAdmin(ctx, async (c) => {
        const e = await call<unknown, Entry__Output>(c.entry, 'GetEntry', { id });
        ctx.print(e, () => entryDetail(e));
      });
    },
  },
  {
    name: 'entry list', summary: 'list entries (optionally filtered)',
    options: { ...FILTERS, ...SOCKET_OPTIONS },
    run: listEntries,
  },
  {
    name: 'entry count', summary: 'count entries (optionally filtered)',
    options: { ...FILTERS, ...SOCKET_OPTIONS },
    async run(ctx) {
      await withAdmin(ctx, async (c) => {
        const r = await call<unknown, { count: number }>(c.entry, 'CountEntries', filterRequest(ctx));
        ctx.print({ count: r.count }, () => String(r.count));
      });
    },
  },
  {
    name: 'entry update', summary: 'update an entry: given flags replace those fields', positionals: '<ENTRY-ID>',
    options: { ...ENTRY_ID_OPT, ...FIELDS, ...SOCKET_OPTIONS },
    async run(ctx) {
      const id = entryIdArg(ctx);
      return withAdmin(ctx, async (c) => {
        const current = await call<unknown, Entry__Output>(c.entry, 'GetEntry', { id });
        const e = entryFromFlags(ctx, current);
        return reportBatch(ctx, await call(c.entry, 'BatchUpdateEntry', { entries: [e] }));
      });
    },
  },
  {
    name: 'entry delete', summary: 'delete entries', positionals: '<ENTRY-ID>...',
    options: { id: { type: 'string', multiple: true, value: 'ID', description: 'entry ID (repeatable, or positional)' }, ...SOCKET_OPTIONS },
    async run(ctx) {
      const ids = [...optStrings(ctx.options, 'id'), ...ctx.positionals];
      if (ids.length === 0) throw new UsageError('at least one entry ID is required');
      return withAdmin(ctx, async (c) => {
        const res = await call<unknown, BatchDeleteEntryResponse__Output>(c.entry, 'BatchDeleteEntry', { ids });
        const failed = res.results.filter((r) => r.status?.code !== 0);
        if (ctx.output === 'json') ctx.print(res.results);
        else for (const r of res.results) (r.status?.code === 0 ? ctx.io.out : ctx.io.err)(r.status?.code === 0 ? `deleted ${r.id}` : `${r.id}: ${r.status?.message}`);
        return failed.length > 0 ? 1 : 0;
      });
    },
  },
];
