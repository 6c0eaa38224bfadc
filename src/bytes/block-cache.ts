/**
 * A block cache of file bytes in shared memory, used by every front-end thread. A read system call
 * from Node costs 2–20 µs here whatever its size, so a response made of scattered packets (a zoomed
 * window: tens of small runs spread over the file) is cheapest when their 64 KiB blocks are already
 * in memory: a hit is a copy out of the shared buffer, and the bytes crossed from the kernel into
 * user space once, when the block was filled. (Dense spans are read straight from the file: one
 * system call, and no slower copy out of shared memory.)
 *
 * Layout: `data` holds `slots` blocks of BLOCK_BYTES; `meta` holds META_WORDS Int32 words per slot.
 * The cache is set-associative: a (file, block) pair can live only in the WAYS slots of its set.
 *
 *   word  name     meaning
 *   0     kState   ≥ 0: threads pinning the slot for reading; -1: a thread is filling it
 *   1     kTagHi   file identity, high word     ┐ valid only while
 *   2     kTagLo   file identity, low word      │ kValid = 1
 *   3     kBlock   block number in that file    │
 *   4     kLength  bytes in the block (the last block of a file is short)
 *   5     kValid   1 when the tag and data describe a filled block
 *   6     kRef     CLOCK bit: set on a hit, cleared as the filler passes
 *
 * Protocol (no thread ever waits): a reader pins a slot with a compare-exchange of kState from
 * n ≥ 0 to n+1, then checks the tag (a filler may have replaced the block between the lookup and the
 * pin), copies, and unpins (Atomics.sub). A filler takes a victim only by a compare-exchange of
 * kState from 0 to -1 (nobody reading it), clears kValid, reads the block from the file, writes the
 * tag, sets kValid, and releases with Atomics.store(kState, 0). When no way of the set is free the
 * caller reads around the cache. Atomics.compareExchange / store / sub are sequentially consistent,
 * so a reader whose pin succeeded after a filler's release sees the filler's data and tag; a thread
 * that dies while holding a slot leaves that one slot unusable, never a wrong byte.
 */
import type { ByteSource } from './source.js';

/** Size of a cache block. */
export const BLOCK_BYTES = 64 * 1024;
/** Slots per set. */
export const WAYS = 8;
/** Blocks past this number are not cached (their number does not fit an Int32 word). */
const MAX_BLOCK = 2 ** 31;
/** Int32 words of metadata per slot. */
export const META_WORDS = 8;
const kState = 0;
const kTagHi = 1;
const kTagLo = 2;
const kBlock = 3;
const kLength = 4;
const kValid = 5;
const kRef = 6;

/** A ByteSource whose bytes the cache may keep: `cacheId` names its file version process-wide. */
export interface CacheableSource extends ByteSource {
  /** Two Int32 words identifying the file version (same file, same stamp → same words in every thread). */
  readonly cacheId?: readonly [number, number];
}

/** Counters of one thread's use of the cache. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Reads that went around the cache (their set was busy). */
  bypassed: number;
}

/** A view of the shared block cache (one per thread over the same buffers). */
export class BlockCache {
  readonly slots: number;
  private readonly sets: number;
  private readonly meta: Int32Array;
  /** Counters of this thread. */
  readonly stats: CacheStats = { hits: 0, misses: 0, bypassed: 0 };

  private readonly bytes: Uint8Array;

  /** Views the shared cache: `data` holds the blocks, `meta` the slots' words (from metaBuffer). */
  constructor(data: SharedArrayBuffer, meta: SharedArrayBuffer) {
    this.bytes = new Uint8Array(data);
    this.meta = new Int32Array(meta);
    this.slots = Math.floor(this.meta.length / META_WORDS / WAYS) * WAYS;
    this.sets = this.slots / WAYS;
    if (this.slots * BLOCK_BYTES > data.byteLength) throw new RangeError('block cache: fewer data blocks than slots');
  }

