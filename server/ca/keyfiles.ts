import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeSecretFile } from '../../common/private-files.ts';

/** CA private keys on disk: PKCS#8 PEM, mode 0600 in a 0700 directory (common/private-files.ts). */
export function writePrivateKey(path: string, key: KeyObject): void {
  writeSecretFile(path, key.export({ type: 'pkcs8', format: 'pem' }) as string);
}

export function readPrivateKey(path: string): KeyObject {
  return createPrivateKey(readFileSync(path));
}
