import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RWLOCK_WORDS, RwLock, kEpoch, kState, kWaitingWriters } from '../../src/packet-index/rwlock.js';
import { CONTROL_WORDS, W, openGate, recordConsistent, runJob, writeRecord, type JobResult } from '../helpers/rwlock-stress-worker.js';

const T = { timeout: 60_000 };

function control(): Int32Array {
  const i32 = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  RwLock.init(i32, W.lock);
  writeRecord(i32, 0, 0);
  return i32;
}

/** Polls (asynchronously, never blocking this thread) until `cond` holds; fails after 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`gave up waiting for ${what}`);
    await sleep(2);
  }
}

/** Two writers and three readers hammer one record; returns reads, torn reads and violations. */
async function stress(broken: boolean): Promise<{ reads: number; torn: number; violations: number; maxReaders: number; results: JobResult[] }> {
  const i32 = control();
  const jobs = [
    runJob({ kind: 'stress-writer', control: i32.buffer as SharedArrayBuffer, broken, id: 1, iterations: 150, pauseMs: 0.2, readers: 3 }),
    runJob({ kind: 'stress-writer', control: i32.buffer as SharedArrayBuffer, broken, id: 2, iterations: 150, pauseMs: 0.2, readers: 3 }),
    ...[0, 1, 2].map(() => runJob({ kind: 'stress-reader', control: i32.buffer as SharedArrayBuffer, broken, writers: 2, maxIterations: 2_000_000 })),
  ];
  const results = await Promise.all(jobs);
  const readers = results.slice(2);
  return {
    reads: readers.reduce((a, r) => a + r.count, 0),
    torn: readers.reduce((a, r) => a + r.bad, 0),
    violations: Atomics.load(i32, W.violations),
    maxReaders: Atomics.load(i32, W.maxReaders),
    results,
  };
}

test('the record checker itself tells a torn record from a whole one', () => {
  const i32 = control();
  assert.equal(recordConsistent(i32), true);
  writeRecord(i32, 7, 0);
  assert.equal(recordConsistent(i32), true);
  i32[W.record + 20] ^= 1;
  assert.equal(recordConsistent(i32), false);
});

test('stress: 2 writers and 3 readers in worker threads never see a torn record', T, async (t) => {
  const r = await stress(false);
  t.diagnostic(`reads ${r.reads}, max concurrent readers ${r.maxReaders}`);
  for (const x of r.results) assert.equal(x.ok, true, x.note);
  assert.equal(r.results[0].count, 150);
  assert.equal(r.results[1].count, 150);
  assert.ok(r.reads > 0, 'readers read');
  assert.equal(r.torn, 0, 'torn reads');
  assert.equal(r.violations, 0, 'a writer overlapped a reader or another writer');
});

test('negative control: the same stress run with a no-op lock detects torn records', T, async (t) => {
  const r = await stress(true);
  t.diagnostic(`reads ${r.reads}, torn ${r.torn}, exclusion violations ${r.violations}`);
  assert.ok(r.torn > 0, `no torn record in ${r.reads} reads`);
  assert.ok(r.violations > 0, 'exclusion counters saw no overlap');
});

/** Starts a write-once and a read-once worker and waits until both sit at their gates. */
async function gatedPair(i32: Int32Array, writerTimeoutMs: number, holdMs: number): Promise<[Promise<JobResult>, Promise<JobResult>]> {
  const buf = i32.buffer as SharedArrayBuffer;
  const writer = runJob({ kind: 'write-once', control: buf, timeoutMs: writerTimeoutMs, holdMs });
  const reader = runJob({ kind: 'read-once', control: buf, timeoutMs: Infinity });
  // Surface a worker failure at once instead of after the polling below gives up.
  const failed = Promise.race([writer, reader]).then(() => undefined);
  await Promise.race([until(() => Atomics.load(i32, W.writerReady) === 1 && Atomics.load(i32, W.readerReady) === 1, 'workers'), failed]);
  return [writer, reader];
}

test('writer preference: once a writer waits, a new reader waits until after that writer', T, async () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  const [writer, reader] = await gatedPair(i32, Infinity, 30);
  assert.equal(lock.tryLockRead(), true); // this (main) thread holds a read lock, never blocking
  openGate(i32, W.writerGo);
  await until(() => lock.waitingWriters() === 1, 'the writer to register');
  assert.equal(lock.tryLockRead(), false, 'a new reader got in while a writer waits');
  openGate(i32, W.readerGo);
  await until(() => Atomics.load(i32, W.readerAttempt) === 1, 'the reader to try');
  await sleep(50); // let the reader reach its lockRead; a correct lock keeps it out however long
  assert.equal(Atomics.load(i32, W.readerSeq), 0, 'the reader got in ahead of the waiting writer');
  assert.equal(Atomics.load(i32, W.writerSeq), 0, 'the writer got in while a reader held the lock');
  lock.unlockRead();
  const [w, r] = await Promise.all([writer, reader]);
  assert.equal(w.count, 1);
  assert.equal(w.bad, 0, 'a reader was inside while the writer held the lock');
  assert.equal(r.count, 1);
  assert.ok(Atomics.load(i32, W.writerSeq) < Atomics.load(i32, W.readerSeq), 'reader before writer');
  assert.equal(lock.state(), 0);
  assert.equal(lock.waitingWriters(), 0);
});

