/**
 * CA rotation timing, as SPIRE does it (spec digest): prepare the next CA when
 * min(lifetime/2, 30d) of the active one remains, activate it when min(lifetime/6, 7d)
 * remains. Pure functions over milliseconds so tests need no clock at all.
 */
const DAY = 86_400_000;

export interface Lifetime { notBefore: number; notAfter: number }

export function prepareAt(ca: Lifetime): number {
  const ttl = ca.notAfter - ca.notBefore;
  return ca.notAfter - Math.min(ttl / 2, 30 * DAY);
}

export function activateAt(ca: Lifetime): number {
  const ttl = ca.notAfter - ca.notBefore;
  return ca.notAfter - Math.min(ttl / 6, 7 * DAY);
}

/** Half-life ±10% jitter: when an SVID (the server's own, here) should be replaced. */
export function renewAt(svid: Lifetime, random: () => number = Math.random): number {
  const ttl = svid.notAfter - svid.notBefore;
  const jitter = (random() * 0.2 - 0.1) * ttl;
  return svid.notBefore + ttl / 2 + jitter;
}
