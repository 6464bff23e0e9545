import { createHash } from 'node:crypto';
import type { Datastore } from '../datastore/types.ts';
import { rateFailure, valueConditionFailure, type ConditionFailure } from '../delegation/policy-engine.ts';
import type { DelegationPolicy, PolicyCondition } from '../delegation/types.ts';
import type { Evaluation } from './request.ts';

/**
 * The stateful side of policy conditions (docs/authzen.md "Conditions"); the rules are
 * the policy engine's (valueConditionFailure, rateFailure). State lives in the
 * datastore's atomic counters (the budgets table, keys `cond:*`, never a `grt_` id), so
 * every server sharing the store counts the same window and remembers the same
 * destinations:
 * - rate: one counter row per (policy, user, agent, action, window start), limit `max`,
 *   spent by the same conditional UPDATE as budgets; a fixed window (up to 2 × max can
 *   pass around a window boundary);
 * - first seen: a row per (policy, user, agent, action, destination) written when an
 *   action to it is permitted, kept `remember` seconds.
 */
export type AttachedCondition = PolicyCondition & { policy: string };

/**
 * oauth.authzen_conditions (snake_case config) as engine conditions. Deprecated: conditions
 * are part of the delegation policy (stored with it, set by the admin API and the CLI);
 * these still apply, checked after the policy's own, and the routes warn at start.
 */
export function attachedConditions(cfg: readonly {
  policy: string; action: string; rate?: { max: number; window: number }; amount?: { property: string; max: number };
  first_seen?: { property: string; amount_property: string; max_amount: number; remember: number };
}[]): AttachedCondition[] {
  return cfg.map((c) => ({
    policy: c.policy, action: c.action,
    ...(c.rate ? { rate: { max: c.rate.max, window: Math.ceil(c.rate.window) } } : {}),
    ...(c.amount ? { amount: { ...c.amount } } : {}),
    ...(c.first_seen ? { firstSeen: { property: c.first_seen.property, amountProperty: c.first_seen.amount_property, maxAmount: c.first_seen.max_amount, remember: Math.ceil(c.first_seen.remember) } } : {}),
  }));
}

export interface ConditionOutcome {
  /** Whether any condition applies (a permit is then never cacheable). */
  applies: boolean;
  failure?: ConditionFailure;
  /** After a permit: remember its destinations. */
  permitted(): Promise<void>;
}

const NONE: ConditionOutcome = { applies: false, permitted: async () => {} };

export class ConditionChecker {
  constructor(private readonly o: { store: Pick<Datastore, 'putBudgets' | 'consumeBudget' | 'listBudgets'>; attached: readonly AttachedCondition[] }) {}

  /** Conditions attached by config (oauth.authzen_conditions, deprecated). */
  get attachedCount(): number { return this.o.attached.length; }

  /** Checks the conditions of `policy` on the evaluation's action for `principal` (user and agent). */
  async check(policy: DelegationPolicy | undefined, policyId: string, ev: Evaluation, principal: string, now: number): Promise<ConditionOutcome> {
    const action = ev.action.name;
    const conds = [...(policy?.conditions ?? []), ...this.o.attached.filter((c) => c.policy === policyId)].filter((c) => c.action === action);
    if (!conds.length) return NONE;
    const value = (p: string): unknown => ev.action.properties?.[p] ?? ev.resource.properties?.[p] ?? ev.context?.[p];

    const seenKeys = new Map<PolicyCondition, { key: string; remember: number }>();
    const novel = new Set<PolicyCondition>();
    for (const c of conds) {
      const dest = c.firstSeen ? value(c.firstSeen.property) : undefined;
      if (!c.firstSeen || typeof dest !== 'string' || !dest) continue;
      const key = `cond:seen:${digest([policyId, principal, action, dest])}`;
      seenKeys.set(c, { key, remember: c.firstSeen.remember });
      if ((await this.o.store.listBudgets(key)).length === 0) novel.add(c);
    }
    const failure = valueConditionFailure(policyId, conds, value, (c) => novel.has(c));
    if (failure) return { applies: true, failure, permitted: NONE.permitted };

    for (const c of conds) {
      if (!c.rate) continue;
      const start = Math.floor(now / c.rate.window) * c.rate.window;
      const used = await this.take(`cond:rate:${digest([policyId, principal, action, start])}`, action, c.rate.max, start + c.rate.window);
      const f = rateFailure(policyId, c, used);
      if (f) return { applies: true, failure: f, permitted: NONE.permitted };
    }
    return {
      applies: true,
      permitted: async () => {
        for (const { key, remember } of seenKeys.values()) await this.o.store.putBudgets(key, { seen: 1 }, now + remember);
      },
    };
  }

  /** One slot of a window counter, creating the row on the window's first use. */
  private async take(key: string, op: string, max: number, windowEnd: number): Promise<{ allowed: boolean; used: number }> {
    let use = await this.o.store.consumeBudget(key, op, 1, max);
    if (!use) {
      await this.o.store.putBudgets(key, { [op]: max }, windowEnd);
      use = await this.o.store.consumeBudget(key, op, 1, max);
    }
    return use ? { allowed: use.allowed, used: use.used } : { allowed: false, used: max };
  }
}

const digest = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
