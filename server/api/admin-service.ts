import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { invalidArgument, notFound } from '../../common/errors.ts';
import { SpiffeId, type TrustDomain } from '../../spiffe/id.ts';
import { makeSelector } from '../../spiffe/selector.ts';
import type { Datastore, EntryFilter, ItemResult, RegistrationEntry } from '../datastore/types.ts';
import { fromWireEntry, fromWireEntryUpdate, toWireAgent, toWireBundle, toWireEntry } from '../entries/wire.ts';
import type { CaManager } from '../ca/manager.ts';
import type { EntryAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/EntryAdmin.ts';
import type { AgentAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/AgentAdmin.ts';
import type { BundleAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/BundleAdmin.ts';
import type { EntryResult } from '../../proto/gen/tessera-api/tessera/v1/EntryResult.ts';
import type { AgentAuthenticator } from './authn.ts';
import { unary } from './unary.ts';
import { federatedBundleHandlers } from './bundle-admin.ts';
import { localAuthorityHandlers } from './authority-admin.ts';
import { svidAdminHandlers } from './svid-admin.ts';
import type { LocalAuthorityAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/LocalAuthorityAdmin.ts';
import type { SvidAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/SvidAdmin.ts';
import { withTaint } from '../ca/local-authority.ts';
import type { ListEntriesRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/ListEntriesRequest.ts';
import type { ListAgentsRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/ListAgentsRequest.ts';
import { errorToStatus, OK_STATUS } from './wire.ts';

/**
 * The admin API (EntryAdmin, AgentAdmin, BundleAdmin, LocalAuthorityAdmin, SvidAdmin) served on the local Unix
 * socket. Whoever can open the socket is an operator: the directory is 0700.
 * Batch calls validate each item at the edge (InvalidArgument naming the field) and
 * report one status per item, in order.
 */
export interface AdminDeps {
  trustDomain: TrustDomain;
  store: Datastore;
  ca: CaManager;
  authn: AgentAuthenticator;
  clock: Clock;
  logger: Logger;
  joinTokenTtlSeconds: number;
  /** Defaults of break-glass mints (svid.x509_ttl / svid.jwt_ttl); SPIRE's defaults if unset. */
  x509SvidTtlSeconds?: number;
  jwtSvidTtlSeconds?: number;
  /** `iss` of JWT-SVIDs minted here (oidc_discovery.issuer). */
  jwtIssuer?: string;
}

const MAX_TOKEN_TTL = 30 * 86_400;
const nowSec = (c: Clock) => Math.floor(c.now() / 1000);

/** Runs validation per item, the store call on the valid ones, and merges results in input order. */
async function batch<In, Valid, Out>(
  items: In[], validate: (x: In) => Valid, run: (valid: Valid[]) => Promise<ItemResult<Out>[]>,
): Promise<(ItemResult<Out>)[]> {
  const slots: (ItemResult<Out> | number)[] = [];
  const valid: Valid[] = [];
  for (const x of items) {
    try { valid.push(validate(x)); slots.push(valid.length - 1); } catch (error) { slots.push({ ok: false, error: error as Error }); }
  }
  const results = valid.length > 0 ? await run(valid) : [];
  return slots.map((s) => (typeof s === 'number' ? results[s]! : s));
}

/**
 * One audit record per successful item, appended all at once (in item order): the
 * store batches concurrent appends into one commit, where awaiting each in turn cost
 * one commit per item (a 250-entry batch outran a 10 s deadline).
 */
async function auditAll<T>(results: ItemResult<T>[], audit: (v: T) => Promise<void>): Promise<void> {
  await Promise.all(results.flatMap((r) => (r.ok ? [audit(r.value)] : [])));
}

const entryResult = (r: ItemResult<RegistrationEntry>): EntryResult =>
  r.ok ? { status: OK_STATUS, entry: toWireEntry(r.value) } : { status: errorToStatus(r.error), entry: null };

export function adminHandlers(d: AdminDeps): {
  entry: EntryAdminHandlers; agent: AgentAdminHandlers; bundle: BundleAdminHandlers;
  localAuthority: LocalAuthorityAdminHandlers; svid: SvidAdminHandlers;
} {
  const log = d.logger.child({ component: 'admin-api' });
  const ctx = () => ({ trustDomain: d.trustDomain, now: nowSec(d.clock) });
  const audit = (event: string, subject: string, data: Record<string, unknown> = {}) =>
    d.store.appendAudit({ time: nowSec(d.clock), event, subject, data });
  const agentIdArg = (s: string): string => {
    try { return SpiffeId.parse(s).toString(); } catch (e) { throw invalidArgument('ERR_AGENT_ID', `spiffe_id: ${(e as Error).message}`, e); }
  };

  const entry: EntryAdminHandlers = {
    BatchCreateEntry: unary(log, 'BatchCreateEntry', async (call) => {
      const c = ctx();
      const results = await batch(call.request.entries, (e) => fromWireEntry(e, c), (v) => d.store.createEntries(v));
      await auditAll(results, (e) => audit('entry.created', e.id, { spiffe_id: e.spiffeId.toString() }));
      return { results: results.map(entryResult) };
    }),
    BatchUpdateEntry: unary(log, 'BatchUpdateEntry', async (call) => {
      const c = ctx();
      const results = await batch(call.request.entries, (e) => fromWireEntryUpdate(e, c), (v) => d.store.updateEntries(v));
      await auditAll(results, (e) => audit('entry.updated', e.id, { revision: e.revision }));
      return { results: results.map(entryResult) };
    }),
    BatchDeleteEntry: unary(log, 'BatchDeleteEntry', async (call) => {
      const results = await d.store.deleteEntries(call.request.ids);
      await auditAll(results, (id) => audit('entry.deleted', id));
      return {
        results: results.map((r, i) => (r.ok ? { status: OK_STATUS, id: r.value } : { status: errorToStatus(r.error), id: call.request.ids[i]! })),
      };
    }),
    ListEntries: unary(log, 'ListEntries', async (call) => {
      const r = call.request;
      const filter = entryFilter(r);
      if (r.page_size < 0) throw invalidArgument('ERR_PAGE_SIZE', `page_size: ${r.page_size} must not be negative`);
      if (r.page_size > 0) filter.limit = r.page_size;
      if (r.page_token) filter.afterId = r.page_token;
      const entries = await d.store.listEntries(filter);
      const next = r.page_size > 0 && entries.length === r.page_size ? entries[entries.length - 1]!.id : '';
      return { entries: entries.map(toWireEntry), next_page_token: next };
    }),
    GetEntry: unary(log, 'GetEntry', async (call) => {
      const e = await d.store.getEntry(call.request.id);
      if (!e) throw notFound('ERR_ENTRY_NOT_FOUND', `entry "${call.request.id}" not found`);
      return toWireEntry(e);
    }),
    CountEntries: unary(log, 'CountEntries', async (call) => ({ count: (await d.store.listEntries(entryFilter(call.request))).length })),
  };

  const agent: AgentAdminHandlers = {
    ListAgents: unary(log, 'ListAgents', async (call) => ({ agents: (await d.store.listAgents(agentFilter(call.request))).map(toWireAgent) })),
    CountAgents: unary(log, 'CountAgents', async (call) => ({ count: (await d.store.listAgents(agentFilter(call.request))).length })),
    GetAgent: unary(log, 'GetAgent', async (call) => {
      const id = agentIdArg(call.request.spiffe_id);
      const a = await d.store.getAgent(id);
      if (!a) throw notFound('ERR_AGENT_NOT_FOUND', `agent ${id} not found`);
      return toWireAgent(a);
    }),
    BanAgent: unary(log, 'BanAgent', async (call) => {
      const id = agentIdArg(call.request.spiffe_id);
      // Under the agent's lock: a renewal or attestation in flight finishes first, then the ban applies.
      const a = await d.authn.exclusive(id, () => d.store.setAgentBanned(id, true));
      if (!a) throw notFound('ERR_AGENT_NOT_FOUND', `agent ${id} not found`);
      await audit('agent.banned', id);
      log.info('agent banned', { agent: id });
      return toWireAgent(a);
    }),
    EvictAgent: unary(log, 'EvictAgent', async (call) => {
      const id = agentIdArg(call.request.spiffe_id);
      // Under the agent's lock, so a renewal that already read the record cannot write it back.
      if (!(await d.authn.exclusive(id, () => d.store.deleteAgent(id)))) throw notFound('ERR_AGENT_NOT_FOUND', `agent ${id} not found`);
      await audit('agent.evicted', id);
      log.info('agent evicted', { agent: id });
      return { spiffe_id: id };
    }),
    CreateJoinToken: unary(log, 'CreateJoinToken', async (call) => {
      const ttl = call.request.ttl || d.joinTokenTtlSeconds;
      if (ttl < 1 || ttl > MAX_TOKEN_TTL) throw invalidArgument('ERR_JOIN_TOKEN_TTL', `ttl: ${ttl} must be between 1 and ${MAX_TOKEN_TTL} seconds`);
      const token = randomBytes(16).toString('hex');
      const expiresAt = nowSec(d.clock) + ttl;
      await d.store.createJoinToken({ token, expiresAt });
      await audit('join_token.created', token.slice(0, 6) + '…', { expires_at: expiresAt });
      return { token, expires_at: expiresAt };
    }),
  };

  const bundle: BundleAdminHandlers = {
    GetBundle: unary(log, 'GetBundle', async () => withTaint(toWireBundle(d.ca.bundle()), d.ca)),
    ...federatedBundleHandlers({ trustDomain: d.trustDomain, store: d.store, audit, logger: log }),
  };
  const localAuthority = localAuthorityHandlers({ ca: d.ca, logger: log, audit });
  const svid = svidAdminHandlers({
    trustDomain: d.trustDomain, ca: d.ca, clock: d.clock, logger: log, audit,
    x509SvidTtlSeconds: d.x509SvidTtlSeconds ?? 3600, jwtSvidTtlSeconds: d.jwtSvidTtlSeconds ?? 300, jwtIssuer: d.jwtIssuer,
  });
  return { entry, agent, bundle, localAuthority, svid };
}

/** The datastore filter of ListEntries / CountEntries (InvalidArgument naming the field). */
function entryFilter(r: ListEntriesRequest__Output): EntryFilter {
  const filter: EntryFilter = {};
  if (r.by_spiffe_id) filter.spiffeId = r.by_spiffe_id;
  if (r.by_parent_id) filter.parentId = r.by_parent_id;
  if (r.by_hint) filter.hint = r.by_hint;
  if (r.by_selectors.length > 0) {
    const match = r.selector_match || 'exact';
    if (!['exact', 'subset', 'superset', 'any'].includes(match)) {
      throw invalidArgument('ERR_SELECTOR_MATCH', `selector_match: "${match}" must be exact, subset, superset or any`);
    }
    let selectors;
    try { selectors = r.by_selectors.map((s) => makeSelector(s.type, s.value)); } catch (e) {
      throw invalidArgument('ERR_SELECTOR', `by_selectors: ${(e as Error).message}`, e);
    }
    filter.selectors = { selectors, match: match as 'exact' };
  }
  return filter;
}

function agentFilter(r: ListAgentsRequest__Output): { attestationType?: string; banned?: boolean } {
  return { attestationType: r.by_attestation_type || undefined, banned: r.only_banned ? true : undefined };
}
