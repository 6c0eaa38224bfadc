/**
 * The front-end threads of a server, managed by the main thread (itself front end 0). Every front
 * end runs its own uWebSockets.js app on the same port — the kernel spreads new connections among
 * the listeners — and serves its connections start to finish, so throughput grows with threads
 * instead of stopping at one. How many accept connections is autoscale.ts's policy: one more when
 * the running ones are busy and a core is free, kept only if the response rate rose, paused again
 * when it did not or when the server is idle, up to `threads`. The main thread
 * links each new front end to the registry and pool (thread-links.ts) and to every other front end
 * (forward.ts), relays their logs, and stops them on close.
 */
import { cpus } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Forwarder } from './forward.js';
import type { TlsFiles } from './front-end.js';
import type { SharedMemory } from '../jpip/arena.js';
import { hostLinks } from './thread-links.js';
import { afterWorkerStart } from '../pool/heap-hold.js';
import { serviceSettings, type Harness, type ServerOptions } from './server.js';
import type { FrontEnd } from './front-end.js';
import { AUTOSCALE_PERIOD_MS, ScalePolicy } from './autoscale.js';
import { reuseportMigration } from '../io/kernel.js';
import type { MetricsJson } from './metrics.js';

/** Idle and total CPU time of the machine so far (ms, summed over cores). */
function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.idle + c.times.user + c.times.sys + c.times.nice + c.times.irq;
  }
  return { idle, total };
}

/** Default young-generation limit of a worker front end (MiB; 4 MiB semi-spaces). */
export const DEFAULT_FRONT_YOUNG_MB = 12;

/** What a worker front end starts with. */
export interface FrontWorkerData {
  index: number;
  settings: ReturnType<typeof serviceSettings>;
  host: string;
  port: number;
  unixPath?: string;
  tls?: TlsFiles;
  rpc: MessagePort;
  word: SharedArrayBuffer;
  /** The block cache shared by every front end. */
  memory: SharedMemory;
  pool: MessagePort;
  peers: Array<[number, MessagePort]>;
  /** Send log entries to the main thread. */
  log: boolean;
  /** List the root's images for the viewer. */
  listing: boolean;
}

/** Messages from the main thread to a front end. */
export type ToFront =
  | { op: 'peer'; index: number; port: MessagePort }
  | { op: 'evict'; key: string }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'metrics-json'; id: number }
  | { op: 'scraped'; id: number; text: string | null }
  | { op: 'stop'; graceMs?: number };
/** Messages from a front end to the main thread. */
type FromFront =
  | { op: 'ready' }
  | { op: 'stopped' }
  | { op: 'paused' }
  | { op: 'resumed' }
  | { op: 'metrics-json'; id: number; json: MetricsJson }
  | { op: 'scrape'; id: number } | { op: 'log'; entries: Array<Record<string, unknown>> } | { op: 'elu'; value: number; served: number };

interface Front {
  index: number;
  worker: Worker;
  /** Event-loop utilisation over its last report. */
  elu: number;
  /** Responses reported since the autoscaler last looked. */
  served: number;
  /** Not accepting connections (autoscale.ts). */
  paused: boolean;
  /** Called when the front end confirms a pause or resume. */
  acks: Array<() => void>;
}

let nextId = 1;

/**
 * Starts the front-end worker file next to this module: front-worker.js when built; under tsx (the
 * tests) the .ts file, loaded with tsx's require hook (its ESM loader hooks do not reach a worker's
 * entry module in Node 20).
 */
function startWorker(data: FrontWorkerData, transferList: MessagePort[], youngMb: number): Worker {
  const here = new URL(import.meta.url);
  const resourceLimits = { maxYoungGenerationSizeMb: youngMb };
  if (!here.pathname.endsWith('.ts')) return new Worker(new URL('./front-worker.js', here), { workerData: data, transferList, resourceLimits });
  const tsx = createRequire(import.meta.url).resolve('tsx/cjs');
  const file = fileURLToPath(new URL('./front-worker.ts', here));
  return new Worker(`require(${JSON.stringify(file)})`, { eval: true, workerData: data, transferList, resourceLimits, execArgv: ['--require', tsx] });
}

