import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { TesseraError } from '../../common/errors.ts';

/**
 * One bounded JSON GET, shared by the Docker Engine and kubelet clients: every call has
 * a timeout, a response size limit and honours the caller's AbortSignal, and every
 * failure is a TesseraError whose code starts with the caller's prefix (ERR_DOCKER,
 * ERR_KUBELET) and whose message names the endpoint and the reason.
 */
export interface BoundedGet {
  /** Prefix of error codes, e.g. "ERR_DOCKER". */
  codePrefix: string;
  /** How the endpoint is named in messages, e.g. "docker engine at unix:///var/run/docker.sock". */
  describe: string;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
}

export interface HttpResult { status: number; body: Buffer }

export function getJsonBody(
  opts: BoundedGet,
  transport: { kind: 'http'; options: RequestOptions } | { kind: 'https'; options: HttpsRequestOptions },
): Promise<HttpResult> {
  const { codePrefix, describe, timeoutMs, maxBytes, signal } = opts;
  const where = `${describe}${transport.options.path ?? ''}`;
  return new Promise<HttpResult>((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(codePrefix, where, signal));
    let settled = false;
    const finish = (err: Error | undefined, res?: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) { req.destroy(); reject(err); } else resolve(res!);
    };
    const options = { ...transport.options, method: 'GET', headers: { Accept: 'application/json', ...transport.options.headers } };
    const req = transport.kind === 'https' ? httpsRequest(options) : httpRequest(options);
    const timer = setTimeout(() => finish(new TesseraError('deadline_exceeded', `${codePrefix}_TIMEOUT`,
      `${where}: no complete response within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(abortedError(codePrefix, where, signal!));
    signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (e: NodeJS.ErrnoException) => finish(new TesseraError('unavailable', `${codePrefix}_UNAVAILABLE`,
      `${where}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: e })));
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.resume();
        return finish(tooLarge(codePrefix, where, declared, maxBytes));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // Stop reading as soon as the limit is crossed: a hostile or broken peer cannot make us buffer more.
        if (size > maxBytes) return finish(tooLarge(codePrefix, where, size, maxBytes));
        chunks.push(c);
      });
      res.on('error', (e) => finish(new TesseraError('unavailable', `${codePrefix}_UNAVAILABLE`, `${where}: response failed: ${e.message}`, { cause: e })));
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.end();
  });
}

/** JSON.parse with a typed error that names the endpoint. */
export function parseJson(codePrefix: string, where: string, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new TesseraError('internal', `${codePrefix}_MALFORMED_RESPONSE`, `${where}: response is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** A response that parsed as JSON but not into the shape the client reads. */
export function malformedResponse(codePrefix: string, where: string, why: string): TesseraError {
  return new TesseraError('internal', `${codePrefix}_MALFORMED_RESPONSE`, `${where}: unexpected response shape: ${why}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The short reason a peer gave with an error status, for messages (bounded). */
export function errorReason(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const j = JSON.parse(text) as { message?: unknown };
    if (typeof j?.message === 'string') return j.message.slice(0, 200);
  } catch { /* not JSON: use the text */ }
  return text.slice(0, 200);
}

function tooLarge(codePrefix: string, where: string, size: number, max: number): TesseraError {
  return new TesseraError('resource_exhausted', `${codePrefix}_RESPONSE_TOO_LARGE`,
    `${where}: response of ${size}+ bytes exceeds the limit of ${max} bytes`);
}

function abortedError(codePrefix: string, where: string, signal: AbortSignal): TesseraError {
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  const timeout = reason?.name === 'TimeoutError';
  return new TesseraError(timeout ? 'deadline_exceeded' : 'unavailable', `${codePrefix}_ABORTED`,
    `${where}: request abandoned: ${reason?.message ?? 'caller cancelled'}`);
}
