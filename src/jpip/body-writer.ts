/**
 * Writes one JPP-stream response body (15444-9 A.2) in pieces, into a thread's reusable arena. The
 * response engine decides the messages; this writer lays them out: message headers are written at
 * once, message bodies that come from the file are recorded as runs (destination, file offset,
 * length) and read when the piece is complete, so one piece costs few system calls whatever the
 * order of its messages:
 *
 *   - runs of one source whose file extent is dense enough are read with one pread into the scratch
 *     half of the arena and copied into place (layer-major windows of RPCL files: one read per piece);
 *   - otherwise every run of at least DIRECT_READ_BYTES is read straight into its place, and smaller
 *     ones through aligned blocks read once into the scratch half.
 *
 * A message whose body does not fit in the piece continues at the start of the next piece (the
 * "carry"); headers are never split. Class/codestream elision (indicator 1/2) runs across pieces: the
 * pieces are one body.
 */
import { binHeaderLength, EOR_LENGTH, MAX_HEADER_LENGTH, NO_PREVIOUS, putBinHeader, writeEor } from '../bytes/jpp.js';
import { BLOCK_BYTES, type BlockCache, type CacheableSource } from '../bytes/block-cache.js';
import type { Arena } from './arena.js';
import type { ByteSource } from '../bytes/source.js';

/** Runs at least this long are read straight into place (no copy through the scratch half). */
export const DIRECT_READ_BYTES = 8 * 1024;
/** Scattered runs go through the block cache when they touch at least this many scratch blocks. */
export const CACHE_MIN_BLOCKS = 3;
/** Block size of the scratch block cache used for small scattered runs. */
export const READ_BLOCK_BYTES = 32 * 1024;
/**
 * Costs that choose how a piece's file spans are read, measured on the benchmark machine (Node 20,
 * page-cached file): a pread costs ~3 µs plus ~0.05 ns per byte; moving a run within the private
 * arena ~55 ns; copying a run out of the shared block cache ~200 ns with its share of pins (V8 copies
 * out of a SharedArrayBuffer with per-call overhead and slower loops). So an extent read wins even
 * when most of the extent is not needed, as long as it is not huge per run copied.
 */
const READ_CALL_NS = 3000;
const READ_NS_PER_BYTE = 0.05;
const MOVE_RUN_NS = 55;
const CACHE_RUN_NS = 200;

/** Distinct READ_BLOCK_BYTES blocks runs [from, to) touch, counted up to `cap`. */
function blocksTouched(off: Float64Array, len: Int32Array, from: number, to: number, cap: number): number {
  const seen: number[] = [];
  for (let r = from; r < to && seen.length < cap; r++) {
    const first = Math.floor(off[r] / READ_BLOCK_BYTES);
    const last = Math.floor((off[r] + len[r] - 1) / READ_BLOCK_BYTES);
    for (let b = first; b <= last && seen.length < cap; b++) if (!seen.includes(b)) seen.push(b);
  }
  return seen.length;
}

/** Runs up to this long are moved byte by byte: a copyWithin call costs ~40 ns whatever the length. */
const SMALL_MOVE_BYTES = 8;

/**
 * Moves `n` bytes within `buf` from `from` to `dest` (the two never overlap: one is in the piece,
 * the other in the scratch half). Most runs of a whole-frame response are 1-byte empty packets
 * (68 % of a 4096² frame's 11,054, 38 % of a 1024² view's): byte by byte they cost 6–20 ns instead
 * of 37–49 ns (measured here, Node 20).
 */
function move(buf: Uint8Array, dest: number, from: number, n: number): void {
  if (n <= SMALL_MOVE_BYTES) for (let k = 0; k < n; k++) buf[dest + k] = buf[from + k];
  else buf.copyWithin(dest, from, from + n);
}

/** Body bytes of a piece still to be read: run i goes from sources[src[i]] at off[i] into dest[i]. */
class Runs {
  dest = new Int32Array(4096);
  off = new Float64Array(4096);
  len = new Int32Array(4096);
  src = new Int32Array(4096);
  count = 0;

  add(dest: number, off: number, len: number, src: number): void {
    if (this.count === this.dest.length) this.grow();
    const r = this.count++;
    this.dest[r] = dest;
    this.off[r] = off;
    this.len[r] = len;
    this.src[r] = src;
  }

