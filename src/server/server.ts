/**
 * Assembles a jpipd server: the worker pool, the JPIP service and the uWebSockets.js front end.
 * Used by the CLI, the tests and the benchmarks (the in-process harness uses the service directly).
 */
import * as fs from 'node:fs';
import { WorkerPool, type PoolOptions } from '../pool/pool.js';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_HEAD_BYTES, startHttp, type HttpServer } from './http.js';
import { startSequencer, type Sequencer } from './sequencer.js';
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
  /**
   * Put the pipelining sequencer in front of uWebSockets.js (default true): needed by clients that
   * pipeline (JHelioviewer, Kakadu); false serves uWebSockets.js directly on the public port.
   */
  sequencer?: boolean;
  /** Idle client connections are closed after this long (ms), with the sequencer. */
  keepAliveMs?: number;
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
  const host = opts.host ?? '127.0.0.1';
  const useSequencer = opts.sequencer ?? true;
  const unixPath = useSequencer ? path.join(os.tmpdir(), `jpipd-${process.pid}-${randomBytes(6).toString('hex')}.sock`) : undefined;
  let http: HttpServer | undefined;
  let front: Sequencer | undefined;
  try {
    http = await startHttp(service, { host, port: opts.port ?? 0, unixPath, onLog: opts.log });
    if (unixPath) {
      front = await startSequencer({
        host,
        port: opts.port ?? 0,
        upstream: { path: unixPath },
        maxHeadBytes: MAX_HEAD_BYTES,
        maxBodyBytes: 1024 * 1024,
        idleMs: opts.keepAliveMs ?? 120_000,
        maxQueued: 16,
      });
    }
  } catch (e) {
    http?.close();
    service.close();
    await pool.close();
    throw e;
  }
  const h = http;
  return {
    port: front ? front.port : h.port,
    service,
    pool,
    async close() {
      await front?.close();
      h.close();
      if (unixPath) fs.rmSync(unixPath, { force: true });
      service.close();
      await pool.close();
    },
  };
}
