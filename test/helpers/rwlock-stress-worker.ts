/**
 * Worker jobs for the RwLock and SharedPacketIndex thread tests, plus `runJob` to start one from a
 * test. Workers run the real src modules as TypeScript: Node 20 workers inherit `--import tsx` but
 * tsx registers its hooks on the main thread only, so each worker is booted by a tiny eval script
 * that calls tsx's `register()` and then imports this file, which runs the job in `workerData`.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RwLock } from '../../src/packet-index/rwlock.js';
import { SharedPacketIndex } from '../../src/packet-index/shared-index.js';

/** Word offsets in the Int32 control buffer shared by a test and its workers. */
export const W = {
  activeReaders: 0,
  activeWriters: 1,
  violations: 2,
  writersDone: 3,
  scratch: 4,
  seq: 5,
  writerSeq: 6,
  readerSeq: 7,
  readerAttempt: 8,
  writerResult: 9,
  stateSeenByReader: 10,
  maxReaders: 11,
  writerReady: 12,
  readerReady: 13,
  writerGo: 14,
  readerGo: 15,
  lock: 16, // RwLock words 16..19: a non-zero base, as when carved out of a larger buffer
  record: 20,
} as const;
/** Words in the stress record: generation, 62 data words, checksum. */
export const RECORD_WORDS = 64;
/** Size of the control buffer in Int32 words. */
export const CONTROL_WORDS = W.record + RECORD_WORDS;

/** The subset of RwLock the jobs use, so a deliberately broken lock can stand in. */
interface LockLike {
  lockRead(timeoutMs?: number): boolean;
  unlockRead(): void;
  lockWrite(timeoutMs?: number): boolean;
  unlockWrite(): void;
}

/** A lock that locks nothing: the negative control of the stress test. */
const noLock: LockLike = {
  lockRead: () => true,
  unlockRead: () => undefined,
  lockWrite: () => true,
  unlockWrite: () => undefined,
};

/** A job a worker can run. */
export type Job =
  | { kind: 'stress-writer'; control: SharedArrayBuffer; broken: boolean; id: number; iterations: number; pauseMs: number; readers: number }
  | { kind: 'stress-reader'; control: SharedArrayBuffer; broken: boolean; writers: number; maxIterations: number }
  | { kind: 'write-once'; control: SharedArrayBuffer; timeoutMs: number; holdMs: number }
  | { kind: 'read-once'; control: SharedArrayBuffer; timeoutMs: number }
  | { kind: 'index-publish'; index: SharedArrayBuffer; gate: SharedArrayBuffer; slotWrites: SharedArrayBuffer; levelStarts: number[]; pauseMs: number }
  | { kind: 'index-read'; index: SharedArrayBuffer; gate: SharedArrayBuffer; levelStarts: number[]; maxIterations: number }
  | { kind: 'index-publish-once'; index: SharedArrayBuffer; gate: SharedArrayBuffer; levelCount: number; holdInFill: boolean };

/** What a job reports back. */
export interface JobResult {
  ok: boolean;
  count: number;
  bad: number;
  note?: string;
}

/** Data word i of generation g (word 0 holds g, the last word the checksum). */
export function recordWord(g: number, i: number): number {
  return Math.imul(g, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b);
}

/** Writes a whole consistent record of generation g with plain stores, pausing half-way. */
export function writeRecord(i32: Int32Array, g: number, pauseMs: number): void {
  let sum = g;
  i32[W.record] = g;
  for (let i = 1; i < RECORD_WORDS - 1; i++) {
    if (i === RECORD_WORDS >> 1 && pauseMs > 0) Atomics.wait(i32, W.scratch, 0, pauseMs);
    const v = recordWord(g, i);
    i32[W.record + i] = v;
    sum ^= v;
  }
  i32[W.record + RECORD_WORDS - 1] = sum;
}

/** True when the record holds one generation throughout (plain loads, as a reader would). */
export function recordConsistent(i32: Int32Array): boolean {
  const g = i32[W.record];
  let sum = g;
  for (let i = 1; i < RECORD_WORDS - 1; i++) {
    const v = i32[W.record + i];
    if (v !== recordWord(g, i)) return false;
    sum ^= v;
  }
  return i32[W.record + RECORD_WORDS - 1] === sum;
}

/** Expected file offset of slot s in the index tests: above 2^32, distinct, exact in a double. */
export function slotOffset(s: number): number {
  return 2 ** 32 + s * 1_000_003 + (s % 2) * 2 ** 40;
}

/** Expected packet length of slot s in the index tests. */
export function slotLength(s: number): number {
  return ((s * 7919) % 65_521) + 1;
}

/**
 * Starts a worker running `job` and resolves with its result. Rejects on a worker error, an exit
 * without a result, or when no result came within `hangMs`: a correct lock finishes in
 * milliseconds, so that bound only decides when a hang (a lost wake-up) is declared, and the
 * hung worker is terminated (termination interrupts Atomics.wait).
 */