  private grow(): void {
    const n = this.dest.length * 2;
    const dest = new Int32Array(n);
    const off = new Float64Array(n);
    const len = new Int32Array(n);
    const src = new Int32Array(n);
    dest.set(this.dest);
    off.set(this.off);
    len.set(this.len);
    src.set(this.src);
    Object.assign(this, { dest, off, len, src });
  }
}

/** The thread's runs (module state: each thread has its own module instance). */
const RUNS = new Runs();
/** Cache slots pinned while one piece's runs of one source are copied (block → slot, -1: bypassed). */
const PINNED = new Map<number, number>();

/** Room a message needs before it may start in a piece: the largest header plus one body byte. */
const MESSAGE_ROOM = MAX_HEADER_LENGTH + 1;

/**
 * Incremental JPP body writer over an Arena. A measuring writer (`measure`) writes nothing and has
 * no piece limit: it only counts, so a walk through it gives the exact body length up front.
 */
export class BodyWriter {
  /** Message bytes written so far over all pieces (headers and bodies, EOR excluded). */
  length = 0;
  /** Messages written (EOR excluded). */
  messages = 0;
  /** Body bytes written (headers excluded). */
  dataBytes = 0;
  /** Class of the previous message (NO_PREVIOUS before the first), for indicator elision. */
  private prevCls = NO_PREVIOUS;
  private prevCs = 0;

  private arena: Arena | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;

  // Runs of the current piece live in the thread's shared Runs (a piece is begun and finished in
  // one synchronous fill, so one set of run arrays serves every response of the thread). They name
  // their source by its index in `sources`, which lasts as long as the response.
  private readonly sources: ByteSource[] = [];
  private readonly groups: number[] = [];

  // The carry: body bytes of the last message still to be placed in the next piece.
  private carrySrc = -1;
  private carryInline: Uint8Array | null = null;
  private carryOff = 0;
  private carryLeft = 0;
  private eorWritten = false;

  constructor(private readonly measure = false) {}

  /** Starts a piece of at most `capacity` bytes in `arena`, first placing any carried body bytes. */
  begin(arena: Arena, capacity: number): void {
    if (this.measure) {
      this.end = Infinity;
      return;
    }
    this.arena = arena;
    this.buf = arena.bytes;
    this.pos = arena.base;
    this.end = arena.base + Math.min(capacity, arena.pieceBytes);
    RUNS.count = 0;
    if (this.carryLeft > 0) {
      const left = this.carryLeft;
      this.carryLeft = 0;
      if (this.carryInline) this.inlineBody(this.carryInline, this.carryOff, left);
      else this.fileBody(this.carrySrc, this.carryOff, left);
    }
  }

  /** Bytes placed in the current piece. */
  get pieceLength(): number {
    return this.pos - (this.arena?.base ?? 0);
  }

  /** True when a new message may start in this piece (nothing carried, room for a header and a byte). */
  ready(): boolean {
    return this.carryLeft === 0 && this.end - this.pos >= MESSAGE_ROOM;
  }

  /** True once the EOR message has been written (the body is complete when this piece is finished). */
  get finished(): boolean {
    return this.eorWritten;
  }

  /**
   * The number by which messages name `src` within `group` (register each once). Runs are read group
   * by group, each group's file extent with one read when it is dense: the engine passes the
   * codestream as the group, since the frames of an embedded movie share one file and each frame's
   * packets are dense on their own where all of a response's frames together are not.
   */
  source(src: ByteSource, group = -1): number {
    for (let i = 0; i < this.sources.length; i++) if (this.sources[i] === src && this.groups[i] === group) return i;
    this.groups.push(group);
    return this.sources.push(src) - 1;
  }

  /** Header bytes a message would take now (depends on the previous message's class and codestream). */
  headerLength(cls: number, codestream: number, id: number, offset: number, length: number): number {
    return binHeaderLength(cls, codestream, id, offset, length, this.prevCls, this.prevCs);
  }

  /**
   * Writes one message whose `length` body bytes are read from source `src` (see source()) at
   * `fileOffset` when the piece is finished. Call only when ready(); bytes that do not fit in this
   * piece are carried into the next one.
   */
  fileMessage(cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean, src: number, fileOffset: number): void {
    this.header(cls, codestream, id, offset, length, complete);
    if (length > 0) this.fileBody(src, fileOffset, length);
  }

