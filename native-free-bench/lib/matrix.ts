/**
 * The alternating comparison: one load scenario against several running servers, run by run in
 * alternating order (A B, B A, …) after an unmeasured warm-up per server, summarised as median and
 * (min–max) over the runs. Used by matrix.ts (one scenario, servers started by hand) and bench.ts
 * (the whole comparison).
 */
import { runLoad, summaryLine, type LoadOptions, type LoadResult } from '../loadgen.js';
import { threadCpuSeconds, threadShares, type ThreadShare } from './proc.js';
import { spread } from './stats.js';

/** A run's result with the server process's busy threads (jpipd: which front ends did the work). */
export type MatrixResult = LoadResult & { threads?: ThreadShare[] };

/** A server under test: its name, base URL and PID (sampled for RSS and CPU). */
export interface ServerRef {
  name: string;
  url: string;
  pid: number | undefined;
}

export interface MatrixOptions {
  /** Load options without the URL (every server gets the same). */
  load: Omit<LoadOptions, 'url' | 'pid'>;
  runs: number;
  warmupS: number;
  /** Called with a one-line summary after every run. */
  progress?: (line: string) => void;
}

/** Runs the alternating comparison; results per server name, in run order. */
export async function runMatrix(servers: ServerRef[], o: MatrixOptions): Promise<Map<string, MatrixResult[]>> {
  const results = new Map<string, MatrixResult[]>(servers.map((s) => [s.name, []]));
  for (const s of servers) await runLoad({ ...o.load, url: s.url, durationS: o.warmupS, requests: undefined, pid: undefined, seed: 999 });
  for (let run = 0; run < o.runs; run++) {
    const order = run % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      // Per-thread CPU from /proc, outside the server: which of its threads served this run (a
      // connection stays on the front end that accepted it, so a run may use fewer than are up).
      const before = s.pid ? threadCpuSeconds(s.pid) : null;
      const t0 = performance.now();
      const r: MatrixResult = await runLoad({ ...o.load, url: s.url, pid: s.pid, seed: (o.load.seed ?? 1) + run });
      if (s.pid && before) r.threads = threadShares(s.pid, before, threadCpuSeconds(s.pid), (performance.now() - t0) / 1000, 0.25);
      results.get(s.name)?.push(r);
      o.progress?.(summaryLine(`[run ${run + 1}] ${s.name}`, r));
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
  return results;
}

/** CPU seconds of the server per 1000 responses in one run. */
export const cpuPer1000 = (r: LoadResult): number => ((r.server?.cpuSeconds ?? Number.NaN) * 1000) / Math.max(1, r.responses);

/** The table rows of a comparison: label and the cell of one server. */
export const MATRIX_ROWS: Array<[string, (rs: MatrixResult[]) => string]> = [
  ['responses/s', (rs) => spread(rs.map((r) => r.responsesPerS))],
  ['MB/s', (rs) => spread(rs.map((r) => r.mbPerS), 2)],
  ['windows/s', (rs) => spread(rs.map((r) => r.windows / r.elapsedS))],
  ['latency p50 ms', (rs) => spread(rs.map((r) => r.latencyMs.p50), 2)],
  ['latency p95 ms', (rs) => spread(rs.map((r) => r.latencyMs.p95), 2)],
  ['latency p99 ms', (rs) => spread(rs.map((r) => r.latencyMs.p99), 2)],
  ['server RSS peak MiB', (rs) => spread(rs.map((r) => r.server?.rssPeakMiB ?? Number.NaN))],
  ['server RSS mean MiB', (rs) => spread(rs.map((r) => r.server?.rssMeanMiB ?? Number.NaN))],
  ['server CPU s per 1000 responses', (rs) => spread(rs.map(cpuPer1000), 3)],
  ['load generator CPU s', (rs) => spread(rs.map((r) => r.loadgenCpuS), 2)],
  ['errors (sum over runs)', (rs) => String(rs.reduce((s, r) => s + r.errors, 0))],
  ['threads over 25 % of a core, per run', (rs) => rs.map((r) => String(r.threads?.length ?? '-')).join(' / ')],
];

/** A markdown table of a comparison (servers as columns). */
export function matrixTable(servers: ServerRef[], results: Map<string, MatrixResult[]>): string {
  return [
    `| metric | ${servers.map((s) => s.name).join(' | ')} |`,
    `|---|${servers.map(() => '---').join('|')}|`,
    ...MATRIX_ROWS.map(([label, f]) => `| ${label} | ${servers.map((s) => f(results.get(s.name) ?? [])).join(' | ')} |`),
  ].join('\n');
}
