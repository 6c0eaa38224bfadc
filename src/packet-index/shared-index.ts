/**
 * The per-codestream packet table shared by every worker thread: one SharedArrayBuffer holding a
 * 64-byte header of Int32 words (a RwLock first), then `Float64 offsets[slotCount]` and
 * `Uint32 lengths[slotCount]` (12 bytes per packet). Slots are numbered by the caller, level-major,
 * so the first resolution levels fill the first pages; pages never written are never committed.
 * A level is published by copying precomputed records under the write lock and then storing
 * `levelsIndexed`; readers copy records out under the read lock. docs/index-layout.md has the map.
 */
import { ERROR_CODES, JpipdError, overLimit, type ErrorCode } from '../errors.js';
import { RWLOCK_WORDS, RwLock } from './rwlock.js';

/** Word offset of the RwLock guarding the table (its words are the first RWLOCK_WORDS). */
export const kLock = 0;
/** Word offset of the number of resolution levels 0..n-1 whose packets are all published. */
export const kLevelsIndexed = RWLOCK_WORDS;
/** Word offset of the index state: 0 building/ok, else 1 + position of an ErrorCode in ERROR_CODES. */
export const kIndexState = RWLOCK_WORDS + 1;
/** Word offset of the number of packet slots in the table. */
export const kSlotCount = RWLOCK_WORDS + 2;
/** Word offset of the layout version (INDEX_LAYOUT_VERSION). */
export const kVersion = RWLOCK_WORDS + 3;
/** Word offset of the magic word (INDEX_MAGIC) that tells a packet index from any other buffer. */
export const kMagic = RWLOCK_WORDS + 4;
/** Header size in Int32 words (the rest up to HEADER_BYTES is reserved, zero). */
export const HEADER_WORDS = 16;
/** Header size in bytes: one 64-byte cache line, so lock traffic never shares a line with records. */
export const HEADER_BYTES = HEADER_WORDS * 4;
/** Bytes of shared memory per packet slot (Float64 offset + Uint32 length). */
export const BYTES_PER_PACKET = 12;
/** Largest slot count accepted (2^28 slots = 3 GiB of table). */
export const MAX_SLOTS = 2 ** 28;
/** Largest number of resolution levels (NL ≤ 32, so 33 levels; 15444-1 A.6.1 SPcod). */
export const MAX_LEVELS = 33;
/** Version of this layout; attach refuses any other. */
export const INDEX_LAYOUT_VERSION = 1;
/** Magic word 'JPIX' (0x4a504958) stored in every packet index header. */
export const INDEX_MAGIC = 0x4a504958;
/** Default lock timeout (ms): a dead holder turns into an error instead of a hung worker. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** A writable array of numbers: a typed array or a plain array with room for the results. */
export interface NumberSink {
  [index: number]: number;
  readonly length: number;
}

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** Byte size of a table of `slotCount` slots (header + offsets + lengths). */
export function indexByteLength(slotCount: number): number {
  return HEADER_BYTES + slotCount * BYTES_PER_PACKET;
}

/** Throws unless `slotCount` is an integer in 1..MAX_SLOTS. */
function checkSlotCount(slotCount: number): void {
  if (!Number.isSafeInteger(slotCount) || slotCount < 1) {
    throw new JpipdError('ERR_INTERNAL', `packet index: bad slot count ${slotCount}`);
  }
  if (slotCount > MAX_SLOTS) throw overLimit(`packet index: ${slotCount} packets exceed the limit of ${MAX_SLOTS}`);
}

