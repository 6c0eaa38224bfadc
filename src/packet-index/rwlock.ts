/**
 * A writer-preferring readers-writer lock over four Int32 words of a shared buffer, usable from any
 * number of worker threads. The lock owns no memory: it is a view over `(Int32Array, base)` so many
 * locks can be carved from one SharedArrayBuffer (the idea of Lars Hansen's parlib-simple lock.js).
 *
 * Protocol (docs/index-layout.md draws it):
 *   state  = n ≥ 0 readers hold the lock, or -1 when one writer holds it;
 *   waitingWriters = writers that have announced themselves and not yet acquired or given up;
 *   epoch  = a sequence number bumped (then notified) by every release that can unblock a waiter;
 *   writer = threadId + 1 of the writer holding the lock, 0 otherwise (ownership check, diagnostics).
 * A waiter loads `epoch` BEFORE testing its condition and sleeps with `Atomics.wait(epoch, seen)`, so
 * a release that lands between the test and the sleep changes the word and the sleep returns at once:
 * no wake-up is lost. Writer preference: a reader may enter only while state ≥ 0 AND no writer waits.
 *
 * Every thread may wait, the main thread included: the main thread is one of jpipd's front-end
 * threads and reads the index synchronously to answer without a hop. Hold times are microseconds (a
 * writer copies precomputed records, a reader copies a window's records out), and front ends always
 * pass a short timeout (docs/index-layout.md), so a wait never stalls an event loop for long. The
 * lock is not re-entrant.
 */
import { threadId } from 'node:worker_threads';
import { JpipdError } from '../errors.js';

/** Word offset of the state word: readers count (≥ 0) or -1 when write-locked. */
export const kState = 0;
/** Word offset of the number of writers waiting to acquire. */
export const kWaitingWriters = 1;
/** Word offset of the wake-up sequence word that every waiter sleeps on. */
export const kEpoch = 2;
/** Word offset of the holding writer's threadId + 1 (0 when no writer holds the lock). */
export const kWriter = 3;
/** Number of Int32 words one lock occupies. */
export const RWLOCK_WORDS = 4;

const WRITE_LOCKED = -1;

/** Milliseconds left until `deadline` (a performance.now() value), Infinity when there is none. */
function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : deadline - performance.now();
}

/** Throws unless `timeoutMs` is a number of milliseconds ≥ 0 (Infinity allowed). */
function checkTimeout(timeoutMs: number): void {
  if (!(timeoutMs >= 0)) throw new JpipdError('ERR_INTERNAL', `rwlock: bad timeout ${timeoutMs}`);
}

/** Absolute deadline (a performance.now() value) for a checked timeout in ms. */
function deadlineOf(timeoutMs: number): number {
  return timeoutMs === Infinity ? Infinity : performance.now() + timeoutMs;
}

/** A writer-preferring readers-writer lock living in `RWLOCK_WORDS` words of a shared Int32Array. */
export class RwLock {
  private readonly st: number;
  private readonly ww: number;
  private readonly ep: number;
  private readonly wr: number;

  /** Attaches to lock words already initialised by `RwLock.init` (possibly in another thread). */
  constructor(
    readonly i32: Int32Array,
    readonly base: number,
  ) {
    if (!(i32.buffer instanceof SharedArrayBuffer)) throw new JpipdError('ERR_INTERNAL', 'rwlock: the Int32Array must view a SharedArrayBuffer');
    if (!Number.isSafeInteger(base) || base < 0 || base + RWLOCK_WORDS > i32.length) {
      throw new JpipdError('ERR_INTERNAL', `rwlock: base ${base} leaves room for no lock in ${i32.length} words`);
    }
    this.st = base + kState;
    this.ww = base + kWaitingWriters;
    this.ep = base + kEpoch;
    this.wr = base + kWriter;
  }

