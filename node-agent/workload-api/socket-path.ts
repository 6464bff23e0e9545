import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
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

/**
 * Makes the socket's directory (at least 0755, so every local user can reach the socket) and
 * removes a stale socket left by a previous run. Refuses to unlink anything that is
 * not a socket, so a typo in config never deletes a regular file.
 */
export function prepareSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new TesseraError('invalid_argument', 'ERR_SOCKET_PATH', `socket path "${path}" exceeds ${MAX_SOCKET_PATH} bytes`);
  }
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Add the missing r-x bits only: never narrow a shared dir like /tmp (1777).
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o755) !== 0o755) chmodSync(dir, mode | 0o755);
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) {
    throw new TesseraError('failed_precondition', 'ERR_SOCKET_PATH', `"${path}" exists and is not a socket; refusing to remove it`);
  }
  unlinkSync(path);
}
