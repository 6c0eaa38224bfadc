/**
 * Prometheus metrics (prom-client) at /metrics on the main port (docs/operations.md). Every front-end
 * thread counts its own requests in its own registry (no shared counters on the hot path); a scrape
 * that lands on any front end asks the main thread, which gathers every thread's metrics as JSON,
 * adds its own (index registry, pool, front ends) and merges them with prom-client's
 * AggregatorRegistry (counters and histograms summed; per-thread gauges keep a `thread` label).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** Serialisable metrics of one thread (prom-client's getMetricsAsJSON). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** What kind of request a log entry was, for labels: JPP data, an error, or anything else. */
function kindOf(e: Record<string, unknown>): string {
  if (typeof e.error === 'string') return 'error';
  if (e.eor !== undefined) return 'jpp';
  return 'other';
}

/** One front-end thread's metrics, fed from its request log entries. */
export class ThreadMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'transport' | 'status' | 'kind'>;
  private readonly bytes: Counter;
  private readonly duration: Histogram<'kind'>;
  private readonly errors: Counter<'code'>;
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });

  constructor(thread: number, sessions: () => number) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'jpipd_requests_total', help: 'JPIP requests answered, by transport (http, ws), status and kind (jpp, error, other)', labelNames: ['transport', 'status', 'kind'], registers });
    this.bytes = new Counter({ name: 'jpipd_response_bytes_total', help: 'JPP-stream body bytes of the responses', registers });
    this.duration = new Histogram({
      name: 'jpipd_request_duration_seconds',
      help: 'Request received to response written (or to its first piece for streamed bodies)',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new Counter({ name: 'jpipd_errors_total', help: 'Error responses by stable error code (docs/errors.md)', labelNames: ['code'], registers });
    new Gauge({
      name: 'jpipd_sessions',
      help: 'Open JPIP sessions, per front-end thread',
      labelNames: ['thread'],
      registers,
      collect() {
        this.set({ thread: String(thread) }, sessions());
      },
    });
    const delay = this.delay;
    delay.enable();
    new Gauge({
      name: 'jpipd_event_loop_delay_seconds',
      help: 'Event-loop delay of each front-end thread since the previous scrape (p99)',
      labelNames: ['thread'],
      registers,
      collect() {
        this.set({ thread: String(thread) }, delay.percentile(99) / 1e9);
        delay.reset();
      },
    });
  }

  /** Counts one finished request from its log entry (http.ts writes one per request). */
  observe(e: Record<string, unknown>): void {
    const kind = kindOf(e);
    this.requests.inc({ transport: e.transport === 'ws' ? 'ws' : 'http', status: String(e.status ?? 0), kind });
    if (typeof e.bytes === 'number') this.bytes.inc(e.bytes);
    if (typeof e.ms === 'number') this.duration.observe({ kind }, e.ms / 1000);
    if (kind === 'error') this.errors.inc({ code: e.error as string });
  }

  /** Stops sampling the event loop (the server is closing). */
  close(): void {
    this.delay.disable();
  }

  json(): Promise<MetricsJson> {
    return this.registry.getMetricsAsJSON() as Promise<MetricsJson>;
  }
}

/** Gauges only the main thread knows: the shared index registry, the pool and the front ends. */
export function serverGauges(read: () => { indexBytes: number; images: number; poolQueue: number; poolCompleted: number; poolThreads: number; fronts: number }): Registry {
  const registry = new Registry();
  const registers = [registry];
  const g = (name: string, help: string, pick: (s: ReturnType<typeof read>) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(pick(read()));
      },
    });
  };
  g('jpipd_index_bytes', 'Bytes of the shared packet indexes', (s) => s.indexBytes);
  g('jpipd_index_images', 'Codestream indexes held by the registry', (s) => s.images);
  g('jpipd_pool_queue_depth', 'Pool tasks waiting for a thread', (s) => s.poolQueue);
  g('jpipd_pool_tasks_completed', 'Pool tasks completed since start', (s) => s.poolCompleted);
  g('jpipd_pool_threads', 'Pool threads running', (s) => s.poolThreads);
  g('jpipd_front_ends_accepting', 'Front-end threads accepting connections', (s) => s.fronts);
  return registry;
}

/** Merges the threads' metrics into the Prometheus text format. */
export async function mergeMetrics(parts: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
}