  /** Zeroes the lock words (unlocked, nobody waiting) and returns a view; call before sharing. */
  static init(i32: Int32Array, base: number): RwLock {
    const lock = new RwLock(i32, base);
    // Plain initialisation before the buffer is published to other threads; Atomics.store keeps it
    // correct even if a caller re-initialises a buffer that is already shared but idle.
    for (let i = 0; i < RWLOCK_WORDS; i++) Atomics.store(i32, base + i, 0);
    return lock;
  }

  /** Takes a read lock if that needs no waiting; never blocks. */
  tryLockRead(): boolean {
    for (;;) {
      // Load state first: a reader may join only a free or read-held lock.
      const s = Atomics.load(this.i32, this.st);
      // Writer preference: a writer that registered before this load makes new readers stand back.
      // A writer registering just after it is ordered after this reader (SC atomics), which is fine:
      // the writer's CAS below then sees our count and waits for our unlockRead.
      if (s < 0 || Atomics.load(this.i32, this.ww) > 0) return false;
      // CAS, not add: the count must move from exactly the value we judged. A failure means another
      // reader came or went, or a writer took the lock; re-judge from scratch.
      if (Atomics.compareExchange(this.i32, this.st, s, s + 1) === s) return true;
    }
  }

  /** Takes the write lock if it is free; never blocks. */
  tryLockWrite(): boolean {
    // 0 → -1 only from exactly "no readers, no writer". A successful CAS synchronises with the
    // previous holder's releasing store, so everything written under the lock before is visible.
    if (Atomics.compareExchange(this.i32, this.st, 0, WRITE_LOCKED) !== 0) return false;
    // Only the holder writes kWriter, so a plain store would do; Atomics.store keeps it visible to
    // diagnostics in other threads without a data race.
    Atomics.store(this.i32, this.wr, threadId + 1);
    return true;
  }

  /**
   * Takes a read lock, waiting while a writer holds or waits for the lock. Returns false when
   * `timeoutMs` passes first (0: try once).
   */
  lockRead(timeoutMs = Infinity): boolean {
    checkTimeout(timeoutMs);
    if (this.tryLockRead()) return true;
    if (timeoutMs === 0) return false;
    const deadline = deadlineOf(timeoutMs);
    for (;;) {
      // Read the epoch BEFORE the condition. Every release that can admit us (unlockWrite, a writer
      // giving up, the last reader leaving while a writer waits) bumps the epoch after changing the
      // words; if that happens after this load, Atomics.wait below sees a different value and
      // returns "not-equal" at once, and if it happens after we sleep, its notify wakes us.
      const seen = Atomics.load(this.i32, this.ep);
      if (this.tryLockRead()) return true;
      const left = remaining(deadline);
      if (left <= 0) return false;
      // Sleep until the epoch moves (or the timeout). The compare and the sleep are one atomic step
      // with respect to Atomics.notify, which is what makes the epoch scheme race-free.
      Atomics.wait(this.i32, this.ep, seen, left);
    }
  }

  /**
   * Takes the write lock, waiting for readers and other writers to leave; new readers are held back
   * from the moment this writer registers. Returns false when `timeoutMs` passes first (0: try once).
   */
  lockWrite(timeoutMs = Infinity): boolean {
    checkTimeout(timeoutMs);
    if (this.tryLockWrite()) return true;
    if (timeoutMs === 0) return false;
    const deadline = deadlineOf(timeoutMs);
    // Register as waiting: from here on tryLockRead refuses new readers (a reader that judged just
    // before this add may still enter; it is ordered before us and its unlockRead will see us).
    // Any last reader that decrements state after this add also sees waitingWriters > 0 and
    // notifies (see unlockRead), so the sleep below cannot miss the lock becoming free.
    Atomics.add(this.i32, this.ww, 1);
    for (;;) {
      // Epoch before condition, as in lockRead: no release can slip between the test and the sleep.
      const seen = Atomics.load(this.i32, this.ep);
      if (this.tryLockWrite()) {
        // Holding the lock now, so readers are excluded by state = -1 whatever this count says;
        // deregistering afterwards (not before) leaves no instant where readers could slip in.
        Atomics.sub(this.i32, this.ww, 1);
        return true;
      }
      const left = remaining(deadline);
      if (left <= 0) {
        // Giving up. If we were the last waiting writer, readers we were holding back may now
        // enter: bump the epoch after the decrement and wake everyone, or they sleep forever.
        Atomics.sub(this.i32, this.ww, 1);
        this.wake();
        return false;
      }
      Atomics.wait(this.i32, this.ep, seen, left);
    }
  }

