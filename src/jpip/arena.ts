/**
 * Where responses are produced: a thread's Arena (piece and scratch regions) inside a buffer it may
 * share with the process's block cache. A server makes one SharedArrayBuffer for the block cache and
 * every front-end thread's arena (SharedMemory), so that a cached block reaches a piece with one
 * copyWithin; an in-process harness may use a private arena without a cache.
 */
import { BLOCK_BYTES, BlockCache } from '../bytes/block-cache.js';
import { MAX_HEADER_LENGTH } from '../bytes/jpp.js';
import { JpipdError } from '../errors.js';
import { READ_BLOCK_BYTES } from './body-writer.js';

/** Default size of the output half of an arena: the largest body produced in one piece. */
export const DEFAULT_PIECE_BYTES = 2 * 1024 * 1024 + 64 * 1024;
/** Default size of the scratch half (file spans are read there before being copied into place). */
export const DEFAULT_SCRATCH_BYTES = 2 * 1024 * 1024;
/**
 * A thread's reusable memory for producing responses: a piece region where pieces are written and a
 * scratch region where file spans are read, in the thread's own ArrayBuffer (copies inside a private
 * buffer are plain memmoves; V8 copies to and from shared memory with slower relaxed-atomic loops).
 * It also holds the thread's view of the process's shared block cache, if any. A piece handed to the
 * transport is valid until the thread produces the next one.
 */
export class Arena {
  readonly bytes: Uint8Array;
  /** First byte of the piece region in `bytes`. */
  readonly base = 0;
  /** First byte of the scratch region in `bytes`. */
  readonly scratchBase: number;

  constructor(
    readonly pieceBytes = DEFAULT_PIECE_BYTES,
    readonly scratchBytes = DEFAULT_SCRATCH_BYTES,
    /** The shared block cache used for scattered reads (null: read the file every time). */
    readonly cache: BlockCache | null = null,
  ) {
    if (pieceBytes < 4 * MAX_HEADER_LENGTH || scratchBytes < READ_BLOCK_BYTES) throw new JpipdError('ERR_INTERNAL', 'arena too small');
    this.bytes = new Uint8Array(pieceBytes + scratchBytes);
    this.scratchBase = pieceBytes;
  }
}

/** The process's shared read memory: the block cache, posted to every front-end thread. */
export interface SharedMemory {
  /** The block cache's data. */
  data: SharedArrayBuffer;
  /** The block cache's metadata words. */
  meta: SharedArrayBuffer;
}

/** Default block cache size. */
export const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;

/**
 * Makes the shared block cache of about `cacheBytes` (0: none). Pages are committed as they are
 * first written: an unused cache costs address space only.
 */
export function sharedMemory(cacheBytes = DEFAULT_CACHE_BYTES): SharedMemory {
  const slots = Math.floor(cacheBytes / BLOCK_BYTES / 8) * 8;
  return { data: new SharedArrayBuffer(slots * BLOCK_BYTES), meta: BlockCache.metaBuffer(slots) };
}

/** A new arena for this thread with its view of the shared block cache (none when it has no slots). */
export function arenaIn(mem: SharedMemory): Arena {
  return new Arena(DEFAULT_PIECE_BYTES, DEFAULT_SCRATCH_BYTES, mem.data.byteLength >= BLOCK_BYTES * 8 ? new BlockCache(mem.data, mem.meta) : null);
}
