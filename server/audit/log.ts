import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { failedPrecondition, internal, TesseraError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { writeSecretFile } from '../../common/private-files.ts';
import type { Datastore } from '../datastore/types.ts';
import type { TlogCheckpoint } from '../datastore/sql-tlog.ts';
import { generateSigner, openCheckpoint, signCheckpoint, signerFromPem, signerPem, verifierKeyText, type NoteSigner } from './checkpoint.ts';
import { leafOf, type AuditEvent } from './events.ts';
import { verifyConsistency } from './merkle.ts';

/**
 * The transparency log as the server uses it (docs/audit.md): events in through the
 * store's batcher, signed checkpoints out, on a timer and on demand.
 */
export type LogStore = Pick<Datastore, 'appendLog' | 'logRoom' | 'logFlushed' | 'logSize' | 'logRoot' | 'logConsistencyProof'
  | 'putCheckpoint' | 'getCheckpoint'>;

/** What issuance paths need: record an event without waiting for the database. */
export interface AuditRecorder {
  /** Resolves once the event is queued: at once, unless the queue is full (then ≤ backlog wait, or ERR_AUDIT_BACKLOG). */
  record(e: AuditEvent): Promise<void>;
}

export interface AuditLogOptions {
  store: LogStore;
  signer: NoteSigner;
  /** The checkpoint origin line (= the key name). */
  origin: string;
  clock: Clock;
  logger: Logger;
  /** How often a new checkpoint is made when the log grew. Default 10 s. */
  checkpointIntervalMs?: number;
  /** How long a producer waits for room in a full queue before its request fails. Default 5 s. */
  backlogWaitMs?: number;
}

export class AuditLog implements AuditRecorder {
  readonly origin: string;
  readonly signer: NoteSigner;
  private readonly store: LogStore;
  private readonly log: Logger;
  private checkpointing: Promise<TlogCheckpoint> | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly o: AuditLogOptions) {
    this.origin = o.origin;
    this.signer = o.signer;
    this.store = o.store;
    this.log = o.logger.child({ component: 'audit-log' });
  }

  /** The verifier key text operators and witnesses configure ("<name>+<id>+<key>"). */
  get verifierKey(): string { return verifierKeyText(this.signer); }

  async record(e: AuditEvent): Promise<void> {
    await this.store.logRoom(this.o.backlogWaitMs ?? 5000);
    this.store.appendLog(leafOf(e)).catch((err: unknown) => {
      this.log.error('audit event not written to the transparency log', { err: err as Error, type: e.type });
    });
  }

  /** Appends and resolves with the leaf index and bytes once committed (RecordAction answers with them). */
  async append(e: AuditEvent): Promise<{ index: number; data: Uint8Array }> {
    await this.store.logRoom(this.o.backlogWaitMs ?? 5000);
    const leaf = leafOf(e);
    return { index: await this.store.appendLog(leaf), data: leaf.data };
  }

  /**
   * Signs a checkpoint of everything committed so far (after the queued events land).
   * One at a time per server; a size another server already checkpointed is returned as
   * stored. Refuses to sign a tree that is not an extension of the latest checkpoint: the
   * store was tampered with, and a log must never sign two inconsistent checkpoints.
   */
  checkpoint(): Promise<TlogCheckpoint> {
    this.checkpointing ??= this.makeCheckpoint().finally(() => { this.checkpointing = undefined; });
    return this.checkpointing;
  }

  private async makeCheckpoint(): Promise<TlogCheckpoint> {
    await this.store.logFlushed();
    const size = await this.store.logSize();
    const prev = await this.store.getCheckpoint();
    if (prev && prev.size === size) return prev;
    if (prev && prev.size > size) {
      throw failedPrecondition('ERR_AUDIT_TAMPERED', `the log has ${size} entries but checkpoint ${prev.size} was signed: entries were removed`);
    }
    const root = await this.store.logRoot(size);
    if (prev && prev.size > 0) {
      try {
        verifyConsistency(prev.size, size, await this.store.logConsistencyProof(prev.size, size), prev.root, root);
      } catch (e) {
        throw failedPrecondition('ERR_AUDIT_TAMPERED', `the log is not an extension of checkpoint ${prev.size}: ${(e as Error).message}`);
      }
    }
    const cp: TlogCheckpoint = { size, root, note: signCheckpoint({ origin: this.origin, size, root }, this.signer), time: this.o.clock.now() };
    if (!await this.store.putCheckpoint(cp)) {
      const stored = await this.store.getCheckpoint({ atLeast: size });
      if (!stored || stored.size !== size) throw internal('ERR_AUDIT_CHECKPOINT', `checkpoint ${size} was neither written nor found`);
      return stored;
    }
    this.log.info('signed audit checkpoint', { size, root: Buffer.from(root).toString('base64') });
    for (const w of this.waiters) w();
    return cp;
  }

  latest(): Promise<TlogCheckpoint | undefined> { return this.store.getCheckpoint(); }

  /** The first checkpoint covering leaf `index`, waiting (≤ timeoutMs) for the timer or another server to make one. */
  async checkpointCovering(index: number, timeoutMs: number, signal?: AbortSignal): Promise<TlogCheckpoint | undefined> {
    const deadline = this.o.clock.now() + timeoutMs;
    for (;;) {
      const cp = await this.store.getCheckpoint({ atLeast: index + 1 });
      if (cp) return cp;
      const left = deadline - this.o.clock.now();
      if (left <= 0 || signal?.aborted) return undefined;
      // Woken by our own checkpoint, or re-checked now and then for another server's.
      await new Promise<void>((resolve) => {
        const ac = new AbortController();
        const done = () => { this.waiters.delete(done); ac.abort(); resolve(); };
        this.waiters.add(done);
        this.o.clock.sleep(Math.min(left, 500), signal ? AbortSignal.any([ac.signal, signal]) : ac.signal).then(done, done);
      });
    }
  }

  /** Checkpoints on a timer while the log grows. Errors are logged; the loop goes on. */
  async run(signal: AbortSignal): Promise<void> {
    const every = this.o.checkpointIntervalMs ?? 10_000;
    while (!signal.aborted) {
      try { await this.o.clock.sleep(every * (0.9 + Math.random() * 0.2), signal); } catch { break; }
      try {
        const cp = await this.checkpoint();
        this.log.debug('audit checkpoint', { size: cp.size });
      } catch (e) {
        const level = e instanceof TesseraError && e.code === 'ERR_AUDIT_TAMPERED' ? 'error' : 'warn';
        this.log[level]('could not make an audit checkpoint', { err: e as Error });
      }
    }
  }

  /** Checks a stored note against our key (for tests and the admin API). */
  verifyNote(note: string) { return openCheckpoint(note, [this.signer], this.origin); }
}

export const AUDIT_KEY_FILE = 'audit/audit-key.pem';
/** Public: the verifier key text, one line. */
export const AUDIT_PUBLIC_KEY_FILE = 'audit-key.pub';

/**
 * The dedicated Ed25519 audit key: `keyFile` when configured (servers sharing one
 * database should share it), else <data_dir>/audit/audit-key.pem, created 0600 on
 * first start. Its verifier key is published in <data_dir>/audit-key.pub.
 */
export function loadAuditSigner(dataDir: string, origin: string, keyFile?: string): NoteSigner {
  const path = keyFile ?? join(dataDir, AUDIT_KEY_FILE);
  let signer: NoteSigner;
  if (existsSync(path)) {
    signer = signerFromPem(origin, readFileSync(path));
  } else {
    if (keyFile) throw failedPrecondition('ERR_AUDIT_KEY', `audit.key_file ${keyFile} does not exist`);
    signer = generateSigner(origin);
    writeSecretFile(path, signerPem(signer));
  }
  const pub = join(dataDir, AUDIT_PUBLIC_KEY_FILE);
  writeFileSync(`${pub}.tmp`, verifierKeyText(signer) + '\n', { mode: 0o644 });
  renameSync(`${pub}.tmp`, pub);
  return signer;
}
