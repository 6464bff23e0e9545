/**
 * When to replace an SVID: at half its lifetime, ±10% of that half at random (as
 * SPIRE does), so SVIDs minted together do not all come due in the same instant.
 */
export const ROTATION_JITTER = 0.1;

export function rotationTime(notBefore: number, notAfter: number, random: () => number = Math.random, receivedAt = notBefore): number {
  const start = usefulLifeStart(notBefore, notAfter, receivedAt);
  const half = (notAfter - start) / 2;
  return Math.round(start + half * (1 + ROTATION_JITTER * (2 * random() - 1)));
}

/** Half the useful life, no jitter: the agent's own SVID (one renewal, nothing to spread). */
export function halfLifeTime(notBefore: number, notAfter: number, receivedAt = notBefore): number {
  const start = usefulLifeStart(notBefore, notAfter, receivedAt);
  return start + (notAfter - start) / 2;
}

/**
 * The server backdates notBefore to absorb clock skew; an SVID's useful life starts
 * when it was received, or short TTLs would rotate almost at once.
 */
function usefulLifeStart(notBefore: number, notAfter: number, receivedAt: number): number {
  return Math.max(notBefore, Math.min(receivedAt, notAfter));
}

/** JWT-SVIDs are reused until half their lifetime (no jitter: they are minted on demand). */
export function jwtRefreshTime(issuedAt: number, expiresAt: number): number {
  return halfLifeTime(issuedAt, expiresAt);
}

/** How long before it expires a refused SVID gets its last retry: room for one signing round trip. */
export const LAST_RETRY_MARGIN_MS = 1_000;

/**
 * When to retry an SVID whose renewal the server refused: when the backoff says
 * (`backoffAt`), but no later than its last chance to be replaced while still valid,
 * and, once that has passed, no later than its expiry. A refusal can clear by itself
 * (one of an agent SVID superseded around a CA change does within seconds), and a
 * workload must not sit on an expired SVID for the rest of a backoff step. At most two
 * retries are added per SVID; an expired one just follows the backoff.
 */
export function refusedRetryTime(backoffAt: number, notAfter: number, now: number): number {
  const lastChance = notAfter - LAST_RETRY_MARGIN_MS;
  if (lastChance > now) return Math.min(backoffAt, lastChance);
  if (notAfter > now) return Math.min(backoffAt, notAfter);
  return backoffAt;
}
