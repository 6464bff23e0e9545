import { createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * CA material on disk. Private keys are PKCS#8 PEM with mode 0600 in a 0700
 * directory; writes go through a temp file + rename so a crash never leaves half a key.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export function writeSecretFile(path: string, data: string | Uint8Array): void {
  ensurePrivateDir(dirname(path));
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function writePrivateKey(path: string, key: KeyObject): void {
  writeSecretFile(path, key.export({ type: 'pkcs8', format: 'pem' }) as string);
}

export function readPrivateKey(path: string): KeyObject {
  return createPrivateKey(readFileSync(path));
}

