import type { ExecutionContext } from 'ava';
import { TrustDomain } from '../../spiffe/id.ts';
import { AttestationError, type ErrorKind } from '../../common/errors.ts';
import { memoryLogger, type Logger, type LogFields } from '../../common/logger.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import { formatSelector } from '../../spiffe/selector.ts';
import type { NodeAttestationContext, NodeAttestationResult, NodeAttestorDeps } from '../../attestors/node/types.ts';

/** What the server runtime hands a server half, minus the gRPC stream: tests drive attest() directly. */
export const TD = TrustDomain.parse('example.org');

export function deps(clock: Clock = systemClock): NodeAttestorDeps & { logger: Logger & { records: LogFields[] } } {
  return { logger: memoryLogger(), clock, dataDir: '/nonexistent' };
}

/** A context whose challenges go to `respond` (the agent half's respond(), or a forgery). */
export function context(respond?: (challenge: Uint8Array) => Promise<Uint8Array>, now = () => Date.now()): NodeAttestationContext & { challenges: Uint8Array[] } {
  const challenges: Uint8Array[] = [];
  return {
    trustDomain: TD,
    now,
    challenges,
    challenge: async (c) => {
      challenges.push(c);
      if (!respond) throw new Error('this method must not send challenges');
      return respond(c);
    },
  };
}

export function selectorStrings(r: NodeAttestationResult): string[] {
  return r.selectors.map(formatSelector).sort();
}

/** Asserts an AttestationError with this code, kind and message. */
export async function rejects(t: ExecutionContext, p: Promise<unknown>, code: string, message: RegExp, kind: ErrorKind = 'permission_denied'): Promise<void> {
  const err = await t.throwsAsync(p, { instanceOf: AttestationError });
  t.is(err?.code, code, err?.message);
  t.is((err as AttestationError | undefined)?.kind, kind, err?.message);
  if (err) t.regex(err.message, message);
}