  /** Metadata buffer for a cache of `slots` slots (zeroed: every slot free and invalid). */
  static metaBuffer(slots: number): SharedArrayBuffer {
    return new SharedArrayBuffer(Math.max(WAYS, Math.floor(slots / WAYS) * WAYS) * META_WORDS * 4);
  }

  /** Copies `n` bytes at `within` of a pinned slot into `dest[at..)`. */
  copy(slot: number, within: number, n: number, dest: Uint8Array, at: number): void {
    const from = slot * BLOCK_BYTES + within;
    dest.set(this.bytes.subarray(from, from + n), at);
  }

  private setOf(hi: number, lo: number, block: number): number {
    let h = Math.imul(hi ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(lo, 0xc2b2ae35) ^ Math.imul(block | 0, 0x27d4eb2f) ^ Math.floor(block / 0x100000000);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return (h >>> 0) % this.sets;
  }

  /**
   * Pins the slot holding `block` of the file `id`, filling it from `src` on a miss. Returns the
   * slot (unpin it with `unpin` once its bytes are copied) or -1 when the set is busy: read around.
   */
  pin(src: ByteSource, id: readonly [number, number], block: number): number {
    if (block >= MAX_BLOCK) return -1; // past 128 TiB the block number no longer fits its Int32 tag
    const m = this.meta;
    const [hi, lo] = id;
    const base = this.setOf(hi, lo, block) * WAYS;
    for (let w = 0; w < WAYS; w++) {
      const at = (base + w) * META_WORDS;
      if (m[at + kValid] !== 1 || m[at + kBlock] !== block || m[at + kTagLo] !== lo || m[at + kTagHi] !== hi) continue;
      if (!this.tryPin(at)) continue;
      // Pinned: the tag can no longer change; check that it is still the block we looked up.
      if (Atomics.load(m, at + kValid) === 1 && Atomics.load(m, at + kBlock) === block && Atomics.load(m, at + kTagLo) === lo && Atomics.load(m, at + kTagHi) === hi) {
        m[at + kRef] = 1;
        this.stats.hits++;
        return base + w;
      }
      Atomics.sub(m, at + kState, 1);
    }
    // Miss: take a victim nobody reads (CLOCK over the set's ways), fill it, hand it over pinned.
    for (let pass = 0; pass < 2; pass++) {
      for (let w = 0; w < WAYS; w++) {
        const at = (base + w) * META_WORDS;
        if (pass === 0 && m[at + kRef] === 1) {
          m[at + kRef] = 0;
          continue;
        }
        if (Atomics.compareExchange(m, at + kState, 0, -1) !== 0) continue;
        Atomics.store(m, at + kValid, 0);
        const start = block * BLOCK_BYTES;
        const n = Math.min(BLOCK_BYTES, src.size - start);
        try {
          src.readInto(this.bytes, (base + w) * BLOCK_BYTES, start, n);
        } catch (e) {
          Atomics.store(m, at + kState, 0);
          throw e;
        }
        m[at + kTagHi] = hi;
        m[at + kTagLo] = lo;
        m[at + kBlock] = block;
        m[at + kLength] = n;
        m[at + kRef] = 1;
        Atomics.store(m, at + kValid, 1);
        // Release as a reader of it: -1 → 1 (this thread's pin), in one step.
        Atomics.store(m, at + kState, 1);
        this.stats.misses++;
        return base + w;
      }
    }
    this.stats.bypassed++;
    return -1;
  }

  /** Releases a pin taken by `pin`. */
  unpin(slot: number): void {
    Atomics.sub(this.meta, slot * META_WORDS + kState, 1);
  }

  /** Bytes held by slot `s` (its block may be the short last one of a file). */
  length(slot: number): number {
    return this.meta[slot * META_WORDS + kLength];
  }

  private tryPin(at: number): boolean {
    const m = this.meta;
    for (;;) {
      const s = Atomics.load(m, at + kState);
      if (s < 0) return false;
      if (Atomics.compareExchange(m, at + kState, s, s + 1) === s) return true;
    }
  }
}
