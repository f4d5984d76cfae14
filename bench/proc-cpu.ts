/**
 * CPU time of a process as the kernel accounts it: utime + stime of /proc/<pid>/stat (every thread of the
 * process: JavaScript, garbage collection, libuv's pool), in seconds. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ; 100 on every common Linux build). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Seconds of CPU `pid` has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the file are utime and stime; fields[0] here is field 3.
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Seconds of CPU used by all of `pids` together. */
export const totalCpuSeconds = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** The resolution of these figures, in seconds. */
export const CPU_TICK_SECONDS = 1 / TICKS;
