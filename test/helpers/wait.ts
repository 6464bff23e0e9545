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

/**
 * Awaits a promise that the system under test must settle (a stream's status, a
 * stop() that must not wait for a drain timeout). The bound only turns a hang into a
 * clear failure naming `what`; like until()'s, it is generous and never an expected time.
 */
export async function within<T>(p: Promise<T>, what: string, timeoutMs = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs); });
  try {
    return await Promise.race([p, stuck]);
  } finally {
    clearTimeout(timer);
  }
}