  /**
   * The hot path of fileMessage for a precinct packet: writes the message only if it is ready, its
   * header and whole body fit in this piece, and the response's message bytes stay within
   * `budget`; otherwise writes nothing and returns false (the caller takes the general path).
   */
  tryFileMessage(cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean, src: number, fileOffset: number, budget: number): boolean {
    const start = this.pos;
    if (this.carryLeft > 0 || this.measure) return false;
    const end = putBinHeader(this.buf, start, cls, codestream, id, offset, length, complete, this.prevCls, this.prevCs);
    const total = end - start + length;
    if (this.length + total > budget || start + total > this.end) return false; // header bytes past pos are simply overwritten later
    this.pos = end;
    this.length += total;
    this.prevCls = cls;
    this.prevCs = codestream;
    this.messages++;
    this.dataBytes += length;
    if (length > 0) {
      RUNS.add(end, fileOffset, length, src);
      this.pos = end + length;
    }
    return true;
  }

  /** Writes one message whose body is `bytes[at, at+length)` (placeholders, rewritten boxes). */
  inlineMessage(cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean, bytes: Uint8Array, at: number): void {
    this.header(cls, codestream, id, offset, length, complete);
    if (length > 0) this.inlineBody(bytes, at, length);
  }

  /** Writes the EOR message (15444-9 D.3) if 3 bytes are free; returns false when it must wait for the next piece. */
  eor(reason: number): boolean {
    if (this.carryLeft > 0 || this.end - this.pos < EOR_LENGTH) return false;
    this.pos = this.measure ? this.pos + EOR_LENGTH : writeEor(this.buf, this.pos, reason);
    this.eorWritten = true;
    return true;
  }

  private header(cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean): void {
    const start = this.pos;
    this.pos = this.measure
      ? start + binHeaderLength(cls, codestream, id, offset, length, this.prevCls, this.prevCs)
      : putBinHeader(this.buf, start, cls, codestream, id, offset, length, complete, this.prevCls, this.prevCs);
    this.length += this.pos - start + length;
    this.prevCls = cls;
    this.prevCs = codestream;
    this.messages++;
    this.dataBytes += length;
  }

  /** Records a run for as many body bytes as fit, carrying the rest. */
  private fileBody(src: number, off: number, n: number): void {
    if (this.measure) {
      this.pos += n;
      return;
    }
    const fit = Math.min(n, this.end - this.pos);
    if (fit > 0) RUNS.add(this.pos, off, fit, src);
    this.pos += fit;
    if (fit < n) {
      this.carrySrc = src;
      this.carryInline = null;
      this.carryOff = off + fit;
      this.carryLeft = n - fit;
    }
  }

  /** Copies as many inline body bytes as fit, carrying the rest. */
  private inlineBody(bytes: Uint8Array, at: number, n: number): void {
    if (this.measure) {
      this.pos += n;
      return;
    }
    const fit = Math.min(n, this.end - this.pos);
    this.buf.set(bytes.subarray(at, at + fit), this.pos);
    this.pos += fit;
    if (fit < n) {
      this.carryInline = bytes;
      this.carryOff = at + fit;
      this.carryLeft = n - fit;
    }
  }

  /** Reads every run of the piece into place; returns the piece's length. */
  finishPiece(): number {
    if (this.measure) return this.pos;
    const runs = RUNS;
    const cache = (this.arena as Arena).cache;
    let i = 0;
    while (i < runs.count) {
      // Runs are recorded codestream by codestream, so runs of one source are mostly consecutive.
      let j = i + 1;
      while (j < runs.count && runs.src[j] === runs.src[i]) j++;
      const src = this.sources[runs.src[i]] as CacheableSource;
      this.readRuns(src, i, j, cache && src.cacheId ? cache : null);
      i = j;
    }
    runs.count = 0;
    return this.pos - (this.arena as Arena).base;
  }

