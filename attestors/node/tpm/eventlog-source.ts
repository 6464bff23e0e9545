import { open } from 'node:fs/promises';
import type { Logger } from '../../../common/logger.ts';
import { EVENT_LOG_MAX_BYTES } from './eventlog.ts';
import { compressEventLog } from './protocol.ts';

/**
 * Compressed bytes of a log the agent will send. The server refuses an attestation
 * response over 64 KiB (server/attestation/orchestrator.ts ATTEST_LIMITS); base64 makes
 * 44 KiB into 59 KiB, leaving room for the quote, signature and PCR values.
 */
export const EVENT_LOG_WIRE_BUDGET = 44 * 1024;

/**
 * Reads the agent's event log for one attestation. Never fails the attestation: an absent
 * file means the host has no log; an unreadable, empty or oversized one is logged as a
 * warning and not sent, and the server (whose config says whether a log is required)
 * decides. securityfs reports size 0, so the file is read to EOF, never past `maxBytes`.
 */
export async function readEventLog(path: string, logger: Logger, maxBytes = EVENT_LOG_MAX_BYTES): Promise<Uint8Array | undefined> {
  if (path === '') return undefined;
  let log: Buffer | undefined;
  try {
    log = await readAtMost(path, maxBytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      logger.debug('no tpm event log on this host', { path });
    } else {
      logger.warn('cannot read the tpm event log; attesting without it', { path, error: (e as Error).message });
    }
    return undefined;
  }
  if (log === undefined) {
    logger.warn('tpm event log is too large; attesting without it', { path, max_bytes: maxBytes });
    return undefined;
  }
  if (log.length === 0) {
    logger.warn('tpm event log is empty; attesting without it', { path });
    return undefined;
  }
  const wire = compressEventLog(log).length;
  if (wire > EVENT_LOG_WIRE_BUDGET) {
    logger.warn('tpm event log does not fit in the attestation message; attesting without it', { path, bytes: log.length, compressed_bytes: wire, budget: EVENT_LOG_WIRE_BUDGET });
    return undefined;
  }
  return log;
}

/** The file's bytes, or undefined when it holds more than `max`. */
async function readAtMost(path: string, max: number): Promise<Buffer | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) return undefined;
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
