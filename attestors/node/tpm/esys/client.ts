import { Worker } from 'node:worker_threads';
import { AttestationError } from '../../../../common/errors.ts';
import type { PcrSelection } from '../pcr-selection.ts';
import type { DeviceOptions } from './device.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

type Op = WorkerRequest['op'];
type Body<O extends Op> = Omit<Extract<WorkerRequest, { op: O }>, 'id' | 'op'>;

export interface TpmIdentity { ekCert?: Uint8Array; ekPublic: Uint8Array; akPublic: Uint8Array }
export interface TpmQuote { attest: Uint8Array; signature: Uint8Array; pcrs: { hashAlg: number; index: number; value: Uint8Array }[] }

const deviceError = (msg: string, cause?: unknown) => new AttestationError('unavailable', 'ERR_TPM_DEVICE', msg, { cause });

/**
 * Main-thread handle on the TPM worker thread (worker.ts). Each call is one request;
 * the worker answers in order. A call that outlives `timeoutMs` or is aborted ends the
 * worker (a blocked native call cannot be interrupted), failing what is still pending.
 */
export class TpmClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; op: Op }>();
  private dead?: Error;

  constructor(opts: DeviceOptions, private readonly timeoutMs = 30_000) {
    // ESAPI logs every TPM error code to stderr; we report them ourselves. Must be in the
    // real process environment (the C library reads it), so set it before the worker loads tss2.
    process.env.TSS2_LOG ??= 'all+none';
    this.worker = spawnWorker(new URL('./worker.ts', import.meta.url), opts);
    this.worker.on('message', (r: WorkerReply) => this.settle(r));
    this.worker.on('error', (e) => this.fail(deviceError(`TPM worker crashed: ${e.message}`, e)));
    this.worker.on('exit', (code) => this.fail(deviceError(`TPM worker exited (code ${code})`)));
  }

  identity(signal?: AbortSignal): Promise<TpmIdentity> {
    return this.call('identity', {}, signal) as Promise<TpmIdentity>;
  }
  activate(credentialBlob: Uint8Array, encryptedSecret: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return this.call('activate', { credentialBlob, encryptedSecret }, signal) as Promise<Uint8Array>;
  }
  quote(nonce: Uint8Array, selection: PcrSelection, signal?: AbortSignal): Promise<TpmQuote> {
    return this.call('quote', { nonce, selection }, signal) as Promise<TpmQuote>;
  }

  /** Flushes the TPM objects and ends the worker. */
  async close(): Promise<void> {
    if (this.dead) return;
    try { await this.call('close', {}); } catch { /* ending anyway */ }
    this.dead ??= deviceError('TPM client closed');
    await this.worker.terminate();
  }

  private call<O extends Op>(op: O, body: Body<O>, signal?: AbortSignal): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.kill(deviceError(`TPM ${op} did not finish within ${this.timeoutMs} ms`)), this.timeoutMs);
      const onAbort = () => this.kill(deviceError(`TPM ${op} aborted`, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
      this.pending.set(id, {
        op,
        resolve: (v) => { done(); resolve(v); },
        reject: (e) => { done(); reject(e); },
      });
      this.worker.postMessage({ id, op, ...body } as WorkerRequest);
    });
  }

  private settle(r: WorkerReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(deviceError(`TPM ${p.op} failed: ${r.error.message}`, r.error));
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private kill(e: Error): void {
    this.fail(e);
    void this.worker.terminate();
  }
}

/**
 * Starts a worker on a .ts module. Tessera runs under tsx, whose loader hooks do not
 * carry over into worker threads, so the worker registers tsx before importing.
 */
function spawnWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const src = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(src, { eval: true, workerData });
}
