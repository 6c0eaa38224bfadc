/**
 * Samples the resident memory (VmRSS from /proc/PID/status) and CPU time (/proc/PID/stat utime+stime) of a
 * server process and its child processes (esajpip forks a child that serves the connections; jpipd's
 * workers are threads and count in its own RSS). Linux only.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** The process and all its descendants, found through /proc/PID/task/TID/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0 && out.length < 1000) {
    const p = stack.pop() as number;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) stack.push(Number(c));
      } catch {
        /* the task ended while we looked */
      }
    }
  }
  return out;
}

/** VmRSS of one process in KiB (0 if it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of one process (all its threads; 0 if it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

/** What a sampler saw during a run. */
export interface ProcSummary {
  samples: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  rssMeanMiB: number;
  rssEndMiB: number;
  /** CPU seconds used by the process tree between start() and stop(). */
  cpuSeconds: number;
  processes: number;
}

/** Periodic RSS/CPU sampling of a process tree. */
export class ProcSampler {
  private readonly rss: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private cpu0 = 0;
  private pids: number[] = [];

  constructor(
    readonly pid: number,
    readonly everyMs = 200,
  ) {}

  private sample(): void {
    this.pids = processTree(this.pid);
    this.rss.push(this.pids.reduce((s, p) => s + rssKiB(p), 0) / 1024);
  }

  private cpu(): number {
    return processTree(this.pid).reduce((s, p) => s + cpuSeconds(p), 0);
  }

  /** Starts sampling. */
  start(): void {
    this.cpu0 = this.cpu();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  /** Stops sampling and summarises. */
  stop(): ProcSummary {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const r = this.rss;
    return {
      samples: r.length,
      rssStartMiB: r[0],
      rssPeakMiB: r.reduce((m, v) => (v > m ? v : m), 0),
      rssMeanMiB: r.reduce((a, b) => a + b, 0) / r.length,
      rssEndMiB: r[r.length - 1],
      cpuSeconds: this.cpu() - this.cpu0,
      processes: this.pids.length,
    };
  }
}

/** CPU seconds of every thread of a process, by thread id (the main thread's id is the PID). */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), (Number(fields[11]) + Number(fields[12])) / USER_HZ);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** A thread's share of one core over an interval (the main thread's id is the PID). */
export interface ThreadShare {
  tid: number;
  main: boolean;
  share: number;
}

/** Threads of `pid` that used more than `min` of a core between two threadCpuSeconds samples, busiest first. */
export function threadShares(pid: number, before: Map<number, number>, after: Map<number, number>, seconds: number, min = 0.02): ThreadShare[] {
  return [...after]
    .map(([tid, c]) => ({ tid, main: tid === pid, share: (c - (before.get(tid) ?? 0)) / seconds }))
    .filter((t) => t.share > min)
    .sort((x, y) => y.share - x.share);
}
