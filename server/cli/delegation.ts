import * as grpc from '@grpc/grpc-js';
import { formatTable, optString, optStrings, requireString, UsageError, type Command, type CommandContext, type OptionSpec } from '../../common/cli.ts';
import { parseDuration } from '../../common/config.ts';
import { loadAdminProto } from '../../common/proto.ts';
import type { DelegationAdminClient } from '../../proto/gen/tessera-api/tessera/v1/DelegationAdmin.ts';
import type { DelegationPolicy, DelegationPolicy__Output } from '../../proto/gen/tessera-api/tessera/v1/DelegationPolicy.ts';
import type { DeletePolicyResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/DeletePolicyResponse.ts';
import type { ListPoliciesResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListPoliciesResponse.ts';
import type { ListRevocationsResponse__Output } from '../../proto/gen/tessera-api/tessera/v1/ListRevocationsResponse.ts';
import type { PolicyApproval } from '../../proto/gen/tessera-api/tessera/v1/PolicyApproval.ts';
import type { PolicyCondition, PolicyCondition__Output } from '../../proto/gen/tessera-api/tessera/v1/PolicyCondition.ts';
import type { Revocation__Output } from '../../proto/gen/tessera-api/tessera/v1/Revocation.ts';
import { call, SOCKET_OPTIONS, socketPath, withAdmin } from './admin-client.ts';

/** `tessera-server delegation ...`: delegation policies and revocations (docs/delegation.md) through the admin socket. */
const FIELDS: Record<string, OptionSpec> = {
  description: { type: 'string', value: 'TEXT', description: 'free text for operators' },
  actor: { type: 'string', multiple: true, value: 'PATTERN', description: 'actor: a SPIFFE ID, or spiffe://td/path/* for that path and below' },
  issuer: { type: 'string', value: 'URL', description: 'subject issuer: the trusted IdP whose users this covers' },
  subject: { type: 'string', multiple: true, value: 'SUB', description: 'user (subject claim value) covered; none = any' },
  group: { type: 'string', multiple: true, value: 'GROUP', description: 'the user must be in one of these groups; none = any' },
  audience: { type: 'string', multiple: true, value: 'AUD', description: 'audience/resource a token may name' },
  scope: { type: 'string', multiple: true, value: 'SCOPE', description: 'scope a token may carry' },
  'max-ttl': { type: 'string', value: 'DURATION', description: 'longest token lifetime, e.g. 300, 90s, 5m, 1h' },
  'max-depth': { type: 'string', value: 'N', description: 'longest act chain (1 = no sub-agents)' },
  'may-delegate-to': { type: 'string', multiple: true, value: 'PATTERN', description: 'actor pattern the holder may hand a narrower token to; none = no one' },
  budget: { type: 'string', multiple: true, value: 'OP=N', description: 'per-operation use limit carried into tokens, e.g. read:files=15 (docs/attenuation.md)' },
  'approval-scope': { type: 'string', multiple: true, value: 'SCOPE', description: 'scope an agent may ask for and get only by human approval (CIBA, docs/attenuation.md); not also a --scope' },
  approver: { type: 'string', multiple: true, value: 'subject|group:NAME', description: 'who approves --approval-scope requests: the user acted for (subject, the default) or members of group NAME' },
  condition: {
    type: 'string', multiple: true, value: 'ACTION,RULE=V,...',
    description: 'a condition on an action checked by AuthZEN decisions (docs/authzen.md "Conditions"), e.g. payments:send,amount=500,first-seen=50 or payments:quote,rate=3/1h; given ones replace all',
  },
};
const LIST_FLAGS: Record<string, keyof DelegationPolicy> = {
  actor: 'actors', subject: 'subjects', group: 'groups', audience: 'audiences', scope: 'scopes', 'may-delegate-to': 'may_delegate_to',
};
const CLEARABLE = ['subject', 'group', 'may-delegate-to', 'approval', 'conditions'];
const POLICY_ID_OPT: Record<string, OptionSpec> = { id: { type: 'string', value: 'ID', description: 'policy ID (or as the positional argument)' } };

/** Runs `fn` with a DelegationAdmin client on the admin socket (the shared helper checks the socket first). */
export function withDelegation<T>(ctx: CommandContext, fn: (c: DelegationAdminClient) => Promise<T>): Promise<T> {
  return withAdmin(ctx, async () => {
    const p = loadAdminProto().tessera.v1;
    const client = new p.DelegationAdmin(`unix://${socketPath(ctx.options, ctx.io.env)}`, grpc.credentials.createInsecure());
    try { return await fn(client); } finally { client.close(); }
  });
}

function seconds(ctx: CommandContext, k: string): number | undefined {
  const v = optString(ctx.options, k);
  if (v === undefined) return undefined;
  const s = parseDuration(v);
  if (s === undefined || !Number.isInteger(s) || s <= 0) {
    throw new UsageError(`--${k} must be a positive whole number of seconds or a duration like 90s, 5m, 1h, got "${v}"`);
  }
  return s;
}

function count(ctx: CommandContext, k: string): number | undefined {
  const v = optString(ctx.options, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${k} must be a whole number of at least 1, got "${v}"`);
  return Number(v);
}

function policyIdArg(ctx: CommandContext): string {
  const id = optString(ctx.options, 'id') ?? ctx.positionals[0];
  if (!id) throw new UsageError('a policy ID is required');
  return id;
}

/** The wire policy from flags; `base` (update) supplies fields not given, `--clear` empties optional lists. */
function policyFromFlags(ctx: CommandContext, base?: DelegationPolicy__Output): DelegationPolicy {
  const o = ctx.options;
  const p: DelegationPolicy = base ? { ...base } : {};
  const description = optString(o, 'description'); if (description !== undefined) p.description = description;
  const issuer = optString(o, 'issuer'); if (issuer !== undefined) p.subject_issuer = issuer;
  for (const c of optStrings(o, 'clear')) {
    if (!CLEARABLE.includes(c)) throw new UsageError(`--clear ${c}: only ${CLEARABLE.join(', ')} can be cleared`);
    if (c === 'approval') p.approval = null;
    else if (c === 'conditions') p.conditions = [];
    else (p as Record<string, unknown>)[LIST_FLAGS[c]!] = [];
  }
  for (const [flag, field] of Object.entries(LIST_FLAGS)) {
    const v = optStrings(o, flag);
    if (v.length) (p as Record<string, unknown>)[field] = v;
  }
  const ttl = seconds(ctx, 'max-ttl'); if (ttl !== undefined) p.max_ttl = ttl;
  const depth = count(ctx, 'max-depth'); if (depth !== undefined) p.max_depth = depth;
  const budgets = optStrings(o, 'budget');
  if (budgets.length) {
    p.budgets = Object.fromEntries(budgets.map((b) => {
      const m = /^([^=\s]+)=(\d+)$/.exec(b);
      if (!m) throw new UsageError(`--budget ${b}: expected OPERATION=N, e.g. read:files=15`);
      return [m[1]!, Number(m[2])];
    }));
  }
  const approval = approvalFromFlags(ctx, p.approval ?? undefined);
  if (approval) p.approval = approval;
  const conditions = optStrings(o, 'condition');
  if (conditions.length) p.conditions = conditions.map(parseCondition);
  return p;
}

/**
 * `ACTION,RULE=VALUE,...` with rules rate=MAX/WINDOW, amount=MAX, first-seen=MAX_AMOUNT,
 * amount-property=NAME, destination=NAME (the first-seen property), remember=DURATION.
 * Unset properties and remember take the server's defaults; the server validates values.
 */
export function parseCondition(text: string): PolicyCondition {
  const [action, ...rules] = text.split(',').map((x) => x.trim());
  const bad = (m: string) => new UsageError(`--condition ${text}: ${m}`);
  if (!action || action.includes('=')) throw bad('start with the action (a scope of the policy), e.g. payments:send,amount=500');
  if (rules.length === 0) throw bad('name at least one rule: rate=MAX/WINDOW, amount=MAX or first-seen=MAX_AMOUNT');
  const c: PolicyCondition = { action };
  const kv = new Map<string, string>();
  for (const r of rules) {
    const m = /^([a-z-]+)=(.+)$/.exec(r);
    if (!m) throw bad(`"${r}" is not RULE=VALUE`);
    if (kv.has(m[1]!)) throw bad(`${m[1]} is given twice`);
    kv.set(m[1]!, m[2]!);
  }
  const num = (k: string) => {
    const v = kv.get(k)!;
    if (!/^\d+(\.\d+)?$/.test(v)) throw bad(`${k}=${v}: expected a number ≥ 0`);
    return Number(v);
  };
  const amountProperty = kv.get('amount-property') ?? '';
  for (const k of kv.keys()) {
    if (!['rate', 'amount', 'first-seen', 'amount-property', 'destination', 'remember'].includes(k)) {
      throw bad(`unknown rule ${k} (rate, amount, first-seen, amount-property, destination, remember)`);
    }
  }
  if (kv.has('rate')) {
    const m = /^(\d+)\/(.+)$/.exec(kv.get('rate')!);
    const window = m ? parseDuration(m[2]!) : undefined;
    if (!m || window === undefined) throw bad(`rate=${kv.get('rate')}: expected MAX/WINDOW, e.g. 3/1h`);
    c.rate = { max: Number(m[1]), window };
  }
  if (kv.has('amount')) c.amount = { max: num('amount'), property: amountProperty };
  if (kv.has('first-seen')) {
    const remember = kv.has('remember') ? parseDuration(kv.get('remember')!) : 0;
    if (remember === undefined) throw bad(`remember=${kv.get('remember')}: expected a duration, e.g. 30d`);
    c.first_seen = { max_amount: num('first-seen'), property: kv.get('destination') ?? '', amount_property: amountProperty, remember };
  } else if (kv.has('destination') || kv.has('remember')) {
    throw bad('destination and remember belong to first-seen=MAX_AMOUNT');
  }
  if (!c.rate && !c.amount && !c.first_seen) throw bad('name at least one rule: rate=MAX/WINDOW, amount=MAX or first-seen=MAX_AMOUNT');
  return c;
}

/** One condition as the CLI would take it back (with the server's defaults filled in). */
export function conditionText(c: PolicyCondition__Output): string {
  const parts = [c.action];
  if (c.rate) parts.push(`rate=${c.rate.max}/${c.rate.window}s`);
  if (c.amount) parts.push(`amount=${c.amount.max}`);
  if (c.first_seen) parts.push(`first-seen=${c.first_seen.max_amount}`, `destination=${c.first_seen.property}`, `remember=${c.first_seen.remember}s`);
  const prop = c.amount?.property ?? c.first_seen?.amount_property;
  if (prop && prop !== 'amount') parts.push(`amount-property=${prop}`);
  return parts.join(',');
}

const APPROVER = /^(subject|group:\S{1,256})$/;

/**
 * --approval-scope / --approver: given flags replace that half of the current approval.
 * The approver form is checked here so the error names the flag; the server validates the rest.
 */
function approvalFromFlags(ctx: CommandContext, base: PolicyApproval | undefined): PolicyApproval | undefined {
  const scopes = optStrings(ctx.options, 'approval-scope');
  const approvers = optStrings(ctx.options, 'approver');
  for (const a of approvers) if (!APPROVER.test(a)) throw new UsageError(`--approver ${a}: expected subject or group:NAME`);
  if (!scopes.length && !approvers.length) return undefined;
  const next = { scopes: scopes.length ? scopes : base?.scopes ?? [], approvers: approvers.length ? approvers : base?.approvers ?? [] };
  if (next.scopes.length === 0) throw new UsageError('--approver needs --approval-scope (the scopes it approves), on this policy or in this command');
  return next;
}

const list = (l: string[]) => l.join(' ');
const policyTable = (ps: DelegationPolicy__Output[]) => formatTable(
  ['ID', 'ACTORS', 'ISSUER', 'USERS', 'AUDIENCES', 'SCOPES', 'APPROVAL', 'CONDITIONS', 'MAX TTL', 'DEPTH', 'MAY DELEGATE TO'],
  ps.map((p) => [p.id, list(p.actors), p.subject_issuer, users(p), list(p.audiences), list(p.scopes), approvalCell(p),
    (p.conditions ?? []).map(conditionText).join(' ') || '-', `${p.max_ttl}s`, p.max_depth, list(p.may_delegate_to) || '-']),
);
const approvalCell = (p: DelegationPolicy__Output) => (p.approval?.scopes.length ? `${list(p.approval.scopes)} (by ${list(p.approval.approvers)})` : '-');
function users(p: DelegationPolicy__Output): string {
  const parts = [p.subjects.length ? `subjects: ${list(p.subjects)}` : '', p.groups.length ? `groups: ${list(p.groups)}` : ''].filter(Boolean);
  return parts.join('; ') || 'any';
}
const policyDetail = (p: DelegationPolicy__Output) => [
  `Policy ID       : ${p.id}`, `Revision        : ${p.revision}`,
  ...(p.description ? [`Description     : ${p.description}`] : []),
  ...p.actors.map((a) => `Actor           : ${a}`),
  `Subject issuer  : ${p.subject_issuer}`,
  ...(p.subjects.length ? p.subjects.map((s) => `Subject         : ${s}`) : ['Subjects        : any']),
  ...(p.groups.length ? p.groups.map((g) => `Group           : ${g}`) : ['Groups          : any']),
  ...p.audiences.map((a) => `Audience        : ${a}`),
  `Scopes          : ${list(p.scopes)}`,
  ...(p.approval?.scopes.length
    ? [`Approval scopes : ${list(p.approval.scopes)}`, ...p.approval.approvers.map((a) => `Approver        : ${a}`)]
    : ['Approval scopes : none']),
  ...((p.conditions ?? []).length ? p.conditions.map((c) => `Condition       : ${conditionText(c)}`) : ['Conditions      : none']),
  `Max TTL         : ${p.max_ttl}s`, `Max depth       : ${p.max_depth}`,
  ...(p.may_delegate_to.length ? p.may_delegate_to.map((m) => `May delegate to : ${m}`) : ['May delegate to : no one']),
  `Created at      : ${new Date(p.created_at * 1000).toISOString()}`,
].join('\n');

const time = (s: number) => new Date(s * 1000).toISOString();
const revocationTable = (rs: Revocation__Output[]) => formatTable(['SEQ', 'KIND', 'VALUE', 'AT', 'EXPIRES AT', 'BY'],
  rs.map((r) => [r.seq, r.kind, r.value, time(r.at), time(r.expires_at), r.by]));

const REVOKE_KINDS = ['grant', 'jti', 'subject', 'actor', 'biscuit-id'] as const;

export const delegationCommands: Command[] = [
  {
    name: 'delegation create', summary: 'create a delegation policy (who may act for whom, with what)',
    options: { id: { type: 'string', value: 'ID', description: 'policy ID pol_… (default: assigned)' }, ...FIELDS, ...SOCKET_OPTIONS },
    details: 'Example: tessera-server delegation create --actor spiffe://example.org/agents/* --issuer https://idp.example.org\n' +
      '  --group eng --audience https://tools.example.org --scope files:read --max-ttl 5m --max-depth 2\n' +
      '  --may-delegate-to spiffe://example.org/agents/sub/*\n--max-ttl defaults to 5m, --max-depth to 1.\n' +
      'Human approval: --approval-scope review:post --approver subject (or --approver group:leads); --approver defaults to subject.\n' +
      'Conditions (AuthZEN decisions): --condition payments:send,amount=500,first-seen=50 --condition payments:quote,rate=3/1h\n' +
      '  rules: rate=MAX/WINDOW, amount=MAX, first-seen=MAX_AMOUNT (destination=PROP, remember=DURATION), amount-property=PROP.',
    async run(ctx) {
      if (optStrings(ctx.options, 'actor').length === 0) throw new UsageError('--actor is required (at least one)');
      requireString(ctx.options, 'issuer');
      if (optStrings(ctx.options, 'audience').length === 0) throw new UsageError('--audience is required (at least one)');
      if (optStrings(ctx.options, 'scope').length === 0) throw new UsageError('--scope is required (at least one)');
      const p = { max_ttl: 300, max_depth: 1, ...policyFromFlags(ctx), id: optString(ctx.options, 'id') ?? '' };
      await withDelegation(ctx, async (c) => {
        const created = await call<DelegationPolicy, DelegationPolicy__Output>(c, 'CreatePolicy', p);
        ctx.print(created, () => policyDetail(created));
      });
    },
  },
  {
    name: 'delegation list', summary: 'list delegation policies',
    options: { ...SOCKET_OPTIONS },
    async run(ctx) {
      await withDelegation(ctx, async (c) => {
        const res = await call<unknown, ListPoliciesResponse__Output>(c, 'ListPolicies', {});
        ctx.print(res.policies, () => (res.policies.length ? policyTable(res.policies) : 'no delegation policies'));
      });
    },
  },
  {
    name: 'delegation show', summary: 'show one delegation policy', positionals: '<POLICY-ID>',
    options: { ...POLICY_ID_OPT, ...SOCKET_OPTIONS },
    async run(ctx) {
      const id = policyIdArg(ctx);
      await withDelegation(ctx, async (c) => {
        const p = await call<unknown, DelegationPolicy__Output>(c, 'GetPolicy', { id });
        ctx.print(p, () => policyDetail(p));
      });
    },
  },
  {
    name: 'delegation update', summary: 'update a delegation policy: given flags replace those fields', positionals: '<POLICY-ID>',
    options: {
      ...POLICY_ID_OPT, ...FIELDS,
      clear: { type: 'string', multiple: true, value: 'FIELD', description: `empty an optional field: ${CLEARABLE.join(', ')}` },
      ...SOCKET_OPTIONS,
    },
    details: 'The update applies to the revision read first: a concurrent change makes it fail rather than be overwritten.',
    async run(ctx) {
      const id = policyIdArg(ctx);
      await withDelegation(ctx, async (c) => {
        const current = await call<unknown, DelegationPolicy__Output>(c, 'GetPolicy', { id });
        const updated = await call<DelegationPolicy, DelegationPolicy__Output>(c, 'UpdatePolicy', policyFromFlags(ctx, current));
        ctx.print(updated, () => policyDetail(updated));
      });
    },
  },
  {
    name: 'delegation delete', summary: 'delete delegation policies', positionals: '<POLICY-ID>...',
    options: { id: { type: 'string', multiple: true, value: 'ID', description: 'policy ID (repeatable, or positional)' }, ...SOCKET_OPTIONS },
    async run(ctx) {
      const ids = [...optStrings(ctx.options, 'id'), ...ctx.positionals];
      if (ids.length === 0) throw new UsageError('at least one policy ID is required');
      return withDelegation(ctx, async (c) => {
        const done: string[] = [];
        let failed = 0;
        for (const id of ids) {
          try { done.push((await call<unknown, DeletePolicyResponse__Output>(c, 'DeletePolicy', { id })).id); } catch (e) {
            failed++;
            ctx.io.err(`${id}: ${(e as Error).message}`);
          }
        }
        if (ctx.output === 'json') ctx.print(done.map((id) => ({ id })));
        else for (const id of done) ctx.io.out(`deleted ${id}`);
        return failed ? 1 : 0;
      });
    },
  },
  {
    name: 'delegation revoke', summary: 'revoke delegated tokens: a grant, a token and its descendants, a user, or an actor',
    options: {
      grant: { type: 'string', value: 'ID', description: 'every token of this grant (grant_id)' },
      jti: { type: 'string', value: 'ID', description: 'this token and every token derived from it' },
      subject: { type: 'string', value: 'ISS#SUB', description: 'every token for this user issued until now, e.g. https://idp.example.org#alice' },
      actor: { type: 'string', value: 'SPIFFE_ID', description: 'every token with this actor anywhere in its chain, issued until now' },
      'biscuit-id': { type: 'string', value: 'HEX', description: 'a Biscuit block revocation id: that block and every token derived from it (docs/attenuation.md)' },
      ...SOCKET_OPTIONS,
    },
    details: 'Exactly one of --grant, --jti, --subject, --actor, --biscuit-id. Every server sharing the datastore refuses the tokens at once and pushes the record to revocation feed subscribers.',
    async run(ctx) {
      const given = REVOKE_KINDS.filter((k) => optString(ctx.options, k) !== undefined);
      if (given.length !== 1) throw new UsageError('exactly one of --grant, --jti, --subject, --actor, --biscuit-id is required');
      const kind = given[0]!;
      await withDelegation(ctx, async (c) => {
        const r = await call<unknown, Revocation__Output>(c, 'Revoke', { kind: kind === 'biscuit-id' ? 'biscuit' : kind, value: optString(ctx.options, kind) });
        ctx.print(r, () => `revoked ${r.kind} ${r.value} (seq ${r.seq}, record expires ${time(r.expires_at)})`);
      });
    },
  },
  {
    name: 'delegation revocations', summary: 'list revocation records (live ones unless --all)',
    options: {
      after: { type: 'string', value: 'SEQ', description: 'only records after this sequence number' },
      all: { type: 'boolean', description: 'include expired records not yet pruned' },
      ...SOCKET_OPTIONS,
    },
    async run(ctx) {
      const after = optString(ctx.options, 'after');
      if (after !== undefined && !/^\d+$/.test(after)) throw new UsageError(`--after must be a sequence number, got "${after}"`);
      await withDelegation(ctx, async (c) => {
        const res = await call<unknown, ListRevocationsResponse__Output>(c, 'ListRevocations', {
          after_seq: after === undefined ? 0 : Number(after), include_expired: ctx.options.all === true,
        });
        ctx.print(res.revocations, () => (res.revocations.length ? revocationTable(res.revocations) : 'no revocations'));
      });
    },
  },
];
