/**
 * Prometheus metrics at /metrics on the main port (docs/operations.md). Every front-end thread counts
 * its own requests in plain tallies (no shared counters, no label hashing on the hot path) and hands
 * them over as prom-client's metrics JSON; a scrape that lands on any front end asks the main thread,
 * which gathers every thread's JSON, adds its own gauges (index registry, pool, front ends) and merges
 * them with prom-client's AggregatorRegistry (counters and histograms summed; per-thread gauges keep a
 * `thread` label). prom-client itself (~12 MB once loaded) is imported on the first scrape only, so a
 * server nobody scrapes never carries it (idle memory, issue 6).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { onLevelsIndexed } from '../packet-index/timing.js';

/** Serialisable metrics of one thread (prom-client's getMetricsAsJSON form). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
type Metric = MetricsJson[number];
type Labels = Record<string, string | number>;

/** One metric in prom-client's JSON form. */
function metric(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: Array<{ labels: Labels; value: number; metricName?: string }>): Metric {
  return { name, help, type, values, aggregator: 'sum' } as unknown as Metric;
}

/** Request kinds for labels: JPP data, an error, or anything else. */
const KINDS = ['jpp', 'error', 'other'] as const;
const KIND_JPP = 0;
const KIND_ERROR = 1;
const KIND_OTHER = 2;

/**
 * A histogram kept as plain counts per label value and exported in prom-client's JSON form (cumulative
 * buckets, sum, count), which the main thread's AggregatorRegistry merges like any other histogram.
 * prom-client's own Histogram hashes its label object on every observe (1–2 µs); this adds to an array.
 */
