import { open, readFile, readlink, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { makeSelector, type Selector } from '../../spiffe/selector.ts';
import { AttestationError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import { t } from '../../common/config.ts';
import {
  INSTANCE_STRENGTH,
  type WorkloadAttestation, type WorkloadAttestor, type WorkloadAttestorFactory, type WorkloadProcess,
} from './types.ts';

/**
 * The unix workload attestor: what the kernel knows about a calling process.
 *
 *   unix:uid:<n> unix:user:<name> unix:gid:<n> unix:group:<name>
 *   unix:supplementary_gid:<n> unix:supplementary_group:<name>   (one per group)
 *   unix:path:<exe path> unix:sha256:<hex of the executable>
 *
 * uid/gid are the effective ids from /proc/<pid>/status, and must equal the ones the
 * kernel recorded at connect() (SO_PEERCRED, in `proc`): a process that changed
 * credentials since connecting (setuid(), or exec of a setuid binary while another
 * process holds the socket) is refused rather than attested by its new ids.
 * Supplementary groups come from the same status file. Names come from /etc/passwd
 * and /etc/group only (no NSS: LDAP/SSSD users get no unix:user selector). The executable hash is read through /proc/<pid>/exe, so it is the binary
 * actually running even if the path was replaced since; it is cached by
 * device+inode+mtime+size and streamed in chunks so a large binary never holds
 * the event loop for long. Its instance claim is boot id + pid + start time.
 */
export interface UnixAttestorOptions {
  /** Default /proc; tests point it at a fake tree. */
  procRoot?: string;
  passwdPath?: string;
  groupPath?: string;
  /** Emit unix:path and unix:sha256 (default true). */
  discoverWorkloadPath?: boolean;
  /**
   * Skip unix:sha256 for executables larger than this many bytes; 0 = no limit.
   * Default 1 GiB: any local user can make the agent hash whatever it executes (a
   * sparse multi-terabyte file costs them nothing), so the default is bounded.
   */
  workloadSizeLimit?: number;
  /** Hashes running at once; more wait their turn. Default 2 (libuv has 4 fs threads). */
  maxConcurrentHashes?: number;
  logger?: Logger;
}

export interface UnixAttestorConfig {
  discover_workload_path: boolean;
  workload_size_limit: number;
}

const HASH_CHUNK = 1 << 20;
const HASH_CACHE_MAX = 1024;
export const DEFAULT_WORKLOAD_SIZE_LIMIT = 1 << 30;

export class UnixWorkloadAttestor implements WorkloadAttestor {
  readonly name = 'unix';
  private readonly procRoot: string;
  private readonly passwd: NameFile;
  private readonly group: NameFile;
  private readonly discoverPath: boolean;
  private readonly sizeLimit: number;
  private readonly logger: Logger;
  private readonly hashes = new Map<string, Promise<string>>();
  private readonly hashSlots: Semaphore;
  private bootId: Promise<string> | undefined;

  constructor(opts: UnixAttestorOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.passwd = new NameFile(opts.passwdPath ?? '/etc/passwd');
    this.group = new NameFile(opts.groupPath ?? '/etc/group');
    this.discoverPath = opts.discoverWorkloadPath ?? true;
    this.sizeLimit = opts.workloadSizeLimit ?? DEFAULT_WORKLOAD_SIZE_LIMIT;
    this.logger = opts.logger ?? silentLogger;
    this.hashSlots = new Semaphore(opts.maxConcurrentHashes ?? 2);
  }

  /** Most executables hashed at the same time so far (for tests and health). */
  get peakConcurrentHashes(): number { return this.hashSlots.peak; }

  async attest(proc: WorkloadProcess): Promise<WorkloadAttestation> {
    const status = await this.readStatus(proc.pid);
    if (status.uid !== proc.uid || status.gid !== proc.gid) {
      throw new AttestationError('permission_denied', 'ERR_UNIX_CREDENTIALS_CHANGED',
        `process ${proc.pid} connected as uid ${proc.uid} gid ${proc.gid} but now runs as uid ${status.uid} gid ${status.gid}; it must reconnect`);
    }
    const [users, groups] = await Promise.all([this.passwd.names(), this.group.names()]);
    const out: Selector[] = [];
    const add = (key: string, value: string | number) => out.push(makeSelector('unix', `${key}:${value}`));
    add('uid', status.uid);
    const user = users.get(status.uid);
    if (user) add('user', user);
    add('gid', status.gid);
    const group = groups.get(status.gid);
    if (group) add('group', group);
    for (const g of status.groups) {
      add('supplementary_gid', g);
      const name = groups.get(g);
      if (name) add('supplementary_group', name);
    }
    if (this.discoverPath) {
      const exe = await this.executable(proc.pid);
      add('path', exe.path);
      if (exe.sha256) add('sha256', exe.sha256);
    }
    const bootId = await this.readBootId();
    return {
      selectors: out,
      instance: { strength: INSTANCE_STRENGTH.process, key: `unix:${bootId}:${proc.pid}:${proc.startTime}` },
    };
  }

  private async readStatus(pid: number): Promise<{ uid: number; gid: number; groups: number[] }> {
    const file = `${this.procRoot}/${pid}/status`;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new AttestationError('permission_denied', 'ERR_UNIX_PROC', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    const ids = (key: string): number[] => {
      const m = new RegExp(`^${key}:([^\\n]*)$`, 'm').exec(text);
      return m ? m[1]!.trim().split(/\s+/).filter(Boolean).map(Number) : [];
    };
    const uids = ids('Uid'), gids = ids('Gid');
    // Fields are real, effective, saved, filesystem; the effective id is what acts.
    if (uids.length < 2 || gids.length < 2) {
      throw new AttestationError('permission_denied', 'ERR_UNIX_PROC', `${file} has no Uid/Gid lines`);
    }
    return { uid: uids[1]!, gid: gids[1]!, groups: [...new Set(ids('Groups'))] };
  }

  private async executable(pid: number): Promise<{ path: string; sha256?: string }> {
    const link = `${this.procRoot}/${pid}/exe`;
    let path: string;
    try {
      path = await readlink(link);
    } catch (e) {
      throw new AttestationError('permission_denied', 'ERR_UNIX_PROC', `cannot read ${link}: ${(e as Error).message}`, { cause: e });
    }
    let fh: FileHandle | undefined;
    try {
      fh = await open(link, 'r');
    } catch (e) {
      // Path is still a fact worth matching on; the hash is just unavailable (e.g. exe not readable).
      this.logger.warn('unix attestor cannot open executable', { pid, path, err: e as Error });
      return { path };
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (this.sizeLimit > 0 && st.size > BigInt(this.sizeLimit)) {
        this.logger.warn('unix attestor: executable larger than workload_size_limit; no unix:sha256 selector', { pid, path, size: Number(st.size), limit: this.sizeLimit });
        return { path };
      }
      const key = `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
      let hash = this.hashes.get(key);
      if (!hash) {
        const owned = fh;
        fh = undefined; // the hash owns and closes it
        hash = this.hashSlots.run(() => hashFile(owned));
        this.remember(key, hash);
      }
      return { path, sha256: await hash };
    } finally {
      await fh?.close();
    }
  }

  private remember(key: string, hash: Promise<string>): void {
    if (this.hashes.size >= HASH_CACHE_MAX) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(key, hash);
    hash.catch(() => this.hashes.delete(key));
  }

  private readBootId(): Promise<string> {
    this.bootId ??= readFile(`${this.procRoot}/sys/kernel/random/boot_id`, 'utf8')
      .then((s) => s.trim(), () => 'noboot');
    return this.bootId;
  }
}

/** At most `max` tasks at once; the rest wait in FIFO order. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  peak = 0;
  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Streams the file in 1 MiB chunks: other callers run between chunks. */
async function hashFile(fh: FileHandle): Promise<string> {
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, HASH_CHUNK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/** id → name from a passwd/group style file, re-parsed only when the file changes. */
class NameFile {
  private cached: { stamp: string; map: Map<number, string> } | undefined;
  constructor(private readonly path: string) {}

  async names(): Promise<Map<number, string>> {
    let stamp: string;
    try {
      const st = await stat(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return new Map(); // no such file: names are simply unknown
    }
    if (this.cached?.stamp === stamp) return this.cached.map;
    const map = new Map<number, string>();
    const text = await readFile(this.path, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const f = line.split(':');
      const id = Number(f[2]);
      // First entry wins, as getpwuid/getgrgid do.
      if (f[0] && f[2] !== undefined && /^\d+$/.test(f[2]) && !map.has(id)) map.set(id, f[0]);
    }
    this.cached = { stamp, map };
    return map;
  }
}

export const unixWorkloadAttestorFactory: WorkloadAttestorFactory<UnixAttestorConfig> = {
  name: 'unix',
  config: t.object({
    discover_workload_path: t.boolean({ default: true }),
    workload_size_limit: t.number({ default: DEFAULT_WORKLOAD_SIZE_LIMIT, min: 0, integer: true }),
  }),
  create(config, deps) {
    return new UnixWorkloadAttestor({
      discoverWorkloadPath: config.discover_workload_path,
      workloadSizeLimit: config.workload_size_limit,
      logger: deps.logger.child({ attestor: 'unix' }),
    });
  },
};
