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