  /** Releases a read lock taken by this thread. */
  unlockRead(): void {
    let s: number;
    for (;;) {
      s = Atomics.load(this.i32, this.st);
      if (s <= 0) throw new JpipdError('ERR_INTERNAL', 'rwlock: unlockRead without a read lock');
      // CAS so a mismatched unlock can never drive the count below zero or clear a writer's -1.
      if (Atomics.compareExchange(this.i32, this.st, s, s - 1) === s) break;
    }
    // Only the last reader leaving can unblock anyone (writers wait for 0; readers are never blocked
    // by readers). Skip the notify when no writer waits: this decrement of state and a writer's
    // increment of waitingWriters are both sequentially consistent, so either we see its
    // registration here, or its later compareExchange sees state = 0 and it never sleeps.
    // Readers that sleep were held back by a writer whose own acquire/unlock or give-up wakes them.
    if (s === 1 && Atomics.load(this.i32, this.ww) > 0) this.wake();
  }

  /** Releases the write lock held by this thread. */
  unlockWrite(): void {
    if (Atomics.load(this.i32, this.wr) !== threadId + 1 || Atomics.load(this.i32, this.st) !== WRITE_LOCKED) {
      throw new JpipdError('ERR_INTERNAL', 'rwlock: unlockWrite by a thread that does not hold the write lock');
    }
    // Clear ownership before the release so a new writer's own store is never overwritten by ours.
    Atomics.store(this.i32, this.wr, 0);
    // -1 → 0 is the release: all plain writes made while holding the lock happen-before any thread
    // that later acquires through an Atomics operation on this word.
    Atomics.store(this.i32, this.st, 0);
    // Waiting readers and writers are both possible; wake them all (the few pool threads re-check).
    this.wake();
  }

  /** Runs `fn` under a read lock (released in finally); throws ERR_INTERNAL on timeout. */
  withRead<T>(fn: () => T, timeoutMs = Infinity): T {
    if (!this.lockRead(timeoutMs)) throw new JpipdError('ERR_INTERNAL', `rwlock: read lock timed out after ${timeoutMs} ms`);
    try {
      return fn();
    } finally {
      this.unlockRead();
    }
  }

  /** Runs `fn` under the write lock (released in finally); throws ERR_INTERNAL on timeout. */
  withWrite<T>(fn: () => T, timeoutMs = Infinity): T {
    if (!this.lockWrite(timeoutMs)) throw new JpipdError('ERR_INTERNAL', `rwlock: write lock timed out after ${timeoutMs} ms`);
    try {
      return fn();
    } finally {
      this.unlockWrite();
    }
  }

  /** Current state word: readers holding (≥ 0) or -1 when write-locked (diagnostics and tests). */
  state(): number {
    return Atomics.load(this.i32, this.st);
  }

  /** Number of writers currently waiting (diagnostics and tests). */
  waitingWriters(): number {
    return Atomics.load(this.i32, this.ww);
  }

  /** threadId of the writer holding the lock, or -1 when none (diagnostics after a worker dies). */
  writerThreadId(): number {
    return Atomics.load(this.i32, this.wr) - 1;
  }

  /** Bumps the epoch, then wakes every thread sleeping on it. */
  private wake(): void {
    // The bump must come after the caller's state change and before notify: a waiter that loaded
    // the old epoch either sees the new one in Atomics.wait (returns at once) or is already asleep
    // and is woken here. The word wraps at 2^32; a waiter would have to miss exactly 2^32 bumps
    // between its load and its sleep to be fooled, which cannot happen in practice.
    Atomics.add(this.i32, this.ep, 1);
    Atomics.notify(this.i32, this.ep);
  }
}
