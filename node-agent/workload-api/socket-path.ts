import { chmodSync, lstatSync, mkdirSync, realpathSync, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import { dirname, resolve, sep } from 'node:path';
import { TesseraError } from '../../common/errors.ts';

/**
 * Default Workload API socket: /run/tessera/agent.sock when running as root (the
 * system-wide agent), /tmp/tessera/agent.sock otherwise.
 */
export function defaultSocketPath(uid: number | undefined = process.getuid?.()): string {
  return uid === 0 ? '/run/tessera/agent.sock' : '/tmp/tessera/agent.sock';
}

/** Unix socket paths are limited by sockaddr_un.sun_path (108 bytes incl. NUL). */
const MAX_SOCKET_PATH = 107;

const insecure = (msg: string) => new TesseraError('failed_precondition', 'ERR_SOCKET_DIR_INSECURE', msg);

/**
 * Makes the socket's directory and removes a stale socket left by a previous run.
 *
 * Every directory on the way (and every symlink, and the directories a symlink leads
 * to) must be owned by root or by us, and not writable by others unless sticky: a
 * directory another local user controls (e.g. a /tmp/tessera they created before the
 * agent first ran) would let them swap our socket for theirs and receive every
 * workload's requests, JWT-SVIDs sent for validation included. Such paths are
 * refused, never "fixed". Missing directories are created one level at a time, each
 * only after its parent passed the check, with mode 0755 (every local user must
 * reach the socket).
 *
 * A file at the path is removed only when it is a socket nobody is listening on:
 * never a regular file (a config typo), never another live agent's socket.
 */
export async function prepareSocketPath(path: string, euid: number = process.geteuid?.() ?? 0): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new TesseraError('invalid_argument', 'ERR_SOCKET_PATH', `socket path "${path}" exceeds ${MAX_SOCKET_PATH} bytes`);
  }
  const dir = dirname(resolve(path));
  ensureSecureDir(dir, euid);
  // The lexical walk checked each symlink's owner; also check where they lead.
  for (const d of prefixes(realpathSync(dir))) checkDir(d, lstatSync(d), euid);

  let st: Stats;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) {
    throw new TesseraError('failed_precondition', 'ERR_SOCKET_PATH', `"${path}" exists and is not a socket; refusing to remove it`);
  }
  if (await isListening(path)) {
    throw new TesseraError('failed_precondition', 'ERR_SOCKET_IN_USE', `"${path}" is in use by a running server (another agent?); refusing to take it over`);
  }
  unlinkSync(path);
}

function ensureSecureDir(dir: string, euid: number): void {
  for (const d of prefixes(dir)) {
    let st: Stats;
    try {
      st = lstatSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(d, { mode: 0o755 });
      st = lstatSync(d);
      // umask may have narrowed it; add only the r-x bits others need to reach the socket.
      if ((st.mode & 0o755) !== 0o755) { chmodSync(d, (st.mode & 0o7777) | 0o755); st = lstatSync(d); }
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== 0 && st.uid !== euid) throw insecure(`socket path component "${d}" is a symlink owned by uid ${st.uid}; refusing`);
      continue;
    }
    checkDir(d, st, euid);
  }
}

function checkDir(d: string, st: Stats, euid: number): void {
  if (!st.isDirectory()) throw insecure(`socket path component "${d}" is not a directory`);
  if (st.uid !== 0 && st.uid !== euid) {
    throw insecure(`socket directory "${d}" is owned by uid ${st.uid}, not by root or this agent (uid ${euid}); another user could replace the socket. Remove it or choose another socket_path`);
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw insecure(`socket directory "${d}" is writable by group or others without the sticky bit (mode ${(st.mode & 0o7777).toString(8)}); another user could replace the socket`);
  }
}

/** "/a/b/c" → ["/", "/a", "/a/b", "/a/b/c"]. */
function prefixes(abs: string): string[] {
  const parts = abs.split(sep).filter(Boolean);
  return [sep, ...parts.map((_, i) => sep + parts.slice(0, i + 1).join(sep))];
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (v: boolean) => { s.destroy(); resolve(v); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}
