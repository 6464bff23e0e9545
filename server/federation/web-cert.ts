import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Clock } from '../../common/clock.ts';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * A WebPKI certificate and key from PEM files (the https_web bundle endpoint, the OIDC
 * discovery listener). Checked at start (readable, a certificate, the key matches);
 * re-read when either file changes (ACME clients, cert-manager replace them in place),
 * checked every `checkMs`. A bad replacement is logged and the old pair kept.
 */
export interface CertFiles { cert_file: string; key_file: string }

export interface PemPair { cert: Buffer; key: Buffer }

export function readCertFiles(files: CertFiles, what: string): PemPair {
  const read = (field: keyof CertFiles) => {
    try { return readFileSync(files[field]); } catch (e) { throw new ConfigError(`config: ${what}.${field}: cannot read ${files[field]}: ${(e as Error).message}`); }
  };
  const cert = read('cert_file');
  const key = read('key_file');
  let x: X509Certificate;
  try { x = new X509Certificate(cert); } catch (e) { throw new ConfigError(`config: ${what}.cert_file: ${files.cert_file} holds no PEM certificate: ${(e as Error).message}`); }
  let ok: boolean;
  try { ok = x.checkPrivateKey(createPrivateKey(key)); } catch (e) { throw new ConfigError(`config: ${what}.key_file: ${files.key_file} holds no PEM private key: ${(e as Error).message}`); }
  if (!ok) throw new ConfigError(`config: ${what}.key_file: ${files.key_file} is not the key of the certificate in ${files.cert_file}`);
  return { cert, key };
}

/** Calls `onChange` with the new pair whenever the files change, until `signal` aborts. */
export async function watchCertFiles(files: CertFiles, what: string, o: { clock: Clock; logger: Logger; signal: AbortSignal; checkMs?: number; onChange(p: PemPair): void }): Promise<void> {
  const stamp = () => { try { return [files.cert_file, files.key_file].map((f) => statSync(f).mtimeMs).join(','); } catch { return ''; } };
  let last = stamp();
  while (!o.signal.aborted) {
    try { await o.clock.sleep(o.checkMs ?? 60_000, o.signal); } catch { return; }
    const now = stamp();
    if (now === last || now === '') continue;
    // Both files are written apart: a half-replaced pair is reported once, and the
    // second file's change brings the next attempt.
    last = now;
    try {
      o.onChange(readCertFiles(files, what));
      o.logger.info('certificate files reloaded', { what, cert_file: files.cert_file });
    } catch (e) {
      o.logger.warn('changed certificate files are not usable; keeping the previous pair', { what, err: e as Error });
    }
  }
}
