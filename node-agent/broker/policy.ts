import { SpiffeId } from '../../spiffe/id.ts';
import { BrokerAuthorizationError } from './errors.ts';
import { REFERENCE_KINDS, type ReferenceKind } from './reference.ts';

/** One allowed broker: its SPIFFE ID and, optionally, the only reference types it may use. */
export interface BrokerGrant {
  spiffeId: string;
  /** Absent = every reference type this agent understands. */
  referenceTypes?: readonly ReferenceKind[];
}

/**
 * The Broker API's allow-only policy (spec §4.1): static, from the agent config. A
 * broker is a verified X.509-SVID whose SPIFFE ID is listed; anything else is denied,
 * and so is a listed broker using a reference type its grant does not name.
 */
export class BrokerPolicy {
  private readonly grants = new Map<string, ReadonlySet<ReferenceKind>>();

  constructor(grants: readonly BrokerGrant[]) {
    for (const g of grants) this.grants.set(SpiffeId.parse(g.spiffeId).toString(), new Set(g.referenceTypes ?? REFERENCE_KINDS));
  }

  get brokers(): string[] { return [...this.grants.keys()]; }

  /** Throws PermissionDenied unless `broker` may call the Broker API at all. */
  authorizeCaller(broker: SpiffeId): void {
    if (!this.grants.has(broker.toString())) {
      throw new BrokerAuthorizationError('permission_denied', `${broker} is not an allowed broker on this agent (broker.allow in the agent config)`);
    }
  }

  /** Throws PermissionDenied unless `broker` may use references of this kind. */
  authorizeReference(broker: SpiffeId, kind: ReferenceKind): void {
    this.authorizeCaller(broker);
    if (!this.grants.get(broker.toString())!.has(kind)) {
      throw new BrokerAuthorizationError('permission_denied',
        `broker ${broker} may not use ${kind} references (allowed: ${[...this.grants.get(broker.toString())!].join(', ')})`);
    }
  }
}
