/**
 * Assembles a jpipd server: the process-wide index registry, the worker pool for heavy work, and the
 * front ends — the main thread's, plus worker-thread front ends started as load rises (server/
 * front-ends.ts). Used by the CLI, the tests and the benchmarks; `createHarness` gives the JPIP
 * service alone, in-process, for embedding and benchmarking without sockets.
 */
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import type { LoadBudget } from '../io/targets.js';
import { arenaIn, sharedMemory, type SharedMemory } from '../jpip/arena.js';
import { DEFAULT_SESSION_LIMITS } from '../jpip/sessions.js';
import { privateCacheDir } from '../io/index-cache.js';
import { IndexRegistry } from '../packet-index/registry.js';
import { WorkerPool, type PoolOptions } from '../pool/pool.js';
import { FrontEnds } from './front-ends.js';
import { mergeMetrics, serverGauges, ThreadMetrics, type MetricsJson } from './metrics.js';
import { startFrontEnd, type FrontEnd } from './front-end.js';
import { MAX_HEAD_BYTES } from './http.js';
import type { Sequencer } from './sequencer.js';
import type { TlsFiles } from './front-end.js';
import { JpipService } from './service.js';

/** Server options. */
export interface ServerOptions {
  root: string;
  host?: string;
  port?: number;
  /** Front-end threads at most (the main thread's included); default: the number of cores. */
  threads?: number;
  /** Front-end threads started at once (the rest start when the running ones are busy); default 1. */
  minThreads?: number;
  /** Idle cores the machine needs before another front end starts (default AUTOSCALE_FREE_CORES, 0.4; 0: busy-ness only). */
  autoscaleFreeCores?: number;
  /**
   * Whether a front end may be paused under load (default: when the kernel migrates queued
   * connections of a closed listening socket, net.ipv4.tcp_migrate_req=1; see server/autoscale.ts).
   */
  autoscalePauseUnderLoad?: boolean;
  /** List the images under the root at /viewer/images.json for the browser viewer (default true). */
  listing?: boolean;
  /** Node name behind a reverse proxy (ServiceOptions.node): prefixes channel ids, names channel paths. */
  node?: string;
  /**
   * Take the client's address from the last `X-Forwarded-For` entry (set by a trusted reverse proxy)
   * for the per-client session limit; otherwise every client behind the proxy would share one.
   */
  trustProxy?: boolean;
  /** Worker pool threads for heavy work (started on demand). */
  poolThreads?: number;
  /** Size of the block cache of file bytes shared by the front ends (bytes; default 8 MiB). */
  readCacheBytes?: number;
  cacheDir?: string | null;
  indexBudgetBytes?: number;
  sessionIdleMs?: number;
  /** Session table limits besides the idle time (defaults: DEFAULT_SESSION_LIMITS). */
  sessionLimits?: Partial<typeof DEFAULT_SESSION_LIMITS>;
  maxResponseBytes?: number;
  faults?: PoolOptions['faults'];
  /**
   * Keep idle client connections open this long (ms). uWebSockets.js closes idle HTTP connections
   * after 10 s; a longer time puts the keep-alive relay (server/sequencer.ts) in front, on one thread.
   */
  keepAliveMs?: number;
  /** HTTPS/WSS: PEM certificate and key files (uWebSockets.js SSLApp on every front end). */
  tls?: TlsFiles;
  /** Heap limit of each pool thread in MiB (a worker over it is replaced and its task re-run). */
  workerHeapMb?: number;
  /**
   * Young-generation limit of each worker front end in MiB (default 12: 4 MiB semi-spaces). V8's
   * default lets a busy thread's young generation grow to 48 MiB of mostly empty space (ADR 0003).
   */
  frontYoungGenerationMb?: number;
  /** Bounds on what a front end opens and indexes itself (tests force the pool with zeros). */
  inlineBudget?: LoadBudget;
  inlineIndexBytes?: number;
  log?: (entry: Record<string, unknown>) => void;
}

/** uWebSockets.js' own idle close of HTTP connections (a compile-time constant of the library). */
export const UWS_IDLE_MS = 10_000;

