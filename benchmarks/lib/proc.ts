import fs from 'node:fs';
import os from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds used so far by a set of processes; one that has exited meanwhile counts as 0. */
export function cpuSecondsOf(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      return sum + processCpuSeconds(pid);
    } catch {
      return sum;
    }
  }, 0);
}

/**
 * CPU seconds used by a changing set of processes (`list` names them now) from this call until `stop()`:
 * each is read every `everyMs`; one that starts meanwhile counts from 0, one that exits keeps what it
 * was last seen to have used (up to `everyMs` of its work is lost). Processes replaced during the window
 * (a program encoder rebuilt) are counted, not subtracted.
 */
export function trackCpu(list: () => number[], everyMs = 250): { stop(): number } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const read = (initial: boolean): void => {
    for (const pid of list()) {
      let used: number;
      try {
        used = processCpuSeconds(pid);
      } catch {
        continue;
      }
      if (!first.has(pid)) first.set(pid, initial ? used : 0);
      last.set(pid, used);
    }
  };
  read(true);
  const timer = setInterval(() => read(false), everyMs);
  return {
    stop() {
      read(false);
      clearInterval(timer);
      let total = 0;
      for (const [pid, used] of last) total += used - (first.get(pid) ?? 0);
      return total;
    },
  };
}

/** The q-quantile (0-1) of a list of samples (nearest rank; NaN when empty). */
export function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

/** Cores kept busy between two readings of machineCpu() (2 on a 2-core machine is all of it). */
export function coresBusy(from: { busy: number; total: number }, to: { busy: number; total: number }): number {
  return ((to.busy - from.busy) / Math.max(1, to.total - from.total)) * os.availableParallelism();
}

/** Busy and total CPU jiffies of the whole machine (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Direct children of a process (from the children file of each of its tasks in /proc). */
export function childPids(pid: number): number[] {
  const tasks = `/proc/${pid}/task`;
  if (!fs.existsSync(tasks)) return [];
  return fs.readdirSync(tasks).flatMap((tid) => {
    const text = fs.readFileSync(`${tasks}/${tid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  });
}

/** Every process of a tree (its root first), as it is now. */
export function processTree(pid: number): number[] {
  return [pid, ...childPids(pid).flatMap((c) => processTree(c))];
}

/** Current resident set size of a process in MiB (0 if it is gone). */
export function processRssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Proportional set size of a process in MiB (0 if it is gone): its private memory plus its share of
 * pages it shares (libraries, with 200 ffmpeg processes mapping the same codecs). Summed over processes,
 * it is what they cost the machine together, where summed RSS counts shared pages once per process.
 */
export function processPssMiB(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** A process's command line, its arguments separated by spaces (empty if it is gone). */
export function processCommandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** A process's command name (empty if it is gone). */
export function processName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Peak resident set size of a process in MiB (VmHWM). */
export function processPeakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Kernel UDP counters (drops because a socket's receive buffer was full show as RcvbufErrors). */
export function udpCounters(): Record<string, number> {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
  };
}
