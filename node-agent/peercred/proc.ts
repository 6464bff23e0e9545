import { readFileSync } from 'node:fs';
import { PeerCredentialsError } from '../../common/peercred/errors.ts';

/**
 * Process start time in clock ticks since boot (/proc/<pid>/stat field 22). With the
 * pid it names one process instance: a recycled pid gets a later start time.
 * The comm field may hold spaces and ')', so parsing starts after the last ')'.
 */
export function readStartTime(pid: number, procRoot = '/proc'): bigint {
  return readProcStat(pid, procRoot).startTime;
}

/**
 * State (field 3) and start time (field 22). A zombie ("Z") or dead ("X") process
 * still has its /proc entry and start time until reaped, but it is gone as a caller.
 */
export function readProcStat(pid: number, procRoot = '/proc'): { state: string; startTime: bigint } {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
  } catch (e) {
    throw new PeerCredentialsError('ERR_PEERCRED_PROC', `cannot read ${procRoot}/${pid}/stat: ${(e as Error).message}`, undefined, e);
  }
  const close = stat.lastIndexOf(')');
  return { state: close < 0 ? '' : stat.slice(close + 2, close + 3), startTime: parseStartTime(stat, pid) };
}

export function parseStartTime(stat: string, pid: number): bigint {
  const close = stat.lastIndexOf(')');
  // Fields after "pid (comm)" start at field 3 (state); field 22 is index 19.
  const field = close < 0 ? undefined : stat.slice(close + 2).split(' ')[19];
  if (field === undefined || !/^\d+$/.test(field)) {
    throw new PeerCredentialsError('ERR_PEERCRED_PROC', `/proc/${pid}/stat has no start time field`);
  }
  return BigInt(field);
}

/**
 * The pid a pidfd points at, from our own /proc/self/fdinfo: -1 (or absent) once
 * that process has been reaped. For diagnostics and tests only: a per-call check uses
 * pidfdExited (one poll(2), ~15× cheaper, and it sees zombies too).
 */
export function pidOfPidfd(pidfd: number): number {
  let info: string;
  try {
    info = readFileSync(`/proc/self/fdinfo/${pidfd}`, 'latin1');
  } catch (e) {
    throw new PeerCredentialsError('ERR_PEERCRED_PROC', `cannot read fdinfo of pidfd ${pidfd}: ${(e as Error).message}`, undefined, e);
  }
  const m = /^Pid:\s*(-?\d+)/m.exec(info);
  return m ? Number(m[1]) : -1;
}