/** The server's front-end threads besides the main thread. */
export class FrontEnds {
  /** The main thread's links to the other front ends. */
  readonly forwarder = new Forwarder();
  private readonly fronts: Front[] = [];
  private readonly max: number;
  private timer: NodeJS.Timeout | null = null;
  private mainElu = performance.eventLoopUtilization();
  private cpu0 = cpuTimes();
  private mainServed = 0;
  private readonly policy: ScalePolicy;
  private min: number;
  private starting: Promise<void> | null = null;
  /** Metrics requests sent to worker front ends, by id. */
  private readonly metricWaits = new Map<number, (json: MetricsJson) => void>();
  /** The whole server's scrape (server.ts sets it); worker front ends ask for it. */
  scrape: (() => Promise<string>) | null = null;
  private closed = false;

  constructor(
    private readonly opts: ServerOptions,
    private readonly h: Harness,
    private readonly listen: { host: string; port: number; unixPath?: string; tls?: TlsFiles },
    private readonly main: Pick<FrontEnd, 'served'>,
  ) {
    this.max = opts.threads !== undefined ? Math.min(opts.threads, h.threads) : h.threads;
    this.min = 1;
    this.policy = new ScalePolicy(opts.autoscaleFreeCores, opts.autoscalePauseUnderLoad ?? reuseportMigration() === true);
    this.forwarder.serve(h.service);
    h.service.forwardTo((n, inc) => this.forwarder.forward(n, inc));
    const evict = h.registry.onEvict;
    h.registry.onEvict = (key) => {
      evict(key);
      for (const f of this.fronts) f.worker.postMessage({ op: 'evict', key } satisfies ToFront);
    };
  }

  /** Front ends accepting connections, the main thread's included. */
  get count(): number {
    return 1 + this.fronts.filter((f) => !f.paused).length;
  }

  /** Front-end threads running (accepting or paused), the main thread's included. */
  get threads(): number {
    return 1 + this.fronts.length;
  }

  /** Starts front ends up to `n` (at least the main thread's), then watches the load. */
  async start(n: number): Promise<void> {
    while (this.threads < Math.min(n, this.max)) await this.spawn();
    this.min = Math.max(1, Math.min(n, this.max));
    if (this.max > 1) {
      this.timer = setInterval(() => this.autoscale(), AUTOSCALE_PERIOD_MS);
      this.timer.unref();
    }
  }

  private autoscale(): void {
    if (this.closed) return;
    const now = performance.eventLoopUtilization();
    const main = performance.eventLoopUtilization(now, this.mainElu).utilization;
    this.mainElu = now;
    const active = this.fronts.filter((f) => !f.paused);
    const elus = [main, ...active.map((f) => f.elu)];
    const cpu = cpuTimes();
    const idleCores = cpu.total > this.cpu0.total ? ((cpu.idle - this.cpu0.idle) / (cpu.total - this.cpu0.total)) * cpus().length : 0;
    this.cpu0 = cpu;
    const mainServed = this.main.served();
    let served = mainServed - this.mainServed;
    this.mainServed = mainServed;
    for (const f of this.fronts) {
      served += f.served;
      f.served = 0;
    }
    const decision = this.policy.next({
      meanElu: elus.reduce((a, b) => a + b, 0) / elus.length,
      idleCores,
      served,
      active: elus.length,
      min: this.min,
      max: this.max,
    });
    if (decision) void this.apply(decision);
  }

  /** Carries out a scaling decision now (the autoscaler's, or a harness's); resolves once it holds. */
  apply(decision: 'add' | 'pause'): Promise<void> {
    if (this.closed) return Promise.resolve();
    return decision === 'pause' ? this.pauseOne() : this.addOne();
  }

  /** Starts accepting on one more front end: a paused one if any, else a new thread. */
  private addOne(): Promise<void> {
    const paused = this.fronts.find((f) => f.paused);
    if (paused) {
      paused.paused = false;
      this.opts.log?.({ event: 'front-end-resumed', front: paused.index, accepting: this.count });
      return this.tell(paused, 'resume');
    }
    if (this.starting || this.threads >= this.max) {
      this.policy.cancelTrial();
      return this.starting ?? Promise.resolve();
    }
    const starting = this.spawn().finally(() => {
      this.starting = null;
    });
    this.starting = starting;
    return starting.then(
      () => this.opts.log?.({ event: 'front-end-started', front: this.threads - 1, accepting: this.count }),
      (e: unknown) => {
        this.policy.cancelTrial();
        this.opts.log?.({ event: 'front-end-failed', message: String((e as Error)?.message ?? e) });
      },
    );
  }

  /** Sends a pause or resume and waits for the front end to confirm it. */
  private tell(f: Front, op: 'pause' | 'resume'): Promise<void> {
    return new Promise((resolve) => {
      f.acks.push(resolve);
      f.worker.postMessage({ op } satisfies ToFront);
    });
  }

