/**
 * Assembles a jpipd server: the worker pool, the JPIP service and the uWebSockets.js front end.
 * Used by the CLI, the tests and the benchmarks (the in-process harness uses the service directly).
 */
import * as fs from 'node:fs';
import { WorkerPool, type PoolOptions } from '../pool/pool.js';
import { startHttp } from './http.js';
import { JpipService } from './service.js';
import { DEFAULT_SESSION_LIMITS } from '../jpip/sessions.js';

/** Server options. */
export interface ServerOptions {
  root: string;
  host?: string;
  port?: number;
  threads?: number;
  cacheDir?: string | null;
  indexBudgetBytes?: number;
  sessionIdleMs?: number;
  maxResponseBytes?: number;
  faults?: PoolOptions['faults'];
  /** Heap limit of each worker thread in MiB (a worker over it is replaced and its task re-run). */
  workerHeapMb?: number;
  log?: (entry: Record<string, unknown>) => void;
}

/** A running server. */
export interface RunningServer {
  port: number;
  service: JpipService;
  pool: WorkerPool;
  close(): Promise<void>;
}

/** An in-process JPIP engine without sockets (benchmark harnesses, embedding): call `service.handle()`. */
export interface Harness {
  service: JpipService;
  pool: WorkerPool;
  close(): Promise<void>;
}

/** Creates the service and its worker pool without a front end. */
export function createHarness(opts: ServerOptions): Harness {
  const root = fs.realpathSync(opts.root);
  const pool = new WorkerPool({ threads: opts.threads, faults: opts.faults, maxOldGenerationSizeMb: opts.workerHeapMb ?? 1024 });
  const service = new JpipService({
    root,
    cacheDir: opts.cacheDir === undefined ? null : opts.cacheDir,
    pool,
    indexBudgetBytes: opts.indexBudgetBytes,
    maxResponseBytes: opts.maxResponseBytes,
    sessionLimits: { ...DEFAULT_SESSION_LIMITS, idleMs: opts.sessionIdleMs ?? DEFAULT_SESSION_LIMITS.idleMs },
  });
  return {
    service,
    pool,
    async close() {
      service.close();
      await pool.close();
    },
  };
}

/** Starts a server on host:port (port 0 = any free port). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { service, pool } = createHarness(opts);
  let http;
  try {
    http = await startHttp(service, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, onLog: opts.log });
  } catch (e) {
    service.close();
    await pool.close();
    throw e;
  }
  return {
    port: http.port,
    service,
    pool,
    async close() {
      http.close();
      service.close();
      await pool.close();
    },
  };
}
