/** BlockReader returns exactly the inner source's bytes for any range, with far fewer inner reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockReader } from '../../src/bytes/block-reader.js';
import { BufferSource, type ByteSource } from '../../src/bytes/source.js';

class Counting implements ByteSource {
  reads = 0;
  constructor(private readonly inner: BufferSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(o: number, n: number): Uint8Array {
    this.reads++;
    return this.inner.read(o, n);
  }
}

describe('BlockReader', () => {
  it('matches the inner source on random ranges (within, across and beyond blocks)', () => {
    const bytes = new Uint8Array(100_003);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const src = new BufferSource(bytes);
    const r = new BlockReader(src, 1000, 10_000);
    for (let i = 0; i < 2000; i++) {
      const o = (x = (x * 1103515245 + 12345) >>> 0) % bytes.length;
      const n = Math.min(bytes.length - o, ((x = (x * 1103515245 + 12345) >>> 0) % 9000) | 0);
      assert.deepEqual(r.read(o, n), bytes.subarray(o, o + n));
    }
    assert.throws(() => r.read(bytes.length - 1, 2), { code: 'ERR_IMAGE_CORRUPT' });
  });

  it('reads each block once for many small ranges in scattered order', () => {
    const inner = new Counting(new BufferSource(new Uint8Array(1 << 20)));
    const r = new BlockReader(inner, 64 * 1024, 4 << 20);
    for (let pass = 0; pass < 4; pass++) for (let o = pass * 37; o + 50 < 1 << 20; o += 997) r.read(o, 50);
    assert.equal(inner.reads, 16);
  });
});
