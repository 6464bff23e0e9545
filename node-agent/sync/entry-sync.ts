import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import type { TesseraError } from '../../common/errors.ts';
import type { Bundle__Output } from '../../proto/gen/tessera-api/tessera/v1/Bundle.ts';
import type { ServerApi } from '../bootstrap/server-api.ts';
import { fromGrpcError, isAgentRevoked } from '../bootstrap/grpc-errors.ts';
import { revocationReason } from '../bootstrap/renewal.ts';
import { Backoff } from '../../spiffe/lib/backoff.ts';
import type { EntryCache } from './entry-cache.ts';

/**
 * One long-lived SyncEntries stream: the server sends the full authorized set on
 * connect, then each change at once; every message is applied as it arrives. On a
 * disconnect the loop reconnects with backoff and jitter and the next snapshot
 * replaces the cache. New agent credentials (renewal, bundle) reconnect at once, and
 * so does the server connection coming back up: the backoff only spaces out attempts
 * while the server cannot be reached, it never delays a sync once it can.
 * The loop ends only when its signal aborts (agent stopping, or banned/evicted) and
 * then says so in one line, `entry sync stopped`: no reconnect follows it.
 */
export interface EntrySyncOptions {
  api: ServerApi;
  entries: EntryCache;
  onBundle(b: Bundle__Output): void;
  /** The complete set of foreign bundles for this agent's entries (docs/federation.md), when it changed. */
  onFederatedBundles?(bundles: Bundle__Output[]): void;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  /** The server refused our SVID on the stream: maybe banned; the renewal loop finds out. */
  onDenied?(err: TesseraError): void;
  /** Connected (first message received) / disconnected. */
  onConnection?(connected: boolean): void;
  /**
   * Each message after the first (which raises onConnection(true)), once applied: proof
   * that the server answers, even when the stream outlived an outage that failed other
   * calls (its datastore was down).
   */
  onAnswer?(): void;
  backoff?: Backoff;
}

export async function runEntrySync(o: EntrySyncOptions): Promise<void> {
  const backoff = o.backoff ?? new Backoff({ initialMs: 200, maxMs: 10_000 });
  /** The server's last refusal of the stream since it was last connected. */
  let refusal: TesseraError | undefined;
  try {
    while (!o.signal.aborted) {
      const outcome = await oneStream(o, () => { backoff.reset(); refusal = undefined; });
      if (o.signal.aborted) return;
      if (outcome.kind === 'credentials') continue; // reconnect at once with the new channel
      o.onConnection?.(false);
      const wait = backoff.next();
      if (outcome.err && isAgentRevoked(outcome.err)) { refusal = outcome.err; o.onDenied?.(outcome.err); }
      o.logger.warn('entry sync disconnected; reconnecting', { err: outcome.err, retry_in_ms: wait, entries: o.entries.size });
      if (!(await waitToReconnect(o, wait))) return;
    }
  } finally {
    logStopped(o, refusal);
  }
}

/**
 * Waits `ms`, or less when the server connection comes back up meanwhile (it was lost
 * with the stream: the agent's channel reconnects on its own backoff and says so).
 * False when the loop's signal aborted.
 */
async function waitToReconnect(o: EntrySyncOptions, ms: number): Promise<boolean> {
  const early = new AbortController();
  const unsubscribe = o.api.onConnectionChange((up) => {
    if (up && !early.signal.aborted) {
      o.logger.info('server connection back: entry sync reconnecting now');
      early.abort();
    }
  });
  try {
    await o.clock.sleep(ms, AbortSignal.any([o.signal, early.signal]));
  } catch { /* woken early, or stopping: the signal tells which */ } finally {
    unsubscribe();
  }
  return !o.signal.aborted;
}

/**
 * Why the loop was told to stop: the signal's reason when one was given; a refusal
 * that only a banned or evicted agent gets (the renewal loop then revoked the
 * identity); otherwise the agent is stopping.
 */
function logStopped(o: EntrySyncOptions, refusal: TesseraError | undefined): void {
  const given = o.signal.reason as unknown;
  const told = typeof given === 'string' ? given : given instanceof Error && given.name !== 'AbortError' ? given.message : undefined;
  const revoked = refusal && FINAL_REFUSALS.has(refusal.code) ? `agent was banned or evicted: ${revocationReason(refusal)}` : undefined;
  const reason = told ?? revoked;
  if (reason) o.logger.warn('entry sync stopped', { reason, entries: o.entries.size, ...(refusal ? { err: refusal } : {}) });
  else o.logger.info('entry sync stopped', { reason: 'agent stopping', entries: o.entries.size });
}

/** Refusal codes that no renewal can cure (server/api/authn.ts). */
const FINAL_REFUSALS = new Set(['ERR_AGENT_BANNED', 'ERR_AGENT_NOT_ATTESTED']);

type Outcome = { kind: 'closed'; err?: TesseraError } | { kind: 'credentials' };

function oneStream(o: EntrySyncOptions, onFirst: () => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const stream = o.api.syncEntries();
    let first = true;
    let done = false;
    const finish = (r: Outcome) => {
      if (done) return;
      done = true;
      unsubscribe();
      o.signal.removeEventListener('abort', onAbort);
      stream.cancel();
      resolve(r);
    };
    const onAbort = () => finish({ kind: 'closed' });
    const unsubscribe = o.api.onCredentialsChange(() => finish({ kind: 'credentials' }));
    o.signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (msg) => {
      if (done) return;
      try {
        if (msg.bundle) o.onBundle(msg.bundle);
        if (msg.federated_bundles) o.onFederatedBundles?.(msg.federated_bundles.bundles);
        const c = o.entries.apply(msg);
        if (first) {
          first = false;
          onFirst();
          o.onConnection?.(true);
          o.logger.info('entry sync connected', { entries: o.entries.size, sequence: msg.sequence });
          return;
        }
        o.logger.debug('entry sync update', { upserted: c.upserted.length, removed: c.removed.length, sequence: msg.sequence });
      } catch (e) {
        o.logger.error('failed to apply entry sync message', { err: e as Error });
      }
      o.onAnswer?.();
    });
    stream.on('error', (e) => finish({ kind: 'closed', err: fromGrpcError(e, 'entry sync') }));
    stream.on('end', () => finish({ kind: 'closed' }));
  });
}
