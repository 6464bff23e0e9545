import { TesseraError } from '../../common/errors.ts';

/**
 * What the agent API tells metrics (server/metrics) as it serves: SVID issuance and
 * node attestation outcomes, sync streams opening and closing, and each change pushed
 * on a stream (for the push lag). Labels stay low-cardinality: a type, a configured
 * method name or "unknown", and an outcome that is "ok" or an error kind.
 */
export type IssuedSvidType = 'x509' | 'jwt' | 'agent' | 'wit';

export interface AgentApiObserver {
  svidIssued(type: IssuedSvidType, outcome: string): void;
  attestation(method: string, outcome: string): void;
  /** A sync stream opened; the returned function is called once when it closes. */
  syncStreamOpened(): () => void;
  /** A change the index applied at datastore sequence `sequence` was written to a sync stream. */
  pushed(sequence: number): void;
}

export const NO_OBSERVER: AgentApiObserver = {
  svidIssued() {}, attestation() {}, syncStreamOpened: () => () => {}, pushed() {},
};

/** "ok" for success, else the typed error's kind ("internal" for anything untyped). */
export function outcomeOf(e: unknown): string {
  return e instanceof TesseraError ? e.kind : 'internal';
}
