/**
 * The front-end threads of a server, managed by the main thread (itself front end 0). Every front
 * end runs its own uWebSockets.js app on the same port — the kernel spreads new connections among
 * the listeners — and serves its connections start to finish, so throughput grows with threads
 * instead of stopping at one. Extra front ends start when the running ones are busy (event-loop
 * utilisation over AUTOSCALE_ELU) and a core is free for another (AUTOSCALE_FREE_CORES), both for
 * AUTOSCALE_SUSTAIN_PERIODS periods in a row, up to
 * `threads`, so an idle server is one thread. The main thread
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
import { afterWorkerStart } from '../pool/young-generation.js';
import { serviceSettings, type Harness, type ServerOptions } from './server.js';

/** Event-loop utilisation above which one more front end is started. */
export const AUTOSCALE_ELU = 0.5;
/** How often the autoscaler looks. */
export const AUTOSCALE_PERIOD_MS = 500;
/**
 * Idle CPU (in cores, over the machine) needed before another front end starts: a new thread only
 * helps when a core is free for it. Measured on 2 cores shared with a load generator, a second front
 * end without a free core cost ~20 % more CPU per response and gained no throughput.
 */
export const AUTOSCALE_FREE_CORES = 0.5;
/**
 * Consecutive periods both conditions must hold. On 2 cores shared with a load generator the idle
 * share hovers at 0.3–0.4 cores with peaks past 0.5 (measured every 500 ms); one such peak used to
 * start a front end that then competed with the load for the rest of the run (random windows at 16
 * clients: 150–180 µs of CPU per response instead of 120–145).
 */
export const AUTOSCALE_SUSTAIN_PERIODS = 4;

/** Whether to start another front end, given the front ends' mean utilisation and the machine's idle cores. */
export function shouldAddFrontEnd(meanElu: number, idleCores: number, freeCores = AUTOSCALE_FREE_CORES): boolean {
  return meanElu >= AUTOSCALE_ELU && idleCores >= freeCores;
}

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
}

/** Messages from the main thread to a front end. */
export type ToFront = { op: 'peer'; index: number; port: MessagePort } | { op: 'evict'; key: string } | { op: 'stop'; graceMs?: number };
/** Messages from a front end to the main thread. */
type FromFront = { op: 'ready' } | { op: 'stopped' } | { op: 'log'; entries: Array<Record<string, unknown>> } | { op: 'elu'; value: number };

interface Front {
  index: number;
  worker: Worker;
  elu: number;
}

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
  /** Consecutive autoscale periods in which another front end was wanted. */
  private streak = 0;
  private starting: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly opts: ServerOptions,
    private readonly h: Harness,
    private readonly listen: { host: string; port: number; unixPath?: string; tls?: TlsFiles },
  ) {
    this.max = opts.threads !== undefined ? Math.min(opts.threads, h.threads) : h.threads;
    this.forwarder.serve(h.service);
    h.service.forwardTo((n, inc) => this.forwarder.forward(n, inc));
    const evict = h.registry.onEvict;
    h.registry.onEvict = (key) => {
      evict(key);
      for (const f of this.fronts) f.worker.postMessage({ op: 'evict', key } satisfies ToFront);
    };
  }

  /** Front-end threads running, the main thread's included. */
  get count(): number {
    return 1 + this.fronts.length;
  }

  /** Starts front ends up to `n` (at least the main thread's), then watches the load. */
  async start(n: number): Promise<void> {
    while (this.count < Math.min(n, this.max)) await this.spawn();
    if (this.count < this.max) {
      this.timer = setInterval(() => this.autoscale(), AUTOSCALE_PERIOD_MS);
      this.timer.unref();
    }
  }

  private autoscale(): void {
    const now = performance.eventLoopUtilization();
    const main = performance.eventLoopUtilization(now, this.mainElu).utilization;
    this.mainElu = now;
    const all = [main, ...this.fronts.map((f) => f.elu)];
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const cpu = cpuTimes();
    const idleCores = cpu.total > this.cpu0.total ? ((cpu.idle - this.cpu0.idle) / (cpu.total - this.cpu0.total)) * cpus().length : 0;
    this.cpu0 = cpu;
    this.streak = shouldAddFrontEnd(mean, idleCores, this.opts.autoscaleFreeCores) ? this.streak + 1 : 0;
    if (this.streak < AUTOSCALE_SUSTAIN_PERIODS || this.starting || this.count >= this.max || this.closed) return;
    this.streak = 0;
    this.starting = this.spawn().finally(() => {
      this.starting = null;
      if (this.count >= this.max && this.timer) clearInterval(this.timer);
    });
    this.starting.catch((e: unknown) => this.opts.log?.({ event: 'front-end-failed', message: String((e as Error)?.message ?? e) }));
  }

  /** Starts one worker front end, linked to the main thread and to every front end. */
  private async spawn(): Promise<void> {
    const index = this.count;
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
    };
    const worker = startWorker(data, transfer, this.opts.frontYoungGenerationMb ?? DEFAULT_FRONT_YOUNG_MB);
    worker.once('online', afterWorkerStart);
    // A front end indexes small levels itself: if it ever dies holding an index write lock, free it.
    const tid = worker.threadId;
    worker.once('exit', () => this.h.registry.recoverThread(tid));
    const front: Front = { index, worker, elu: 0 };
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: FromFront) => {
        if (m.op === 'ready') resolve();
        else if (m.op === 'elu') front.elu = m.value;
        else if (m.op === 'log') for (const e of m.entries) this.opts.log?.(e);
      });
    });
    worker.on('error', (e) => this.opts.log?.({ event: 'front-end-error', front: index, message: e.message }));
    this.fronts.push(front);
  }

  /** Stops every worker front end (each closes its listener and connections, then exits). */
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
    this.fronts.length = 0;
    this.forwarder.close();
  }
}