export function runJob(job: Job, hangMs = 20_000): Promise<JobResult> {
  const api = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const boot = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(self)});`;
  const worker = new Worker(boot, { eval: true, workerData: { job } });
  return new Promise((resolve, reject) => {
    let result: JobResult | undefined;
    const timer = setTimeout(() => {
      reject(new Error(`${job.kind} worker hung for ${hangMs} ms (lost wake-up?)`));
      void worker.terminate();
    }, hangMs);
    worker.once('message', (m: JobResult) => (result = m));
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`${job.kind} worker exited ${code} without a result`));
    });
  });
}

/** Opens a gate word for a worker waiting in `passGate` (called by the test thread, never blocks). */
export function openGate(i32: Int32Array, go: number): void {
  Atomics.store(i32, go, 1);
  Atomics.notify(i32, go);
}

/** Word offsets in the two-word gate buffer of the index jobs: workers ready, and go. */
export const GATE_READY = 0;
/** See GATE_READY. */
export const GATE_GO = 1;

/** Gate word set while an `index-publish-once` job holding in fill is inside it. */
export const GATE_IN_FILL = 2;
/** Gate word that lets an `index-publish-once` job holding in fill finish it. */
export const GATE_FILL_GO = 3;
/** Words in a gate buffer. */
export const GATE_WORDS = 4;

/** Counts this worker ready in a gate buffer, then sleeps until the test opens it. */
function passSharedGate(gate: SharedArrayBuffer): void {
  const g = new Int32Array(gate);
  Atomics.add(g, GATE_READY, 1);
  while (Atomics.load(g, GATE_GO) === 0) Atomics.wait(g, GATE_GO, 0);
}

/** Announces readiness in word `ready`, then sleeps until the test opens word `go`. */
function passGate(i32: Int32Array, ready: number, go: number): void {
  Atomics.store(i32, ready, 1);
  while (Atomics.load(i32, go) === 0) Atomics.wait(i32, go, 0);
}

function stressWriter(job: Extract<Job, { kind: 'stress-writer' }>): JobResult {
  const i32 = new Int32Array(job.control);
  const lock: LockLike = job.broken ? noLock : new RwLock(i32, W.lock);
  // Start only once every reader runs: on a busy machine a worker can take longer to boot than the
  // writers take to finish, and a run nobody read from proves nothing.
  const bootEnd = Date.now() + 20_000;
  while (Atomics.load(i32, W.readerReady) < job.readers) {
    if (Date.now() > bootEnd) return { ok: false, count: 0, bad: 0, note: 'readers never started' };
    Atomics.wait(i32, W.scratch, 0, 1);
  }
  let bad = 0;
  for (let k = 1; k <= job.iterations; k++) {
    if (!lock.lockWrite(10_000)) return { ok: false, count: k - 1, bad, note: 'write lock timed out' };
    if (Atomics.add(i32, W.activeWriters, 1) !== 0) bad++;
    if (Atomics.load(i32, W.activeReaders) !== 0) bad++;
    writeRecord(i32, job.id * 1_000_000 + k, job.pauseMs);
    Atomics.sub(i32, W.activeWriters, 1);
    lock.unlockWrite();
  }
  Atomics.add(i32, W.violations, bad);
  Atomics.add(i32, W.writersDone, 1);
  return { ok: true, count: job.iterations, bad };
}

function stressReader(job: Extract<Job, { kind: 'stress-reader' }>): JobResult {
  const i32 = new Int32Array(job.control);
  const lock: LockLike = job.broken ? noLock : new RwLock(i32, W.lock);
  let reads = 0;
  let torn = 0;
  let bad = 0;
  Atomics.add(i32, W.readerReady, 1);
  while (Atomics.load(i32, W.writersDone) < job.writers && reads < job.maxIterations) {
    if (!lock.lockRead(10_000)) return { ok: false, count: reads, bad: torn, note: 'read lock timed out' };
    const r = Atomics.add(i32, W.activeReaders, 1) + 1;
    if (r > Atomics.load(i32, W.maxReaders)) Atomics.store(i32, W.maxReaders, r);
    if (Atomics.load(i32, W.activeWriters) !== 0) bad++;
    if (!recordConsistent(i32)) torn++;
    Atomics.sub(i32, W.activeReaders, 1);
    lock.unlockRead();
    reads++;
  }
  Atomics.add(i32, W.violations, bad);
  return { ok: true, count: reads, bad: torn };
}

function writeOnce(job: Extract<Job, { kind: 'write-once' }>): JobResult {
  const i32 = new Int32Array(job.control);
  const lock = new RwLock(i32, W.lock);
  passGate(i32, W.writerReady, W.writerGo);
  const got = lock.lockWrite(job.timeoutMs);
  Atomics.store(i32, W.writerResult, got ? 1 : 2);
  if (!got) return { ok: true, count: 0, bad: 0 };
  Atomics.store(i32, W.writerSeq, Atomics.add(i32, W.seq, 1) + 1);
  // Hold the lock a while so a reader that wrongly slipped past would be caught holding it too.
  Atomics.wait(i32, W.scratch, 0, job.holdMs);
  const readersInside = Atomics.load(i32, W.activeReaders);
  lock.unlockWrite();
  return { ok: true, count: 1, bad: readersInside };
}

function readOnce(job: Extract<Job, { kind: 'read-once' }>): JobResult {
  const i32 = new Int32Array(job.control);
  const lock = new RwLock(i32, W.lock);
  passGate(i32, W.readerReady, W.readerGo);
  Atomics.store(i32, W.readerAttempt, 1);
  if (!lock.lockRead(job.timeoutMs)) return { ok: true, count: 0, bad: 0, note: 'timed out' };
  Atomics.add(i32, W.activeReaders, 1);
  Atomics.store(i32, W.stateSeenByReader, lock.state());
  Atomics.store(i32, W.readerSeq, Atomics.add(i32, W.seq, 1) + 1);
  Atomics.sub(i32, W.activeReaders, 1);
  lock.unlockRead();
  return { ok: true, count: 1, bad: 0 };
}

function indexPublish(job: Extract<Job, { kind: 'index-publish' }>): JobResult {
  const idx = SharedPacketIndex.attach(job.index);
  const writes = new Int32Array(job.slotWrites);
  const scratch = new Int32Array(new SharedArrayBuffer(4));
  const levels = job.levelStarts.length - 1;
  let fills = 0;
  passSharedGate(job.gate);
  for (let k = 1; k <= levels; k++) {
    const published = idx.publishLevels(k, (offsets, lengths) => {
      // Inside the write lock: levelsIndexed cannot move, so it names the first new level.
      const from = job.levelStarts[idx.levelsIndexed()];
      const to = job.levelStarts[k];
      for (let s = from; s < to; s++) {
        if (s === ((from + to) >> 1)) Atomics.wait(scratch, 0, 0, job.pauseMs);
        offsets[s] = slotOffset(s);
        lengths[s] = slotLength(s);
        Atomics.add(writes, s, 1);
      }
    });
    if (published) fills++;
  }
  return { ok: true, count: fills, bad: 0 };
}

function indexRead(job: Extract<Job, { kind: 'index-read' }>): JobResult {
  const idx = SharedPacketIndex.attach(job.index);
  const levels = job.levelStarts.length - 1;
  const total = job.levelStarts[levels];
  const slots = new Int32Array(total);
  const offsets = new Float64Array(total);
  const lengths = new Uint32Array(total);
  let reads = 0;
  let bad = 0;
  let fullReads = 0;
  passSharedGate(job.gate);
  while (fullReads < 20 && reads < job.maxIterations) {
    const have = idx.levelsIndexed();
    if (have === levels) fullReads++;
    const n = job.levelStarts[have];
    for (let i = 0; i < n; i++) slots[i] = n - 1 - i;
    const view = slots.subarray(0, n);
    idx.readPackets(view, offsets, lengths);
    for (let i = 0; i < n; i++) {
      if (offsets[i] !== slotOffset(view[i]) || lengths[i] !== slotLength(view[i])) bad++;
    }
    reads++;
  }
  return { ok: fullReads === 20, count: reads, bad };
}

function indexPublishOnce(job: Extract<Job, { kind: 'index-publish-once' }>): JobResult {
  const idx = SharedPacketIndex.attach(job.index);
  const g = new Int32Array(job.gate);
  passSharedGate(job.gate);
  let fills = 0;
  const published = idx.publishLevels(job.levelCount, () => {
    fills++;
    if (!job.holdInFill) return;
    Atomics.store(g, GATE_IN_FILL, 1);
    while (Atomics.load(g, GATE_FILL_GO) === 0) Atomics.wait(g, GATE_FILL_GO, 0);
  });
  return { ok: true, count: published ? 1 : 0, bad: fills };
}

const runners: { [K in Job['kind']]: (job: Extract<Job, { kind: K }>) => JobResult } = {
  'stress-writer': stressWriter,
  'stress-reader': stressReader,
  'write-once': writeOnce,
  'read-once': readOnce,
  'index-publish': indexPublish,
  'index-read': indexRead,
  'index-publish-once': indexPublishOnce,
};

if (!isMainThread && workerData && typeof workerData === 'object' && 'job' in workerData) {
  const job = (workerData as { job: Job }).job;
  const run = runners[job.kind] as (j: Job) => JobResult;
  parentPort!.postMessage(run(job));
}
