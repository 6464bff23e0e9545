import { TesseraError } from '../errors.ts';

/**
 * The kernel would not tell us who is on the other end of a connection (or the
 * process is already gone). The endpoint fails closed on it: the connection is dropped.
 */
export class PeerCredentialsError extends TesseraError {
  readonly errno: number | undefined;
  constructor(code: 'ERR_PEERCRED_READ' | 'ERR_PEERCRED_PROC' | 'ERR_PEERCRED_PID_REUSED' | 'ERR_PEERCRED_EXEC', message: string, errno?: number, cause?: unknown) {
    super('permission_denied', code, message, { cause });
    this.errno = errno;
  }
}
