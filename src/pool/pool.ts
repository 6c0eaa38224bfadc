/**
 * The worker pool (Piscina) for the heavy work front ends hand over: loading large layouts and
 * indexing resolution levels with many PLT bytes. Tasks are pure functions of their message plus the
 * file and shared memory, so a task whose worker died (exit, out of memory, unexpected throw) is
 * simply run again on a fresh worker; the client never sees it. Deterministic failures come back as
 * `{ ok: false, error }`. Threads start on first use and end after an idle minute, so an idle server
 * has none.
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { JpipdError } from '../errors.js';
import { levelsIndexed } from '../packet-index/timing.js';
import { afterWorkerStart } from './heap-hold.js';
import type { FaultPlan } from './faults.js';
import type { IndexResult, IndexTask, OpenResult, OpenTask, Task, WarmResult, WarmTask } from './messages.js';

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
  /**
   * Called with the threadId of every pool thread that ends (crash, exit, idle timeout), so locks it
   * may have died holding can be recovered (packet-index/registry.ts recoverThread).
   */
  onThreadGone?: (threadId: number) => void;
}

/** Default bound on tasks waiting for a worker. */
export const DEFAULT_MAX_QUEUE = 4096;

/** A pool thread idle this long exits (it is started again on demand). */
export const POOL_IDLE_MS = 10_000;

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

/** Told each finished task's kind and time, queue wait included (metrics). */
export type TaskListener = (kind: Task['kind'], seconds: number) => void;

/** A Piscina pool running open and serve tasks. */
export class WorkerPool {
  /** Told of every finished task (the owning thread's metrics). */
  onTask: TaskListener | null = null;
  private piscina: Promise<Piscina> | null = null;
  private live: Piscina | null = null;
  readonly threads: number;
  private readonly retries: number;
  private retried = 0;
  private readonly maxQueue: number;

  constructor(private readonly opts: PoolOptions = {}) {
    this.threads = Math.max(1, opts.threads ?? Math.max(1, Math.floor(availableParallelism() / 2)));
    this.retries = opts.retries ?? 2;
    this.maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  }

  /** The Piscina instance, made (and its module loaded) on first use: an idle server has no pool threads. */
  private get pool(): Promise<Piscina> {
    this.piscina ??= import('piscina').then(
      ({ Piscina }) =>
        (this.live = new Piscina({
          filename: workerFile(),
          minThreads: 0,
          maxThreads: this.threads,
          // Pool threads exist for bursts of opening and indexing; an idle one gives its heap back soon.
          idleTimeout: POOL_IDLE_MS,
          workerData: { faults: this.opts.faults },
          maxQueue: this.maxQueue,
          resourceLimits: this.opts.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb } : undefined,
        }).on('workerCreate', () => {
          afterWorkerStart();
          this.watchThreads();
        })),
    );
    return this.piscina;
  }

  private async runWithRetry<T>(task: OpenTask | IndexTask | WarmTask): Promise<T> {
    const piscina = await this.pool;
    for (let attempt = 0; ; attempt++) {
      if (piscina.queueSize >= this.maxQueue) throw new JpipdError('ERR_BUSY', 'the server is busy; try again');
      const t0 = performance.now();
      try {
        const r = (await piscina.run(task)) as T;
        this.onTask?.(task.kind, (performance.now() - t0) / 1000);
        return r;
      } catch (e) {
        if (attempt >= this.retries) throw e;
        this.retried++;
      }
    }
  }

  private readonly watched = new WeakSet<object>();

  /**
   * Tells onThreadGone when each pool thread exits, with the threadId it had (Piscina's own
   * workerDestroy event comes after the thread is gone and its id reads -1).
   */
  private watchThreads(): void {
    const gone = this.opts.onThreadGone;
    if (!gone || !this.live) return;
    for (const w of this.live.threads) {
      if (this.watched.has(w)) continue;
      this.watched.add(w);
      const id = w.threadId;
      w.once('exit', () => gone(id));
    }
  }

  /** Loads a target's layout in a worker. */
  open(task: OpenTask): Promise<OpenResult> {
    return this.runWithRetry<OpenResult>(task);
  }

  /** Warms one target's cache files (layout, learnt packet lengths) in a worker (`jpipd index`). */
  warm(task: WarmTask): Promise<WarmResult> {
    return this.runWithRetry<WarmResult>(task);
  }

  /** Indexes resolution levels of one codestream in a worker. */
  async index(task: IndexTask): Promise<IndexResult> {
    const r = await this.runWithRetry<IndexResult>(task);
    // The worker's indexing time counts on this (the pool's owner's) thread.
    if (r.ok && r.timing) for (const [levels, seconds] of r.timing) levelsIndexed(levels, seconds, 'pool');
    return r;
  }

  /** Counters for logs and benchmarks (tasks completed, re-run, waiting). */
  stats(): PoolStats {
    return { threads: this.threads, completed: this.live?.completed ?? 0, retried: this.retried, queued: this.live?.queueSize ?? 0 };
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    if (this.piscina) await (await this.piscina).destroy();
  }
}
