import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.ts';

/**
 * What every full-state stream keeps (the Workload API's and the Broker API's): the
 * digest of the last message sent, whether a refresh waits, and the chain that runs
 * refreshes one after another, so two changes never build and write concurrently.
 */
export interface FullStateStream {
  last: string;
  pending: boolean;
  done: boolean;
  chain: Promise<void>;
  abort: AbortController;
}

export function openStream(): FullStateStream {
  return { last: '', pending: false, done: false, chain: Promise.resolve(), abort: new AbortController() };
}

/** Runs `refresh` after `delayMs` (0: on the next microtask), at most one waiting per stream. */
export function scheduleRefresh(s: FullStateStream, delayMs: number, clock: Clock, refresh: () => Promise<void>): void {
  if (s.pending || s.done) return;
  s.pending = true;
  const run = () => {
    s.pending = false;
    s.chain = s.chain.then(refresh);
  };
  if (delayMs <= 0) { queueMicrotask(run); return; }
  clock.sleep(delayMs, s.abort.signal).then(run, () => { /* stream ended while waiting */ });
}

/**
 * Resolves once the message has left grpc-js's buffers (or the stream ended). Refreshes
 * run in the stream's chain, so while a full-state message is still being flushed the
 * next one waits and is built from the latest state: a slow reader holds one message
 * (~15 MB for a caller with 10,000 SVIDs), not one per change made meanwhile.
 */
export function writeDrained(call: grpc.ServerWritableStream<unknown, unknown>, s: FullStateStream, msg: unknown): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { s.abort.signal.removeEventListener('abort', done); resolve(); };
    s.abort.signal.addEventListener('abort', done, { once: true });
    call.write(msg, done);
  });
}
