import koffi from 'koffi';

/**
 * The two libc getsockopt shapes the peer-credential path needs, bound once per
 * process through koffi (no build step; ~2 µs per call). Bound lazily so modules
 * that only import types never load libc. The constants are right for x86-64 and
 * arm64 Linux; they differ on ppc/mips, which Tessera does not support.
 */
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
/** Linux >= 6.5: a pidfd of the peer process, immune to pid reuse. */
export const SO_PEERPIDFD = 77;
export const ENOPROTOOPT = 92;

export interface Ucred { pid: number; uid: number; gid: number }

export interface LibcSockopt {
  /** getsockopt(fd, level, name, struct ucred*, len*) → 0 or -1 (see errno()). */
  getsockoptUcred(fd: number, level: number, name: number, out: Partial<Ucred>, len: [number]): number;
  /** getsockopt(fd, level, name, int*, len*). */
  getsockoptInt(fd: number, level: number, name: number, out: [number], len: [number]): number;
  errno(): number;
  readonly ucredSize: number;
}

let bound: LibcSockopt | undefined;

export function libcSockopt(): LibcSockopt {
  if (bound) return bound;
  const lib = koffi.load('libc.so.6');
  // Struct names are global in koffi; a distinct name keeps other modules' "ucred" from clashing.
  const ucred = koffi.struct('tessera_peercred_ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
  const ucredFn = lib.func('int getsockopt(int fd, int level, int name, _Out_ tessera_peercred_ucred *val, _Inout_ uint32_t *len)');
  const intFn = lib.func('int getsockopt(int fd, int level, int name, _Out_ int *val, _Inout_ uint32_t *len)');
  bound = {
    getsockoptUcred: (fd, level, name, out, len) => ucredFn(fd, level, name, out, len) as number,
    getsockoptInt: (fd, level, name, out, len) => intFn(fd, level, name, out, len) as number,
    errno: () => koffi.errno(),
    ucredSize: koffi.sizeof(ucred),
  };
  return bound;
}
