import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { Datastore } from '../datastore/types.ts';
import type { DelegationPolicy, RevocationRecord } from './types.ts';

/**
 * Policy changes and revocations leave two traces: a structured log line (operators'
 * pipelines) and a row in the append-only audit table (the record of who did what).
 * An audit write that fails is logged, never turned into a failed change: the change
 * itself is already committed.
 */
export interface AuditDeps { store: Datastore; clock: Clock; logger: Logger }

/** What a revoker knows about the token it revoked (RFC 7009 knows the whole token; an admin only the value). */
export interface RevocationContext {
  subject?: string;
  actor?: string;
  jti?: string;
  grant?: string;
}

export type PolicyChange = 'created' | 'updated' | 'deleted';

export async function auditPolicyChange(d: AuditDeps, change: PolicyChange, policy: DelegationPolicy | { id: string }, who: string): Promise<void> {
  const event = `delegation.policy_${change}`;
  const data: Record<string, unknown> = { who, policy_id: policy.id };
  if ('revision' in policy) {
    Object.assign(data, {
      revision: policy.revision, actors: policy.actors, subject_issuer: policy.subjectIssuer, subjects: policy.subjects,
      groups: policy.groups, audiences: policy.audiences, scopes: policy.scopes, max_ttl: policy.maxTtl,
      max_depth: policy.maxDepth, may_delegate_to: policy.mayDelegateTo,
    });
  }
  d.logger.info(`delegation policy ${change}`, { event, ...data });
  await append(d, event, policy.id, data);
}

export async function auditRevocation(d: AuditDeps, rec: RevocationRecord, ctx: RevocationContext = {}): Promise<void> {
  const event = 'delegation.revoked';
  const data: Record<string, unknown> = {
    who: rec.by ?? 'unknown', seq: rec.seq, kind: rec.kind, value: rec.value, at: rec.at, expires_at: rec.expiresAt,
    // The matched field by kind, then whatever the revoker knew about the token.
    subject: ctx.subject ?? (rec.kind === 'subject' ? rec.value : undefined),
    actor: ctx.actor ?? (rec.kind === 'actor' ? rec.value : undefined),
    jti: ctx.jti ?? (rec.kind === 'jti' ? rec.value : undefined),
    grant: ctx.grant ?? (rec.kind === 'grant' ? rec.value : undefined),
  };
  for (const k of Object.keys(data)) if (data[k] === undefined) delete data[k];
  d.logger.info('delegation revoked', { event, ...data });
  await append(d, event, `${rec.kind}:${rec.value}`, data);
}

async function append(d: AuditDeps, event: string, subject: string, data: Record<string, unknown>): Promise<void> {
  try {
    await d.store.appendAudit({ time: Math.floor(d.clock.now() / 1000), event, subject, data });
  } catch (err) {
    d.logger.error('could not append to the audit trail', { err: err as Error, event, subject });
  }
}