class HistogramTally {
  private readonly counts: Float64Array[];
  private readonly sums: Float64Array;

  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly label: string,
    private readonly values: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    this.counts = values.map(() => new Float64Array(buckets.length + 1));
    this.sums = new Float64Array(values.length);
  }

  /** Adds `n` observations of `v` under label value number `k`. */
  observe(k: number, v: number, n = 1): void {
    let b = 0;
    while (b < this.buckets.length && v > this.buckets[b]) b++;
    this.counts[k][b] += n;
    this.sums[k] += v * n;
  }

  json(): Metric {
    const out: Array<{ labels: Labels; value: number; metricName: string }> = [];
    this.values.forEach((value, k) => {
      const counts = this.counts[k];
      let total = 0;
      for (let b = 0; b < counts.length; b++) total += counts[b];
      if (total === 0) return;
      let cumulative = 0;
      for (let b = 0; b < counts.length; b++) {
        cumulative += counts[b];
        const le = b < this.buckets.length ? this.buckets[b] : '+Inf';
        out.push({ labels: { le, [this.label]: value }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      out.push({ labels: { [this.label]: value }, value: this.sums[k], metricName: `${this.name}_sum` });
      out.push({ labels: { [this.label]: value }, value: total, metricName: `${this.name}_count` });
    });
    return metric(this.name, this.help, 'histogram', out);
  }
}

/** Where levels are indexed (label values of jpipd_index_level_seconds). */
const INDEXED_WHERE = ['inline', 'pool'] as const;
/** Pool task kinds (label values of jpipd_pool_task_seconds). */
const TASK_KINDS = ['open', 'index', 'warm'] as const;

/**
 * One front-end thread's metrics, fed from its request log entries and from the levels it (or, on
 * the main thread, the pool) indexes.
 *
 * The hot path only adds to plain numbers (a prom-client `inc`/`observe` hashes its labels on every
 * call: 1.1–2 µs a request, measured, against ~0.04 µs here); the tallies reach prom-client when a
 * scrape collects them.
 */
export class ThreadMetrics {
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  /** Requests by (status, transport, kind): key status·8 + ws·4 + kind. */
  private readonly requestTally = new Map<number, number>();
  private bytesTally = 0;
  private readonly errorTally = new Map<string, number>();
  private readonly duration = new HistogramTally(
    'jpipd_request_duration_seconds',
    'Request received to response written (or to its first piece for streamed bodies)',
    'kind',
    KINDS,
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  private readonly indexing = new HistogramTally(
    'jpipd_index_level_seconds',
    'Time to index one resolution level of a codestream (its packets located), by where it was built: inline on a front end or in the pool',
    'where',
    INDEXED_WHERE,
    [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  );

  private readonly poolTasks = new HistogramTally(
    'jpipd_pool_task_seconds',
    'Pool tasks from submission to result (queue wait included), by kind: open (a layout), index (resolution levels), warm (jpipd index)',
    'kind',
    TASK_KINDS,
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  );

  constructor(
    private readonly thread: number,
    private readonly sessions: () => { sessions: number; channels: number },
  ) {
    this.delay.enable();
    // Levels built on this thread, and (main thread) by the pool for every front end.
    onLevelsIndexed((levels, seconds, where) => this.indexing.observe(where === 'pool' ? 1 : 0, seconds / levels, levels));
  }

  /** Counts one finished pool task (the pool lives on the main thread: every front end's tasks count here). */
  poolTask(kind: (typeof TASK_KINDS)[number], seconds: number): void {
    this.poolTasks.observe(TASK_KINDS.indexOf(kind), seconds);
  }

  /** Counts one finished request from its log entry (http.ts writes one per request). */
  observe(e: Record<string, unknown>): void {
    const kind = typeof e.error === 'string' ? KIND_ERROR : e.eor !== undefined ? KIND_JPP : KIND_OTHER;
    const status = typeof e.status === 'number' && e.status >= 0 && e.status < 1000 ? e.status : 0;
    const key = status * 8 + (e.transport === 'ws' ? 4 : 0) + kind;
    this.requestTally.set(key, (this.requestTally.get(key) ?? 0) + 1);
    if (typeof e.bytes === 'number') this.bytesTally += e.bytes;
    if (typeof e.ms === 'number') this.duration.observe(kind, e.ms / 1000);
    if (kind === KIND_ERROR) this.errorTally.set(e.error as string, (this.errorTally.get(e.error as string) ?? 0) + 1);
  }

  /** Stops sampling the event loop (the server is closing). */
  close(): void {
    this.delay.disable();
    onLevelsIndexed(null);
  }

  /** This thread's metrics now (the event-loop delay restarts from here). */
  json(): MetricsJson {
    const thread = String(this.thread);
    const requests = [...this.requestTally].map(([k, n]) => ({ labels: { transport: k & 4 ? 'ws' : 'http', status: String(k >> 3), kind: KINDS[k & 3] }, value: n }));
    const errors = [...this.errorTally].map(([code, n]) => ({ labels: { code }, value: n }));
    const delay = this.delay.count > 0 ? this.delay.percentile(99) / 1e9 : 0;
    this.delay.reset();
    const open = this.sessions();
    return [
      metric('jpipd_requests_total', 'JPIP requests answered, by transport (http, ws), status and kind (jpp, error, other)', 'counter', requests),
      metric('jpipd_response_bytes_total', 'JPP-stream body bytes of the responses', 'counter', [{ labels: {}, value: this.bytesTally }]),
      metric('jpipd_errors_total', 'Error responses by stable error code (docs/errors.md)', 'counter', errors),
      metric('jpipd_sessions', 'Open JPIP sessions, per front-end thread', 'gauge', [{ labels: { thread }, value: open.sessions }]),
      metric('jpipd_channels', 'Open JPIP channels (a session may have several), per front-end thread', 'gauge', [{ labels: { thread }, value: open.channels }]),
      metric('jpipd_event_loop_delay_seconds', 'Event-loop delay of each front-end thread since the previous scrape (p99)', 'gauge', [{ labels: { thread }, value: delay }]),
      this.duration.json(),
      this.indexing.json(),
      this.poolTasks.json(),
    ];
  }
}

/** What the main thread alone knows: the shared index registry, the pool and the front ends. */
export interface ServerFigures {
  indexBytes: number;
  images: number;
  poolQueue: number;
  poolCompleted: number;
  poolThreads: number;
  fronts: number;
}

/** The main thread's gauges now. */
export function serverGauges(s: ServerFigures): MetricsJson {
  const g = (name: string, help: string, value: number): Metric => metric(name, help, 'gauge', [{ labels: {}, value }]);
  return [
    g('jpipd_index_bytes', 'Bytes of the shared packet indexes', s.indexBytes),
    g('jpipd_index_images', 'Codestream indexes held by the registry', s.images),
    g('jpipd_pool_queue_depth', 'Pool tasks waiting for a thread', s.poolQueue),
    g('jpipd_pool_tasks_completed', 'Pool tasks completed since start', s.poolCompleted),
    g('jpipd_pool_threads', 'Pool threads running', s.poolThreads),
    g('jpipd_front_ends_accepting', 'Front-end threads accepting connections', s.fronts),
  ];
}

/** Merges the threads' metrics into the Prometheus text format (prom-client loaded on first use). */
export async function mergeMetrics(parts: MetricsJson[]): Promise<string> {
  const { AggregatorRegistry } = await import('prom-client');
  return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
}
