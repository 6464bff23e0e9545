import { Backoff } from '../../../spiffe/lib/backoff.ts';
import type { Clock } from '../../../common/clock.ts';
import type { Logger } from '../../../common/logger.ts';
import { AttestationError } from '../../../common/errors.ts';

/**
 * HTTP for the cloud methods: every request has a timeout (a metadata service that
 * hangs must not hang the agent), and the agent halves retry with exponential
 * backoff and jitter because instance metadata services are briefly unreachable
 * during boot and under throttling.
 */

export interface RetryPolicy {
  /** Total tries, first one included. */
  attempts: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** First delay; doubles per attempt up to maxBackoffMs, then jittered. */
  backoffMs: number;
  maxBackoffMs: number;
}

/** A non-2xx answer. Kept distinct from network failures so callers can decide to retry. */
export class HttpStatusError extends Error {
  constructor(readonly url: string, readonly status: number, readonly body: string) {
    super(`${url} answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

const MAX_BODY_BYTES = 1 << 20;

/** One request with a timeout; resolves with the exact body bytes of a 2xx answer. */
export async function fetchBytes(url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { ...init, redirect: 'error', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  if (!res.ok) {
    const head = await readLimited(res, 512).catch(() => new Uint8Array());
    throw new HttpStatusError(url, res.status, Buffer.from(head).toString('utf8'));
  }
  const body = await readLimited(res, MAX_BODY_BYTES);
  if (body === TOO_LARGE) throw new HttpStatusError(url, 413, `answer larger than ${MAX_BODY_BYTES} bytes`);
  return body;
}

const TOO_LARGE = new Uint8Array();

/**
 * Reads at most `limit` bytes, stopping (and cancelling the stream) as soon as the
 * body grows past it: a hostile or broken endpoint must not make us buffer without
 * bound. Returns TOO_LARGE when the limit was crossed (for an error head: the first
 * `limit` bytes are all we want, so the prefix is returned instead).
 */
async function readLimited(res: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (limit === MAX_BODY_BYTES && Number.isFinite(declared) && declared > limit) { await res.body?.cancel().catch(() => {}); return TOO_LARGE; }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total > limit) break; // leaving the loop cancels the stream
    }
  }
  const body = Buffer.concat(chunks);
  if (total <= limit) return new Uint8Array(body);
  return limit === MAX_BODY_BYTES ? TOO_LARGE : new Uint8Array(body.subarray(0, limit));
}

export async function fetchText(url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return Buffer.from(await fetchBytes(url, init, timeoutMs, signal)).toString('utf8');
}

/**
 * Transient: network errors, timeouts, 5xx, 429 (throttled), and 401 (an AWS IMDSv2
 * session token that expired between the PUT and the GET: the next try gets a new one).
 * Other 4xx answers mean the request itself is wrong and will not improve.
 */
export function isTransient(err: unknown, alsoRetry: readonly number[] = []): boolean {
  if (err instanceof HttpStatusError) return err.status >= 500 || err.status === 429 || err.status === 401 || alsoRetry.includes(err.status);
  return true;
}

/** A short human reason for logs and error messages (ECONNREFUSED, timed out, HTTP 503). */
export function describeFailure(err: unknown, timeoutMs?: number): string {
  if (err instanceof HttpStatusError) return err.message;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return timeoutMs ? `timed out after ${timeoutMs}ms` : 'timed out';
  if (e?.cause?.code) return e.cause.code;
  return e?.cause?.message ?? e?.message ?? String(err);
}

export interface RetryDeps {
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Further statuses that mean "not ready yet" for this service (Azure: 404 while an identity is being assigned). */
  alsoRetry?: readonly number[];
}

/**
 * Runs `op` until it succeeds, a non-transient error happens, or the attempts run out.
 * `what` names the service and address for the error message (e.g.
 * "aws_iid: instance metadata service at http://169.254.169.254").
 */
export async function withRetry<T>(what: string, policy: RetryPolicy, deps: RetryDeps,
  op: (signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const backoff = new Backoff({ initialMs: policy.backoffMs, maxMs: policy.maxBackoffMs, random: deps.random ?? Math.random });
  let last: unknown;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    try {
      return await op(signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (err instanceof AttestationError) throw err;
      last = err;
      if (!isTransient(err, deps.alsoRetry)) {
        throw new AttestationError('unavailable', 'ERR_METADATA_REQUEST_REJECTED',
          `${what} rejected the request: ${describeFailure(err, policy.timeoutMs)}`, { cause: err });
      }
      if (attempt === policy.attempts) break;
      // Jittered, so many agents booting together spread out without any retrying at once.
      const delayMs = Math.round(backoff.next());
      deps.logger.warn('metadata service not available, retrying', {
        service: what, attempt, attempts: policy.attempts, retry_in_ms: delayMs, reason: describeFailure(err, policy.timeoutMs),
      });
      await deps.clock.sleep(delayMs, signal);
    }
  }
  throw new AttestationError('unavailable', 'ERR_METADATA_UNAVAILABLE',
    `${what} is unavailable after ${policy.attempts} attempts: ${describeFailure(last, policy.timeoutMs)}`, { cause: last });
}
