/**
 * The worker pool (Piscina). Tasks are pure functions of their message plus shared memory, so a
 * task whose worker died (exit, out of memory, unexpected throw) is simply run again on a fresh
 * worker; the client never sees it. Deterministic failures come back as `{ ok: false, error }`.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { JpipdError } from '../errors.js';
import type { FaultPlan } from './faults.js';
import type { OpenResult, OpenTask, ServeTask, ServeTaskResult } from './messages.js';

/** Pool options. */
export interface PoolOptions {
  threads?: number;
  /** Heap limit of each worker (MiB); a worker over it is replaced and its task re-run. */
  maxOldGenerationSizeMb?: number;
  /** Test-only fault injection (never reachable from a request). */
  faults?: FaultPlan;
  /** Times a task is re-run after its worker failed. */
  retries?: number;
  /** Tasks waiting for a worker beyond which new ones are refused with ERR_BUSY. */
  maxQueue?: number;
}

/** Default bound on tasks waiting for a worker. */
export const DEFAULT_MAX_QUEUE = 4096;

/** Pool counters. */
export interface PoolStats {
  threads: number;
  completed: number;
  retried: number;
  queued: number;
}

/** The worker file next to this module (.ts under tsx in tests, .js when built). */
function workerFile(): string {
  const here = new URL(import.meta.url);
  const ext = here.pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./worker${ext}`, here).href;
}

/** A Piscina pool running open and serve tasks. */
export class WorkerPool {
  private readonly piscina: Piscina;
  readonly threads: number;
  private readonly retries: number;
  private retried = 0;
  private readonly maxQueue: number;

  constructor(opts: PoolOptions = {}) {
    this.threads = Math.max(1, opts.threads ?? Math.max(2, availableParallelism()));
    this.retries = opts.retries ?? 2;
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.piscina = new Piscina({
      filename: workerFile(),
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
      workerData: { faults: opts.faults },
      maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE,
      resourceLimits: opts.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: opts.maxOldGenerationSizeMb } : undefined,
    });
  }

  private async runWithRetry<T>(task: OpenTask | ServeTask): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.piscina.queueSize >= this.maxQueue) throw new JpipdError('ERR_BUSY', 'the server is busy; try again');
      try {
        return (await this.piscina.run(task)) as T;
      } catch (e) {
        if (attempt >= this.retries) throw e;
        this.retried++;
      }
    }
  }

  /** Opens (indexes) an image in a worker. */
  open(task: OpenTask): Promise<OpenResult> {
    return this.runWithRetry<OpenResult>(task);
  }

  /** Produces one response in a worker. */
  serve(task: ServeTask): Promise<ServeTaskResult> {
    return this.runWithRetry<ServeTaskResult>(task);
  }

  /** Counters for logs and benchmarks. */
  stats(): PoolStats {
    return { threads: this.threads, completed: this.piscina.completed, retried: this.retried, queued: this.piscina.queueSize };
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
