import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits for a condition that another process or the event loop will make true (a
 * counter settling after a close, a file appearing). Polls; the bound is for a stuck
 * system, not an expected time, so it is generous and never asserted on.
 */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(pause);
  }
}
