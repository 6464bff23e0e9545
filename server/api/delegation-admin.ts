import type { Clock } from '../../common/clock.ts';
import { invalidArgument, notFound } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import { auditPolicyChange } from '../delegation/audit.ts';
import { writeRevocation } from '../delegation/revocations.ts';
import { fromStored, toStored, written } from '../delegation/policy-record.ts';
import type { DelegationPolicy, PolicyCondition, RevocationRecord } from '../delegation/types.ts';
import { validatePolicy, validateRevocation } from '../delegation/validate.ts';
import type { DelegationAdminHandlers } from '../../proto/gen/tessera-api/tessera/v1/DelegationAdmin.ts';
import type { DelegationPolicy as WirePolicy, DelegationPolicy__Output } from '../../proto/gen/tessera-api/tessera/v1/DelegationPolicy.ts';
import type { PolicyCondition as WireCondition, PolicyCondition__Output } from '../../proto/gen/tessera-api/tessera/v1/PolicyCondition.ts';
import type { Revocation } from '../../proto/gen/tessera-api/tessera/v1/Revocation.ts';
import type { ApprovalRequest } from '../../proto/gen/tessera-api/tessera/v1/ApprovalRequest.ts';
import type { ListApprovalRequestsRequest__Output } from '../../proto/gen/tessera-api/tessera/v1/ListApprovalRequestsRequest.ts';
import { parseRequest } from '../oauth/ciba/request.ts';
import { unary } from './unary.ts';

/**
 * DelegationAdmin on the admin socket (docs/delegation.md): delegation policies and
 * revocations. Input is validated here (InvalidArgument naming the field); every
 * change is logged and audited. Revocations are written straight to the store: every
 * server's revocation index (this one's included) learns them from the change feed,
 * so this works whether or not this server runs the OAuth listener.
 */
export interface DelegationAdminDeps {
  store: Datastore;
  clock: Clock;
  logger: Logger;
  /**
   * The longest token lifetime the servers issue (oauth.token_ttl): a revocation record
   * lives that long. Default 86400, the largest token_ttl the config accepts, for a
   * server without an oauth section sharing the store with ones that have it.
   */
  maxTokenTtl?: number;
  /**
   * Who is calling, for the audit trail. The admin socket is reachable only by the
   * server's own user (0700 directory); grpc-js does not expose the peer's uid, so the
   * default names the role.
   */
  who?: () => string;
}

const MAX_CONFIG_TOKEN_TTL = 86_400;

export function delegationAdminHandlers(d: DelegationAdminDeps): DelegationAdminHandlers {
  const log = d.logger.child({ component: 'delegation-admin' });
  const audit = { store: d.store, clock: d.clock, logger: log };
  const who = d.who ?? (() => 'admin');
  const nowSec = () => Math.floor(d.clock.now() / 1000);

  return {
    CreatePolicy: unary(log, 'CreatePolicy', async (call) => {
      const valid = validatePolicy(fromWire(call.request));
      const p = written(await d.store.createDelegationPolicy(toStored(valid)), valid);
      await auditPolicyChange(audit, 'created', p, who());
      return toWirePolicy(p);
    }),
    UpdatePolicy: unary(log, 'UpdatePolicy', async (call) => {
      const r = call.request;
      const valid = validatePolicy(fromWire(r));
      if (!valid.id) throw invalidArgument('ERR_POLICY_INVALID', 'id: the id of the policy to update is required');
      const p = written(await d.store.updateDelegationPolicy({ ...toStored(valid), id: valid.id, expectRevision: r.revision || undefined }), valid);
      await auditPolicyChange(audit, 'updated', p, who());
      return toWirePolicy(p);
    }),
    DeletePolicy: unary(log, 'DeletePolicy', async (call) => {
      const id = call.request.id;
      if (!(await d.store.deleteDelegationPolicy(id))) throw notFound('ERR_POLICY_NOT_FOUND', `delegation policy "${id}" not found`);
      await auditPolicyChange(audit, 'deleted', { id }, who());
      return { id };
    }),
    GetPolicy: unary(log, 'GetPolicy', async (call) => {
      const p = fromStored(await d.store.getDelegationPolicy(call.request.id));
      if (!p) throw notFound('ERR_POLICY_NOT_FOUND', `delegation policy "${call.request.id}" not found`);
      return toWirePolicy(p);
    }),
    ListPolicies: unary(log, 'ListPolicies', async () => ({ policies: (await d.store.listDelegationPolicies()).map((p) => toWirePolicy(fromStored(p))) })),
    Revoke: unary(log, 'Revoke', async (call) => {
      const { kind, value } = validateRevocation(call.request.kind, call.request.value);
      const rec = await writeRevocation(audit, kind, value, who(), d.maxTokenTtl ?? MAX_CONFIG_TOKEN_TTL);
      return toWireRevocation(rec);
    }),
    ListRevocations: unary(log, 'ListRevocations', async (call) => {
      const r = call.request;
      const recs = await d.store.listRevocations({
        afterSeq: r.after_seq > 0 ? r.after_seq : undefined, liveAt: r.include_expired ? undefined : nowSec(),
      });
      return { revocations: recs.map(toWireRevocation) };
    }),
    ListApprovalRequests: unary(log, 'ListApprovalRequests', async (call) => ({
      requests: await listApprovals(d.store, call.request, nowSec()),
    })),
  };
}