/** A running server. */
export interface RunningServer {
  port: number;
  /** The main thread's JPIP service. */
  service: JpipService;
  pool: WorkerPool;
  registry: IndexRegistry;
  /** The front-end threads. */
  fronts: FrontEnds;
  /**
   * Stops the server: every front end stops accepting connections at once, the exchanges in flight
   * finish (for up to `graceMs`, default 0), then connections, threads and the pool are closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** An in-process JPIP engine without sockets (benchmark harnesses, embedding): call `service.handle()`. */
export interface Harness {
  service: JpipService;
  pool: WorkerPool;
  registry: IndexRegistry;
  /** The block cache shared by the front ends. */
  memory: SharedMemory;
  /** Front-end threads at most (arenas in `memory`). */
  threads: number;
  close(): Promise<void>;
}

/** The service settings every front end of a server shares. */
export function serviceSettings(opts: ServerOptions): { root: string; cacheDir: string | null } & Pick<ServerOptions, 'maxResponseBytes' | 'inlineBudget' | 'inlineIndexBytes' | 'node' | 'trustProxy'> & {
  sessionLimits: typeof DEFAULT_SESSION_LIMITS;
} {
  return {
    root: fs.realpathSync(opts.root),
    // Only a private folder is used (index-cache.ts): cache files are trusted no further than it.
    cacheDir: opts.cacheDir ? privateCacheDir(opts.cacheDir) : null,
    maxResponseBytes: opts.maxResponseBytes,
    inlineBudget: opts.inlineBudget,
    inlineIndexBytes: opts.inlineIndexBytes,
    node: opts.node,
    trustProxy: opts.trustProxy,
    sessionLimits: { ...DEFAULT_SESSION_LIMITS, ...opts.sessionLimits, idleMs: opts.sessionIdleMs ?? DEFAULT_SESSION_LIMITS.idleMs },
  };
}

/** Creates the registry, the pool and the main thread's service, without a front end. */
export function createHarness(opts: ServerOptions): Harness {
  const settings = serviceSettings(opts);
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const memory = sharedMemory(opts.readCacheBytes);
  const registry = new IndexRegistry(opts.indexBudgetBytes);
  // A pool thread that died holding an index write lock must not leave it held (index-layout.md).
  const pool = new WorkerPool({ threads: opts.poolThreads, faults: opts.faults, maxOldGenerationSizeMb: opts.workerHeapMb ?? 1024, onThreadGone: (t) => registry.recoverThread(t) });
  const service = new JpipService({ ...settings, pool, tables: registry, frontEnd: 0, arena: arenaIn(memory) });
  registry.onEvict = (key) => service.streams.dropVersion(key);
  return {
    service,
    pool,
    registry,
    memory,
    threads,
    async close() {
      service.close();
      await pool.close();
    },
  };
}

/** A port free on `host` now (for "any port": listeners that share a port need its number). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = process.getBuiltinModule('node:net').createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a server on host:port (port 0 = any free port). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const h = createHarness(opts);
  const host = opts.host ?? '127.0.0.1';
  const relay = (opts.keepAliveMs ?? UWS_IDLE_MS) > UWS_IDLE_MS;
  // The keep-alive relay speaks plain TCP to clients: TLS is terminated by uWebSockets.js only.
  if (relay && opts.tls) throw new Error('--keep-alive-s above 10 cannot be combined with TLS (--cert/--key)');
  const unixPath = relay ? path.join(os.tmpdir(), `jpipd-${process.pid}-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}.sock`) : undefined;
  const thread = new ThreadMetrics(0, () => ({ sessions: h.service.sessions.size, channels: h.service.sessions.channelCount }));
  h.pool.onTask = (kind, seconds) => thread.poolTask(kind, seconds);
  let front: FrontEnd | undefined;
  let sequencer: Sequencer | undefined;
  let fronts: FrontEnds | undefined;
  try {
    // Every front end listens on the same port (SO_REUSEPORT), which must be a fixed number: an
    // ephemeral port chosen by the kernel for one listener is not shared. Port 0 picks one first.
    const wanted = relay || opts.port ? (opts.port ?? 0) : await freePort(host);
    const viewer = { root: fs.realpathSync(opts.root), listing: opts.listing !== false };
    // Metrics: the main thread's counters, the gauges only it knows, and every worker front end's.
    const figures = (): MetricsJson => {
      const r = h.registry.stats();
      const p = h.pool.stats();
      return serverGauges({ indexBytes: r.indexBytes, images: r.images, poolQueue: p.queued, poolCompleted: p.completed, poolThreads: p.threads, fronts: fronts?.count ?? 1 });
    };
    const scrape = async (): Promise<string> => mergeMetrics([thread.json(), figures(), ...((await fronts?.metricsJson()) ?? [])]);
    front = await startFrontEnd(h.service, { host, port: relay ? 0 : wanted, unixPath, log: opts.log, tls: opts.tls, viewer, metrics: { thread, scrape }, trustProxy: opts.trustProxy });
    const port = relay ? 0 : front.port;
    // Behind the relay there is one front end: the relay owns the port and is one thread anyway.
    fronts = new FrontEnds(relay ? { ...opts, threads: 1 } : opts, h, { host, port, unixPath, tls: opts.tls }, front);
    fronts.scrape = scrape;
    if (unixPath) {
      const { startSequencer } = await import('./sequencer.js');
      sequencer = await startSequencer({
        host,
        port: wanted,
        upstream: { path: unixPath },
        maxHeadBytes: MAX_HEAD_BYTES,
        maxBodyBytes: 1024 * 1024,
        idleMs: opts.keepAliveMs as number,
        maxQueued: 16,
      });
    }
    await fronts.start(opts.minThreads ?? 1);
  } catch (e) {
    thread.close();
    front?.close();
    await fronts?.close();
    await sequencer?.close();
    await h.close();
    throw e;
  }
  const f = front;
  const all = fronts;
  return {
    port: sequencer ? sequencer.port : f.port,
    service: h.service,
    pool: h.pool,
    registry: h.registry,
    fronts: all,
    async close(graceMs = 0) {
      await sequencer?.close();
      // Every front end stops accepting at once and drains its exchanges in flight (up to graceMs).
      await Promise.all([f.drain(graceMs), all.close(graceMs)]);
      thread.close();
      if (unixPath) fs.rmSync(unixPath, { force: true });
      await h.close();
    },
  };
}
