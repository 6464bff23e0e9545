import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { FederatedBundles } from '../../proto/gen/tessera-api/tessera/v1/FederatedBundles.ts';
import type { BundleRecord, RegistrationEntry } from '../datastore/types.ts';
import { toWireBundle } from '../entries/wire.ts';

/**
 * Which foreign bundles one agent's sync stream carries (docs/federation.md "Reaching
 * workloads"): those of the trust domains its authorized entries federate with, as a
 * complete set, sent on the first message and again whenever the set or one of its
 * bundles changes. An agent never receives a bundle none of its entries asked for; the
 * agent then hands each workload only those of its own entries (federates_with).
 */
export interface FederatedBundleSource {
  get(trustDomain: string): BundleRecord | undefined;
  onChange(listener: (trustDomain: string) => void): () => void;
}

export class FederatedBundlePush {
  /** What was last sent: trust domain -> bundle sequence (absent = not stored). */
  private sent = new Map<string, number>();
  /** Trust domains the entries asked for when last computed. */
  private lastWanted = new Set<string>();

  constructor(private readonly foreign: FederatedBundleSource, private readonly entries: () => readonly Pick<RegistrationEntry, 'federatesWith'>[]) {}

  /** The set for the first message of a stream (always sent, even empty: it replaces what the agent held). */
  initial(): FederatedBundles {
    return this.snapshot();
  }

  /**
   * After the agent's entries changed: the new set, or undefined when it is what was last
   * sent. `upserted`, when given, spares the walk over every authorized entry on the
   * common path: no entry federated before and none of the changed ones does now.
   */
  afterEntries(upserted?: readonly Pick<RegistrationEntry, 'federatesWith'>[]): FederatedBundles | undefined {
    if (upserted && this.lastWanted.size === 0 && upserted.every((e) => e.federatesWith.length === 0)) return undefined;
    return this.changed() ? this.snapshot() : undefined;
  }

  /** Calls `send` with the new set whenever a bundle of the set changes (until the returned function is called). */
  follow(send: (set: FederatedBundles) => void): () => void {
    return this.foreign.onChange((td) => {
      if (this.wanted().has(td) && this.changed()) send(this.snapshot());
    });
  }

  private wanted(): Set<string> {
    const out = new Set<string>();
    for (const e of this.entries()) for (const td of e.federatesWith) out.add(td.name);
    this.lastWanted = out;
    return out;
  }

  private current(): Map<string, BundleRecord> {
    const out = new Map<string, BundleRecord>();
    for (const td of this.wanted()) {
      const b = this.foreign.get(td);
      if (b) out.set(td, b);
    }
    return out;
  }

  private changed(): boolean {
    const now = this.current();
    if (now.size !== this.sent.size) return true;
    for (const [td, b] of now) if (this.sent.get(td) !== b.sequence) return true;
    return false;
  }

  private snapshot(): FederatedBundles {
    const now = this.current();
    this.sent = new Map([...now].map(([td, b]) => [td, b.sequence]));
    const bundles: Bundle__Output[] = [...now.values()].sort((a, b) => (a.trustDomain.name < b.trustDomain.name ? -1 : 1)).map(toWireBundle);
    return { bundles };
  }
}