/** A view over one codestream's shared packet table; cheap to create in every thread. */
export class SharedPacketIndex {
  /** The lock guarding offsets, lengths and levelsIndexed. */
  readonly lock: RwLock;
  /** Number of packet slots. */
  readonly slotCount: number;
  private readonly header: Int32Array;
  private readonly offsets: Float64Array;
  private readonly lengths: Uint32Array;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.header = new Int32Array(sab, 0, HEADER_WORDS);
    this.slotCount = Atomics.load(this.header, kSlotCount);
    // HEADER_BYTES is a multiple of 8, so the Float64Array is aligned; the Uint32Array follows
    // 8 * slotCount bytes later, a multiple of 4. The typed-array constructors re-check both.
    this.offsets = new Float64Array(sab, HEADER_BYTES, this.slotCount);
    this.lengths = new Uint32Array(sab, HEADER_BYTES + 8 * this.slotCount, this.slotCount);
    this.lock = new RwLock(this.header, kLock);
  }

  /** Allocates and initialises a zeroed table of `slotCount` slots with nothing published. */
  static allocate(slotCount: number): SharedPacketIndex {
    checkSlotCount(slotCount);
    let sab: SharedArrayBuffer;
    try {
      sab = new SharedArrayBuffer(indexByteLength(slotCount));
    } catch {
      throw new JpipdError('ERR_INDEX_BUDGET', `packet index: cannot allocate ${indexByteLength(slotCount)} bytes`);
    }
    const header = new Int32Array(sab, 0, HEADER_WORDS);
    RwLock.init(header, kLock);
    // The buffer is not shared yet; these stores are published to other threads by postMessage.
    Atomics.store(header, kSlotCount, slotCount);
    Atomics.store(header, kVersion, INDEX_LAYOUT_VERSION);
    Atomics.store(header, kMagic, INDEX_MAGIC);
    return new SharedPacketIndex(sab);
  }

  /** Attaches to a table made by `allocate` (typically received through postMessage). */
  static attach(sab: SharedArrayBuffer): SharedPacketIndex {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_BYTES) {
      throw new JpipdError('ERR_INTERNAL', 'packet index: not a packet index buffer');
    }
    const header = new Int32Array(sab, 0, HEADER_WORDS);
    if (Atomics.load(header, kMagic) !== INDEX_MAGIC || Atomics.load(header, kVersion) !== INDEX_LAYOUT_VERSION) {
      throw new JpipdError('ERR_INTERNAL', 'packet index: wrong magic or layout version');
    }
    const slotCount = Atomics.load(header, kSlotCount);
    checkSlotCount(slotCount);
    if (sab.byteLength !== indexByteLength(slotCount)) {
      throw new JpipdError('ERR_INTERNAL', `packet index: ${sab.byteLength} bytes do not fit ${slotCount} slots`);
    }
    return new SharedPacketIndex(sab);
  }

  /** Total size of the shared buffer in bytes. */
  get byteLength(): number {
    return this.sab.byteLength;
  }

  /** Number of resolution levels whose packets are all published (lock-free read). */
  levelsIndexed(): number {
    // Atomics.load pairs with the Atomics.store in publishLevels; it tells a caller whether to
    // publish first, and readPackets' read lock then orders the record reads themselves.
    return Atomics.load(this.header, kLevelsIndexed);
  }

  /** The error code this index failed with, or null while it is building or ok. */
  failure(): ErrorCode | null {
    const v = Atomics.load(this.header, kIndexState);
    return v === 0 ? null : (CODES[v - 1] ?? 'ERR_INTERNAL');
  }

  /**
   * Marks the index failed with `code` (first failure wins; returns whether this call set it).
   * Takes no lock, so it works even when a dead worker still holds one.
   */
  fail(code: ErrorCode): boolean {
    const v = CODES.indexOf(code) + 1 || CODES.indexOf('ERR_INTERNAL') + 1;
    // CAS from 0 so a later, secondary failure never overwrites the first cause.
    return Atomics.compareExchange(this.header, kIndexState, 0, v) === 0;
  }

  /**
   * Copies the offset and length of each slot in `slots` into `outOffsets[i]`, `outLengths[i]`
   * under the read lock. Callers read only slots of levels below levelsIndexed().
   */
  readPackets(slots: ArrayLike<number>, outOffsets: NumberSink, outLengths: NumberSink, timeoutMs = DEFAULT_LOCK_TIMEOUT_MS): void {
    const n = slots.length;
    if (outOffsets.length < n || outLengths.length < n) {
      throw new JpipdError('ERR_INTERNAL', `packet index: output arrays shorter than ${n} slots`);
    }
    this.throwIfFailed();
    const { offsets, lengths, slotCount } = this;
    this.lock.withRead(() => {
      for (let i = 0; i < n; i++) {
        const s = slots[i];
        if (!Number.isInteger(s) || s < 0 || s >= slotCount) {
          throw new JpipdError('ERR_INTERNAL', `packet index: slot ${s} outside 0..${slotCount - 1}`);
        }
        outOffsets[i] = offsets[s];
        outLengths[i] = lengths[s];
      }
    }, timeoutMs);
  }

  /**
   * The hot-path form of readPackets: copies the records of `slots[0..count)` into typed arrays under
   * one read lock (a window's records in one short critical section). Throws ERR_BUSY when the lock
   * is not had within `timeoutMs` (a front end never waits long), ERR_INTERNAL for a slot outside the table.
   */
  copyRecords(slots: Int32Array, count: number, outOffsets: Float64Array, outLengths: Uint32Array, timeoutMs = DEFAULT_LOCK_TIMEOUT_MS): void {
    if (outOffsets.length < count || outLengths.length < count || slots.length < count) {
      throw new JpipdError('ERR_INTERNAL', `packet index: arrays shorter than ${count} slots`);
    }
    this.throwIfFailed();
    if (!this.lock.lockRead(timeoutMs)) throw new JpipdError('ERR_BUSY', 'packet index: busy (read lock not available)');
    try {
      const { offsets, lengths, slotCount } = this;
      for (let i = 0; i < count; i++) {
        const s = slots[i];
        // Int32 values: one unsigned compare rejects negatives and slots past the end.
        if (s >>> 0 >= slotCount) throw new JpipdError('ERR_INTERNAL', `packet index: slot ${s} outside 0..${slotCount - 1}`);
        outOffsets[i] = offsets[s];
        outLengths[i] = lengths[s];
      }
    } finally {
      this.lock.unlockRead();
    }
  }

  /**
   * Publishes resolution levels up to `levelCount`: under the write lock, re-checks levelsIndexed,
   * calls `fill` to write the new levels' slots (and only those), then stores levelCount. Returns
   * false without calling `fill` when another thread already published that far.
   */
  publishLevels(levelCount: number, fill: (offsets: Float64Array, lengths: Uint32Array) => void, timeoutMs = DEFAULT_LOCK_TIMEOUT_MS): boolean {
    if (!Number.isInteger(levelCount) || levelCount < 1 || levelCount > MAX_LEVELS) {
      throw new JpipdError('ERR_INTERNAL', `packet index: bad level count ${levelCount}`);
    }
    this.throwIfFailed();
    // Lock-free fast path: levels never go down, so a value already ≥ levelCount stays so.
    if (this.levelsIndexed() >= levelCount) return false;
    return this.lock.withWrite(() => {
      // Re-check inside the lock: another worker may have published while we waited for it.
      if (Atomics.load(this.header, kLevelsIndexed) >= levelCount) return false;
      this.throwIfFailed();
      fill(this.offsets, this.lengths);
      // After the plain record writes, still inside the lock: a thread whose Atomics.load sees the
      // new count also sees the records (sequentially consistent store/load synchronise), and
      // readPackets reads them under the read lock, ordered after our unlockWrite, in any case.
      Atomics.store(this.header, kLevelsIndexed, levelCount);
      return true;
    }, timeoutMs);
  }

  /** Throws the stored failure, if any, as a JpipdError. */
  private throwIfFailed(): void {
    const code = this.failure();
    if (code !== null) throw new JpipdError(code, 'packet index failed earlier');
  }
}
