import test from 'ava';
import { halfLifeTime, jwtRefreshTime, LAST_RETRY_MARGIN_MS, refusedRetryTime, rotationTime, ROTATION_JITTER } from '../../node-agent/cache/rotation.ts';

const MIN = 60_000;

test('an SVID rotates at half its lifetime from when it was received, within ±10% jitter', (t) => {
  const received = 1_000_000;
  const notAfter = received + 20 * MIN;
  const low = rotationTime(received, notAfter, () => 0);
  const mid = rotationTime(received, notAfter, () => 0.5);
  const high = rotationTime(received, notAfter, () => 1);
  t.is(mid, received + 10 * MIN);
  t.is(low, received + 10 * MIN * (1 - ROTATION_JITTER));
  t.is(high, received + 10 * MIN * (1 + ROTATION_JITTER));
});

test('a backdated notBefore does not pull rotation forward', (t) => {
  // 20 s SVID backdated 10 s by the server: half-life counts from receipt, not from notBefore.
  const received = 5_000_000;
  const notBefore = received - 10_000;
  const notAfter = received + 20_000;
  t.is(rotationTime(notBefore, notAfter, () => 0.5, received), received + 10_000);
});

test('a receipt time past notAfter cannot schedule rotation before notBefore or after notAfter', (t) => {
  const at = rotationTime(1000, 2000, () => 0.5, 9999);
  t.true(at >= 1000 && at <= 2000);
});

test('the agent SVID renews at exactly half its life from receipt (no jitter), or from notBefore when the receipt is unknown', (t) => {
  const notBefore = 1_000_000;
  const received = notBefore + 10_000; // the server backdates notBefore by 10 s
  const notAfter = notBefore + 60 * MIN;
  t.is(halfLifeTime(notBefore, notAfter, received), received + (notAfter - received) / 2);
  t.is(halfLifeTime(notBefore, notAfter), notBefore + 30 * MIN);
  t.is(halfLifeTime(notBefore, notAfter, notAfter + MIN), notAfter, 'a receipt past notAfter is clamped');
  t.is(jwtRefreshTime(notBefore, notAfter), notBefore + 30 * MIN);
});

test('a refused SVID is retried on the backoff, but at its last chance before expiry, or at expiry inside that margin; once expired, on the backoff', (t) => {
  const notAfter = 100_000;
  t.is(refusedRetryTime(20_000, notAfter, 10_000), 20_000, 'backoff step well before expiry');
  t.is(refusedRetryTime(130_000, notAfter, 90_000), notAfter - LAST_RETRY_MARGIN_MS, 'the last chance comes before the backoff step');
  t.is(refusedRetryTime(130_000, notAfter, notAfter - LAST_RETRY_MARGIN_MS / 2), notAfter, 'inside the margin: at expiry');
  t.is(refusedRetryTime(130_000, notAfter, notAfter), 130_000, 'expired: the backoff alone');
  t.is(refusedRetryTime(5_000, 0, 1_000), 5_000, 'a placeholder (no SVID yet) follows the backoff');
});