function fromWire(r: DelegationPolicy__Output) {
  return {
    id: r.id || undefined, description: r.description, actors: r.actors, subjectIssuer: r.subject_issuer, subjects: r.subjects,
    groups: r.groups, audiences: r.audiences, scopes: r.scopes, maxTtl: r.max_ttl, maxDepth: r.max_depth, mayDelegateTo: r.may_delegate_to,
    budgets: Object.keys(r.budgets ?? {}).length ? Object.fromEntries(Object.entries(r.budgets).map(([k, v]) => [k, Number(v)])) : undefined,
    // validatePolicy → validateApproval: no scopes = no approval; approvers default to "subject".
    approval: r.approval ? { scopes: r.approval.scopes ?? [], approvers: r.approval.approvers ?? [] } : undefined,
    conditions: r.conditions?.length ? r.conditions.map(conditionFromWire) : undefined,
  };
}

/** Defaults of unset wire fields (proto3 zero values) as docs/authzen.md gives them; validatePolicy checks the rest. */
const DEFAULT_REMEMBER_S = 90 * 86_400;
function conditionFromWire(c: PolicyCondition__Output): PolicyCondition {
  return {
    action: c.action,
    ...(c.rate ? { rate: { max: Number(c.rate.max), window: Number(c.rate.window) } } : {}),
    ...(c.amount ? { amount: { property: c.amount.property || 'amount', max: c.amount.max } } : {}),
    ...(c.first_seen ? { firstSeen: {
      property: c.first_seen.property || 'destination', amountProperty: c.first_seen.amount_property || 'amount',
      maxAmount: c.first_seen.max_amount, remember: Number(c.first_seen.remember) || DEFAULT_REMEMBER_S,
    } } : {}),
  };
}

function conditionToWire(c: PolicyCondition): WireCondition {
  return {
    action: c.action,
    rate: c.rate ? { max: c.rate.max, window: c.rate.window } : null,
    amount: c.amount ? { property: c.amount.property, max: c.amount.max } : null,
    first_seen: c.firstSeen
      ? { property: c.firstSeen.property, amount_property: c.firstSeen.amountProperty, max_amount: c.firstSeen.maxAmount, remember: c.firstSeen.remember }
      : null,
  };
}

export function toWirePolicy(p: DelegationPolicy): WirePolicy {
  return {
    id: p.id, description: p.description, actors: p.actors, subject_issuer: p.subjectIssuer, subjects: p.subjects, groups: p.groups,
    audiences: p.audiences, scopes: p.scopes, max_ttl: p.maxTtl, max_depth: p.maxDepth, may_delegate_to: p.mayDelegateTo,
    revision: p.revision, created_at: p.createdAt, budgets: p.budgets ?? {},
    approval: p.approval ? { scopes: p.approval.scopes, approvers: p.approval.approvers } : null,
    conditions: (p.conditions ?? []).map(conditionToWire),
  };
}

function toWireRevocation(r: RevocationRecord): Revocation {
  return { seq: r.seq, kind: r.kind, value: r.value, at: r.at, expires_at: r.expiresAt, by: r.by ?? '' };
}

/** The store reads at most this many (oldest first); the filter on the user applies to those. */
const MAX_LISTED_APPROVALS = 1000;

/** Approval requests, oldest first; what the agent never learns (auth_req_id, ping token) is not shown. */
async function listApprovals(store: Datastore, r: ListApprovalRequestsRequest__Output, now: number): Promise<ApprovalRequest[]> {
  const subject = r.subject ?? '';
  if (subject && !/^https:\/\/[^\s#]+#\S+$/.test(subject)) throw invalidArgument('ERR_APPROVAL_FILTER', `subject: "${subject.slice(0, 80)}" must be ISSUER#SUBJECT, e.g. https://idp.example.org#alice`);
  const recs = await store.listApprovalRequests({ pendingAt: r.pending ? now : undefined, limit: MAX_LISTED_APPROVALS });
  return recs.map(parseRequest).filter((a) => !subject || a.subject === subject).map((a) => ({
    id: a.id, status: a.status, client_id: a.clientId, subject: a.subject, approvers: a.approvers, scopes: a.data.scopes,
    escalated: a.data.escalated, audiences: a.data.audiences, policy: a.data.policy, binding_message: a.data.bindingMessage ?? '',
    created_at: a.createdAt, expires_at: a.expiresAt, decided_at: a.decidedAt, decided_by: a.decidedBy,
  }));
}