  /**
   * Copies runs [from, to) of one source from the shared block cache, filling missing blocks from
   * the file. Each block is pinned once for the whole piece and released at the end.
   */
  private readCached(cache: BlockCache, src: ByteSource, id: readonly [number, number], from: number, to: number): void {
    const { dest: runDest, off: runOff, len: runLen } = RUNS;
    const buf = this.buf;
    const pinned = PINNED;
    try {
      for (let r = from; r < to; r++) {
        let off = runOff[r];
        let n = runLen[r];
        let dest = runDest[r];
        while (n > 0) {
          const b = Math.floor(off / BLOCK_BYTES);
          let slot = pinned.get(b);
          if (slot === undefined) {
            slot = cache.pin(src, id, b);
            pinned.set(b, slot);
          }
          if (slot < 0) {
            // The block's set is busy: read around the cache.
            src.readInto(buf, dest, off, n);
            break;
          }
          const within = off - b * BLOCK_BYTES;
          const k = Math.min(n, BLOCK_BYTES - within);
          cache.copy(slot, within, k, buf, dest);
          off += k;
          dest += k;
          n -= k;
        }
      }
    } finally {
      for (const slot of pinned.values()) if (slot >= 0) cache.unpin(slot);
      pinned.clear();
    }
  }

  /**
   * Reads runs [from, to) of one source: a dense extent with one read into the scratch region and
   * copies within the arena; scattered runs from the block cache when there is one, else from
   * blocks read once into the scratch region.
   */
  private readRuns(src: ByteSource, from: number, to: number, cache: BlockCache | null): void {
    const { dest: runDest, off: runOff, len: runLen } = RUNS;
    const arena = this.arena as Arena;
    const buf = this.buf;
    const scratch = arena.scratchBase;
    let lo = Infinity;
    let hi = 0;
    let sum = 0;
    for (let r = from; r < to; r++) {
      const o = runOff[r];
      const e = o + runLen[r];
      if (o < lo) lo = o;
      if (e > hi) hi = e;
      sum += runLen[r];
    }
    const extent = hi - lo;
    const runs = to - from;
    // One read of the whole extent when it costs less than copying each run out of the shared cache
    // (costs measured here: native-free-bench notes in ADR 0003); without a cache, when it is dense.
    const extentNs = READ_CALL_NS + extent * READ_NS_PER_BYTE + runs * MOVE_RUN_NS;
    const worthIt = cache ? extentNs <= runs * CACHE_RUN_NS : extent <= 2 * sum + READ_BLOCK_BYTES;
    if (extent <= arena.scratchBytes && (worthIt || extent <= 2 * sum + READ_BLOCK_BYTES)) {
      // One read of the whole extent, then copies within the arena (no allocation).
      src.readInto(buf, scratch, lo, extent);
      for (let r = from; r < to; r++) move(buf, runDest[r], scratch + (runOff[r] - lo), runLen[r]);
      return;
    }
    // Scattered over many blocks (a small window deep in a large image): the shared block cache saves
    // a system call per block; copies out of shared memory are slower, so a few blocks are read.
    if (cache && blocksTouched(runOff, runLen, from, to, CACHE_MIN_BLOCKS) >= CACHE_MIN_BLOCKS) {
      this.readCached(cache, src, (src as CacheableSource).cacheId as readonly [number, number], from, to);
      return;
    }
    // Sparse: big runs straight into place; small ones through blocks read once into the scratch half.
    const slots = Math.floor(arena.scratchBytes / READ_BLOCK_BYTES);
    const blocks = new Map<number, number>();
    for (let r = from; r < to; r++) {
      let off = runOff[r];
      let n = runLen[r];
      let dest = runDest[r];
      if (n >= DIRECT_READ_BYTES) {
        src.readInto(buf, dest, off, n);
        continue;
      }
      while (n > 0) {
        const b = Math.floor(off / READ_BLOCK_BYTES);
        let slot = blocks.get(b);
        if (slot === undefined) {
          if (blocks.size === slots) blocks.clear();
          slot = scratch + blocks.size * READ_BLOCK_BYTES;
          const at = b * READ_BLOCK_BYTES;
          src.readInto(buf, slot, at, Math.min(READ_BLOCK_BYTES, src.size - at));
          blocks.set(b, slot);
        }
        const within = off - b * READ_BLOCK_BYTES;
        const k = Math.min(n, READ_BLOCK_BYTES - within);
        move(buf, dest, slot + within, k);
        off += k;
        dest += k;
        n -= k;
      }
    }
  }
}
