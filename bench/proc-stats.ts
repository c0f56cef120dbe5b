/** CPU time and peak memory of a server process (and CPU time of finished children), read from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields 14 to 17 of /proc/PID/stat (utime, stime, cutime, cstime), as indexes after "(comm) ". */
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;

/** The sum of those fields of /proc/`pid`/stat, in seconds; NaN if unreadable. */
function statSeconds(pid: number | 'self', fields: readonly number[]): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)" start with state, field 3.
    const values = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields.reduce((sum, field) => sum + Number(values[field]), 0) / ticksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/**
 * User + system CPU seconds consumed so far by all threads of the process, plus with
 * `waitedChildren` those of its children that have exited and been waited for; NaN if unreadable.
 */
export function cpuSeconds(pid: number, waitedChildren = false): number {
  return statSeconds(pid, waitedChildren ? [UTIME, STIME, CUTIME, CSTIME] : [UTIME, STIME]);
}

/** Peak resident set size (VmHWM) in bytes, or NaN if unreadable. */
export function peakRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
export function waitedChildrenCpuSeconds(): number {
  return statSeconds('self', [CUTIME, CSTIME]);
}