  /** Stops accepting on the newest accepting worker front end (it keeps its connections and channels). */
  private pauseOne(): Promise<void> {
    const f = this.fronts.findLast((x) => !x.paused);
    if (!f) return Promise.resolve();
    f.paused = true;
    this.opts.log?.({ event: 'front-end-paused', front: f.index, accepting: this.count });
    return this.tell(f, 'pause');
  }

  /** Starts one worker front end, linked to the main thread and to every front end. */
  private async spawn(): Promise<void> {
    const index = this.threads;
    const rpc = new MessageChannel();
    const pool = new MessageChannel();
    const word = new SharedArrayBuffer(4);
    hostLinks(rpc.port1, new Int32Array(word), pool.port1, this.h.registry, this.h.pool);
    const peers: Array<[number, MessagePort]> = [];
    const transfer: MessagePort[] = [rpc.port2, pool.port2];
    // A channel to the main thread's front end and one to each worker front end.
    const toMain = new MessageChannel();
    this.forwarder.addPeer(index, toMain.port1);
    peers.push([0, toMain.port2]);
    transfer.push(toMain.port2);
    for (const f of this.fronts) {
      const ch = new MessageChannel();
      f.worker.postMessage({ op: 'peer', index, port: ch.port1 } satisfies ToFront, [ch.port1]);
      peers.push([f.index, ch.port2]);
      transfer.push(ch.port2);
    }
    const data: FrontWorkerData = {
      index,
      settings: serviceSettings(this.opts),
      ...this.listen,
      rpc: rpc.port2,
      word,
      memory: this.h.memory,
      pool: pool.port2,
      peers,
      log: this.opts.log !== undefined,
      listing: this.opts.listing !== false,
    };
    const worker = startWorker(data, transfer, this.opts.frontYoungGenerationMb ?? DEFAULT_FRONT_YOUNG_MB);
    worker.once('online', afterWorkerStart);
    // A front end indexes small levels itself: if it ever dies holding an index write lock, free it.
    const tid = worker.threadId;
    worker.once('exit', () => this.h.registry.recoverThread(tid));
    const front: Front = { index, worker, elu: 0, served: 0, paused: false, acks: [] };
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: FromFront) => {
        if (m.op === 'ready') resolve();
        else if (m.op === 'elu') {
          front.elu = m.value;
          front.served += m.served;
        }
        else if (m.op === 'paused' || m.op === 'resumed') front.acks.shift()?.();
        else if (m.op === 'metrics-json') {
          this.metricWaits.get(m.id)?.(m.json);
          this.metricWaits.delete(m.id);
        } else if (m.op === 'scrape') {
          const scrape = this.scrape ?? (() => Promise.reject(new Error('no metrics')));
          scrape().then(
            (text) => worker.postMessage({ op: 'scraped', id: m.id, text } satisfies ToFront),
            () => worker.postMessage({ op: 'scraped', id: m.id, text: null } satisfies ToFront),
          );
        }
        else if (m.op === 'log') for (const e of m.entries) this.opts.log?.(e);
      });
    });
    worker.on('error', (e) => this.opts.log?.({ event: 'front-end-error', front: index, message: e.message }));
    this.fronts.push(front);
  }

  /** Every worker front end's metrics (those that answer within a second). */
  metricsJson(): Promise<MetricsJson[]> {
    return Promise.all(
      this.fronts.map(
        (f) =>
          new Promise<MetricsJson>((resolve) => {
            const id = nextId++;
            const t = setTimeout(() => {
              this.metricWaits.delete(id);
              resolve([]);
            }, 1000);
            this.metricWaits.set(id, (json) => {
              clearTimeout(t);
              resolve(json);
            });
            f.worker.postMessage({ op: 'metrics-json', id } satisfies ToFront);
          }),
      ),
    );
  }

  /** Stops every worker front end, letting each drain its exchanges for up to `graceMs`. */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.starting?.catch(() => {});
    await Promise.all(
      this.fronts.map(
        (f) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => void f.worker.terminate().then(() => resolve()), graceMs + 3000);
            f.worker.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            f.worker.postMessage({ op: 'stop', graceMs } satisfies ToFront);
          }),
      ),
    );
    for (const f of this.fronts) for (const ack of f.acks.splice(0)) ack();
    this.fronts.length = 0;
    this.forwarder.close();
  }
}
