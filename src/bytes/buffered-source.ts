/**
 * A read-ahead window over a ByteSource, for header scans: the scanners read a few bytes at a time
 * (box headers, marker codes, segment lengths) in mostly increasing order; reading a window of
 * `windowBytes` once and serving the small reads from it turns dozens of system calls into a few.
 * It also counts the reads it passes on, so a caller can bound a scan (`maxReads`): past the bound
 * it throws ScanBudgetExceeded and the caller hands the scan to a worker.
 */
import { checkRange, type ByteSource } from './source.js';

/** Default window: one read covers the headers of most single-tile images. */
export const DEFAULT_WINDOW_BYTES = 64 * 1024;

/** Thrown when a bounded scan needs more reads than allowed (not an image fault). */
export class ScanBudgetExceeded extends Error {
  constructor() {
    super('scan budget exceeded');
  }
}

/** ByteSource serving small reads from a read-ahead window over `inner`. */
export class BufferedSource implements ByteSource {
  readonly size: number;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  /** Reads passed on to the inner source. */
  reads = 0;

  constructor(
    private readonly inner: ByteSource,
    private readonly maxReads = Infinity,
    private readonly windowBytes = DEFAULT_WINDOW_BYTES,
  ) {
    this.size = inner.size;
  }

  read(offset: number, length: number): Uint8Array {
    checkRange(this.size, offset, length);
    const w = this.window;
    if (offset >= this.windowStart && offset + length <= this.windowStart + w.length) {
      return w.subarray(offset - this.windowStart, offset - this.windowStart + length);
    }
    this.count();
    if (length >= this.windowBytes) return this.inner.read(offset, length);
    const n = Math.min(this.windowBytes, this.size - offset);
    this.window = this.inner.read(offset, n);
    this.windowStart = offset;
    return this.window.subarray(0, length);
  }

  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    dest.set(this.read(offset, length), at);
  }

  private count(): void {
    if (++this.reads > this.maxReads) throw new ScanBudgetExceeded();
  }
}
