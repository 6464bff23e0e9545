import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { unavailable } from '../../common/errors.ts';
import type { AgentClaims } from '../../spiffe/agent-claims.ts';
import type { CaSigner } from '../../spiffe/x509svid/template.ts';

/**
 * X.509-SVID issuance on worker threads: each CSR's key import, proof-of-possession
 * check and leaf signature (all of its CPU cost) run on one of N threads, so a batch
 * uses every core; the event loop only frames messages. Requests queued in the same
 * tick are coalesced and split into one message per thread (a structured-clone round
 * trip per SVID would cost more than the encoding it moves).
 */

export interface PoolItem {
  /** Exact-size copy of the PKCS#10 DER (a view of a larger buffer would clone all of it). */
  csr: Uint8Array;
  spiffeId: string;
  notBefore: number;
  notAfter: number;
  serial: Uint8Array;
  dnsNames?: string[];
  ipAddresses?: string[];
  claims?: AgentClaims;
  /** When set, a CSR with URI SANs must carry exactly this one, checked before signing. */
  expectUriSan?: string;
}

export type PoolItemResult =
  | { leaf: Uint8Array; uriSans: string[] }
  | { error: 'csr' | 'id_mismatch' | 'issue'; message: string };

export interface PoolJob { id: number; slot: string; ca?: CaSigner; items: PoolItem[] }
export interface PoolReply { id: number; results: PoolItemResult[] }

interface Waiter { resolve: (r: PoolItemResult) => void; reject: (e: Error) => void }
interface Thread { worker: Worker; slots: Set<string>; jobs: Map<number, Waiter[]> }
interface Queued { slot: string; ca: CaSigner; item: PoolItem; waiter: Waiter }

export class SigningPool {
  private threads: Thread[] = [];
  private queue: Queued[] = [];
  /** Chunks waiting for a thread: threads pull as they finish, so one descheduled thread holds up little. */
  private chunks: { slot: string; list: Queued[] }[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /** One thread per core by default. */
  static start(threads = availableParallelism()): SigningPool {
    return new SigningPool(Math.max(1, threads));
  }

  /** Checks the CSR and issues the leaf on a worker; resolves with the leaf or the reason it was refused. */
  sign(slot: string, ca: CaSigner, item: PoolItem): Promise<PoolItemResult> {
    if (this.closed) return Promise.reject(unavailable('ERR_SIGNING_POOL_CLOSED', 'the signing pool is closed'));
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) queueMicrotask(() => this.flush());
      this.queue.push({ slot, ca, item, waiter: { resolve, reject } });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = unavailable('ERR_SIGNING_POOL_CLOSED', 'the signing pool is closed');
    for (const c of this.chunks.splice(0)) for (const q of c.list) q.waiter.reject(err);
    const threads = this.threads;
    this.threads = [];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    const bySlot = new Map<string, Queued[]>();
    for (const q of queue) {
      const list = bySlot.get(q.slot);
      if (list) list.push(q); else bySlot.set(q.slot, [q]);
    }
    for (const [slot, list] of bySlot) {
      // About four chunks per thread: few messages, yet a slow thread delays only a small share.
      const per = Math.max(1, Math.ceil(list.length / (this.threads.length * 4)));
      for (let i = 0; i < list.length; i += per) this.chunks.push({ slot, list: list.slice(i, i + per) });
    }
    this.pump();
  }

  /** Gives each thread up to two chunks in flight (one running, one queued behind it). */
  private pump(): void {
    for (const t of this.threads) {
      while (t.jobs.size < 2 && this.chunks.length > 0) {
        const c = this.chunks.shift()!;
        this.dispatch(t, c.slot, c.list);
      }
    }
  }

  private dispatch(t: Thread, slot: string, list: Queued[]): void {
    const id = this.nextId++;
    const job: PoolJob = { id, slot, items: list.map((q) => q.item) };
    if (!t.slots.has(slot)) { job.ca = list[0]!.ca; t.slots.add(slot); }
    t.jobs.set(id, list.map((q) => q.waiter));
    t.worker.postMessage(job);
  }

  private spawn(): Thread {
    const t: Thread = { worker: startWorker(new URL('./sign-worker.ts', import.meta.url)), slots: new Set(), jobs: new Map() };
    t.worker.on('message', (r: PoolReply) => {
      const waiters = t.jobs.get(r.id);
      if (!waiters) return;
      t.jobs.delete(r.id);
      waiters.forEach((w, i) => w.resolve(r.results[i]!));
      this.pump();
    });
    const fail = (why: string) => {
      const err = unavailable('ERR_SIGNING_WORKER', `signing worker ${why}`);
      for (const ws of t.jobs.values()) for (const w of ws) w.reject(err);
      t.jobs.clear();
      const i = this.threads.indexOf(t);
      if (i >= 0 && !this.closed) { this.threads[i] = this.spawn(); this.pump(); }
    };
    t.worker.on('error', (e) => fail(`crashed: ${e.message}`));
    t.worker.on('exit', (code) => fail(`exited (code ${code})`));
    return t;
  }
}

/**
 * Under tsx (tests, benches, `npx`), loader hooks do not reach worker threads: the
 * worker registers tsx before importing its .ts module. Built output loads .mjs directly.
 */
function startWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const tsx = import.meta.resolve('tsx/esm/api');
  const src = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(src, { eval: true });
}
