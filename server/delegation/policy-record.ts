import type { DelegationPolicy, NewDelegationPolicy, PolicyApproval, PolicyCondition } from './types.ts';

/**
 * How a policy's conditions ride in its datastore row without a schema change: inside
 * the policy's JSON `approval` column (delegation_policies.approval, which the store
 * writes and reads back verbatim), as `{scopes, approvers, conditions}`. A policy with
 * conditions but no approvable scopes stores `scopes: []`, which every reader of the
 * column already treats as "no approval". Everything that reads policies from the store
 * (the policy cache, the admin API) goes through fromStored, so the rest of the server
 * sees `conditions` and `approval` as separate fields.
 *
 * Why not a column of its own: that needs the datastore's policy SQL (not this layer);
 * moving them there later is a read-both, write-new migration of this one envelope.
 */
interface StoredApproval extends PolicyApproval { conditions?: PolicyCondition[] }

/** The policy as the store should write it: conditions folded into the approval envelope. */
export function toStored(p: NewDelegationPolicy): NewDelegationPolicy {
  const { conditions, ...rest } = p;
  if (!conditions?.length) return rest;
  const envelope: StoredApproval = { scopes: p.approval?.scopes ?? [], approvers: p.approval?.approvers ?? [], conditions };
  return { ...rest, approval: envelope };
}

/** The policy as the store returned it: conditions lifted out, an approval without scopes dropped. */
export function fromStored(p: DelegationPolicy): DelegationPolicy;
export function fromStored(p: DelegationPolicy | undefined): DelegationPolicy | undefined;
export function fromStored(p: DelegationPolicy | undefined): DelegationPolicy | undefined {
  if (!p?.approval) return p;
  const { conditions, scopes, approvers } = p.approval as StoredApproval;
  const { approval: _approval, conditions: _conditions, ...rest } = p;
  return {
    ...rest,
    ...(scopes?.length ? { approval: { scopes: [...scopes], approvers: [...(approvers ?? [])] } } : {}),
    ...(conditions?.length ? { conditions: conditions.map((c) => ({ ...c })) } : {}),
  };
}

/** After a write: the stored policy with the conditions that were written (the store echoes only its own fields). */
export const written = (stored: DelegationPolicy, input: NewDelegationPolicy): DelegationPolicy =>
  ({ ...fromStored(stored), ...(input.conditions?.length ? { conditions: input.conditions } : {}) });
