import koffi from 'koffi';

const ESRCH = 3;
const ENOSYS = 38;
/** pidfd_open(2) syscall number on x86-64 and arm64 (asm-generic), the platforms Tessera supports. */
const SYS_PIDFD_OPEN = 434;

let bound: { open(pid: number): number; errno(): number } | undefined;

function libc(): { open(pid: number): number; errno(): number } {
  if (bound) return bound;
  const lib = koffi.load('libc.so.6');
  let open: (pid: number) => number;
  try {
    // glibc >= 2.36 wraps it; older ones only have syscall(2).
    const fn = lib.func('int pidfd_open(int pid, unsigned int flags)');
    open = (pid) => fn(pid, 0) as number;
  } catch {
    const syscall = lib.func('long syscall(long number, ...)');
    open = (pid) => Number(syscall(SYS_PIDFD_OPEN, 'int', pid, 'uint', 0));
  }
  bound = { open, errno: () => koffi.errno() };
  return bound;
}

/**
 * A pidfd for `pid` (Linux >= 5.3): it keeps naming that one process even once the
 * pid is reused, so a referenced process can be pinned like a Workload API peer.
 * 'gone' when no such process exists; undefined when the kernel has no pidfd_open
 * (pinning then rests on the start time alone, as for peers on old kernels).
 */
export function openPidfd(pid: number): number | 'gone' | undefined {
  const c = libc();
  const fd = c.open(pid);
  if (fd >= 0) return fd;
  const errno = c.errno();
  if (errno === ESRCH) return 'gone';
  if (errno === ENOSYS) return undefined;
  throw new Error(`pidfd_open(${pid}) failed: errno ${errno}`);
}
