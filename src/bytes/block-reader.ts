/**
 * A read-through block cache over a ByteSource, for one response: the engine asks for thousands of
 * small packet ranges in window order (layer by layer) while they lie in file order; reading aligned
 * blocks once and slicing them turns one system call per packet into one per block.
 */
import { checkRange, type ByteSource } from './source.js';

/** Default block size: small enough that a byte-limited response over-reads little. */
export const DEFAULT_BLOCK_BYTES = 64 * 1024;
/** Default bound on cached bytes per reader. */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/** ByteSource that reads `blockBytes`-aligned blocks from `inner` and keeps the most recent ones. */
export class BlockReader implements ByteSource {
  readonly size: number;
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly maxBlocks: number;
  /** Reads issued to the inner source (for benchmarks). */
  innerReads = 0;

  constructor(
    private readonly inner: ByteSource,
    private readonly blockBytes = DEFAULT_BLOCK_BYTES,
    cacheBytes = DEFAULT_CACHE_BYTES,
  ) {
    this.size = inner.size;
    this.maxBlocks = Math.max(2, Math.floor(cacheBytes / blockBytes));
  }

  private block(index: number): Uint8Array {
    let b = this.blocks.get(index);
    if (b) {
      this.blocks.delete(index);
      this.blocks.set(index, b);
      return b;
    }
    const start = index * this.blockBytes;
    b = this.inner.read(start, Math.min(this.blockBytes, this.size - start));
    this.innerReads++;
    this.blocks.set(index, b);
    if (this.blocks.size > this.maxBlocks) this.blocks.delete(this.blocks.keys().next().value as number);
    return b;
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    if (last - first + 1 > this.maxBlocks / 2) {
      this.innerReads++;
      return this.inner.read(offset, length);
    }
    if (first === last) {
      const at = offset - first * this.blockBytes;
      return this.block(first).subarray(at, at + length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    for (let i = first; i <= last; i++) {
      const b = this.block(i);
      const from = i === first ? offset - first * this.blockBytes : 0;
      const n = Math.min(b.length - from, length - done);
      out.set(b.subarray(from, from + n), done);
      done += n;
    }
    return out;
  }
}