test('a writer that times out stops holding readers back and wakes the sleeping reader', T, async () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  const [writer, reader] = await gatedPair(i32, 300, 0);
  assert.equal(lock.tryLockRead(), true);
  openGate(i32, W.writerGo);
  await until(() => lock.waitingWriters() === 1, 'the writer to register');
  openGate(i32, W.readerGo); // the reader waits with no timeout: only the writer's give-up frees it
  const [w, r] = await Promise.all([writer, reader]);
  assert.equal(Atomics.load(i32, W.writerResult), 2, 'the writer should have timed out');
  assert.equal(w.count, 0);
  assert.equal(r.count, 1, 'the reader was never admitted');
  assert.equal(Atomics.load(i32, W.stateSeenByReader), 2, 'the reader shared the lock with this thread');
  assert.equal(lock.waitingWriters(), 0);
  lock.unlockRead();
  assert.equal(lock.state(), 0);
});

test('a blocked writer is woken when the last reader leaves, not before', T, async () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  const [writer, reader] = await gatedPair(i32, Infinity, 0);
  assert.equal(lock.tryLockRead(), true);
  assert.equal(lock.tryLockRead(), true);
  openGate(i32, W.writerGo);
  await until(() => lock.waitingWriters() === 1, 'the writer to register');
  lock.unlockRead();
  await sleep(20);
  assert.equal(Atomics.load(i32, W.writerResult), 0, 'the writer got in while a reader remained');
  lock.unlockRead(); // the writer waits with no timeout: only this release can wake it
  const w = await writer;
  assert.equal(w.count, 1);
  openGate(i32, W.readerGo);
  assert.equal((await reader).count, 1);
  assert.equal(lock.state(), 0);
});

test('blocking calls honour their timeout on any thread (the main thread is a front end too); try-locks never wait', () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  assert.equal(lock.tryLockWrite(), true);
  assert.equal(lock.state(), -1);
  assert.equal(lock.tryLockRead(), false);
  assert.equal(lock.tryLockWrite(), false);
  const t0 = performance.now();
  assert.equal(lock.lockRead(20), false, 'a reader gives up after its bound');
  assert.equal(lock.lockWrite(20), false, 'so does a writer');
  assert.ok(performance.now() - t0 >= 35, 'and both did wait');
  assert.equal(lock.lockRead(0), false, 'timeout 0 tries once');
  assert.equal(lock.waitingWriters(), 0, 'a writer that gave up does not stay registered');
  lock.unlockWrite();
  assert.equal(lock.lockRead(), true, 'uncontended lockRead needs no waiting');
  assert.equal(lock.lockWrite(0), false);
  lock.unlockRead();
  assert.equal(lock.lockWrite(), true);
  assert.equal(lock.writerThreadId(), 0);
  lock.unlockWrite();
  assert.equal(lock.writerThreadId(), -1);
});

test('misuse is refused and leaves the lock intact', () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  assert.throws(() => lock.unlockRead(), /without a read lock/);
  assert.throws(() => lock.unlockWrite(), /does not hold/);
  assert.equal(lock.tryLockRead(), true);
  assert.throws(() => lock.unlockWrite(), /does not hold/);
  assert.equal(lock.state(), 1);
  lock.unlockRead();
  assert.throws(() => new RwLock(new Int32Array(8), 0), /SharedArrayBuffer/);
  assert.throws(() => new RwLock(i32, CONTROL_WORDS - RWLOCK_WORDS + 1), /base/);
  assert.throws(() => new RwLock(i32, -1), /base/);
  assert.throws(() => lock.withRead(() => 0, -5), /bad timeout/);
  assert.throws(() => lock.lockWrite(Number.NaN), /bad timeout/);
  assert.equal(lock.state(), 0);
});

test('withRead / withWrite release the lock when fn throws, and return its value', () => {
  const i32 = control();
  const lock = new RwLock(i32, W.lock);
  assert.throws(() => lock.withWrite(() => { throw new Error('boom'); }), /boom/);
  assert.equal(lock.state(), 0);
  assert.throws(() => lock.withRead(() => { throw new Error('bang'); }), /bang/);
  assert.equal(lock.state(), 0);
  assert.equal(lock.withRead(() => 41) + lock.withWrite(() => 1), 42);
});

test('init zeroes only its own four words at its base', () => {
  const i32 = new Int32Array(new SharedArrayBuffer(4 * 12));
  i32.fill(-7);
  const lock = RwLock.init(i32, 4);
  assert.deepEqual([...i32], [-7, -7, -7, -7, 0, 0, 0, 0, -7, -7, -7, -7]);
  assert.equal(lock.tryLockRead(), true);
  assert.equal(i32[4 + kState], 1);
  lock.unlockRead();
  assert.equal(i32[4 + kWaitingWriters], 0);
  assert.equal(i32[4 + kEpoch], 0, 'no wake-up is needed when nobody waits');
});
