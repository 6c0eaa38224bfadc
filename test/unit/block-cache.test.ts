/**
 * The shared block cache: hits return the file's bytes, sets evict by CLOCK, a set whose ways are all
 * pinned is reported busy (the caller reads around), and several threads pinning, filling and
 * copying the same small cache at once never see a wrong byte. Responses served through the cache
 * are byte-identical to responses read straight from the file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BLOCK_BYTES, BlockCache, WAYS, type CacheableSource } from '../../src/bytes/block-cache.js';
import { BufferSource } from '../../src/bytes/source.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { Arena, sharedMemory } from '../../src/jpip/arena.js';
import { CacheModel } from '../../src/jpip/cache-model.js';
import { Response, type ServeRequest, type TargetAccess } from '../../src/jpip/engine.js';
import { CodestreamIndex, slotCount } from '../../src/packet-index/codestream-index.js';
import { SharedPacketIndex } from '../../src/packet-index/shared-index.js';
import { rng } from '../helpers/prng.js';

/** A source of `size` bytes where byte i of file `tag` is a function of both (so mix-ups show). */
class Pattern implements CacheableSource {
  reads = 0;
  constructor(
    readonly size: number,
    readonly cacheId: readonly [number, number],
  ) {}
  byte(i: number): number {
    return (i * 31 + this.cacheId[1] * 7 + (i >>> 11)) & 0xff;
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(out, 0, offset, length);
    return out;
  }
  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    this.reads++;
    for (let i = 0; i < length; i++) dest[at + i] = this.byte(offset + i);
  }
}

describe('block cache', () => {
  it('returns the file bytes, hits after the first fill, and keeps the short last block', () => {
    const mem = sharedMemory(16 * BLOCK_BYTES);
    const cache = new BlockCache(mem.data, mem.meta);
    const src = new Pattern(3 * BLOCK_BYTES + 1000, [1, 2]);
    for (const b of [0, 1, 2, 3, 1, 3]) {
      const slot = cache.pin(src, src.cacheId, b);
      assert.ok(slot >= 0);
      const n = cache.length(slot);
      assert.equal(n, b === 3 ? 1000 : BLOCK_BYTES);
      const out = new Uint8Array(n);
      cache.copy(slot, 0, n, out, 0);
      for (let i = 0; i < n; i += 997) assert.equal(out[i], src.byte(b * BLOCK_BYTES + i));
      cache.unpin(slot);
    }
    assert.deepEqual(cache.stats, { hits: 2, misses: 4, bypassed: 0 });
    assert.equal(src.reads, 4, 'each block read from the file once');
    const other = new Pattern(BLOCK_BYTES, [1, 3]);
    const s2 = cache.pin(other, other.cacheId, 0);
    const out = new Uint8Array(10);
    cache.copy(s2, 0, 10, out, 0);
    assert.equal(out[5], other.byte(5), 'another file version never hits this one\'s block');
    cache.unpin(s2);
  });

  it('reports a set busy when every way is pinned, and evicts by CLOCK otherwise', () => {
    const mem = sharedMemory(WAYS * BLOCK_BYTES); // one set
    const cache = new BlockCache(mem.data, mem.meta);
    const src = new Pattern(64 * BLOCK_BYTES, [5, 6]);
    const pinned = Array.from({ length: WAYS }, (_, b) => cache.pin(src, src.cacheId, b));
    assert.ok(pinned.every((s) => s >= 0));
    assert.equal(new Set(pinned).size, WAYS);
    assert.equal(cache.pin(src, src.cacheId, WAYS), -1, 'no way can be taken: read around the cache');
    assert.equal(cache.stats.bypassed, 1);
    for (const s of pinned) cache.unpin(s);
    const again = cache.pin(src, src.cacheId, WAYS);
    assert.ok(again >= 0, 'unpinned ways can be evicted');
    cache.unpin(again);
    const first = cache.pin(src, src.cacheId, 3);
    assert.ok(first >= 0);
    cache.unpin(first);
  });

  it('stays exact under several threads pinning, filling and copying a small cache at once', { timeout: 60_000 }, async () => {
    const mem = sharedMemory(2 * WAYS * BLOCK_BYTES); // two sets: constant eviction races
    const script = `
      const { workerData, parentPort } = require('node:worker_threads');
      require(${JSON.stringify(require_('tsx/cjs'))});
      const { BlockCache, BLOCK_BYTES } = require(${JSON.stringify(new URL('../../src/bytes/block-cache.ts', import.meta.url).pathname)});
      const cache = new BlockCache(workerData.data, workerData.meta);
      const byte = (tag, i) => (i * 31 + tag * 7 + (i >>> 11)) & 0xff;
      const src = (tag) => ({ size: 40 * BLOCK_BYTES, readInto(d, at, off, n) { for (let i = 0; i < n; i += 64) d[at + i] = byte(tag, off + i); } });
      const files = [src(11), src(12), src(13)];
      let seed = workerData.seed, checked = 0, wrong = 0, busy = 0;
      const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
      const out = new Uint8Array(BLOCK_BYTES);
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        const f = next() % 3, b = next() % 40;
        const slot = cache.pin(files[f], [0, 11 + f], b);
        if (slot < 0) { busy++; continue; }
        cache.copy(slot, 0, BLOCK_BYTES, out, 0);
        for (let i = 0; i < BLOCK_BYTES; i += 64 * 97) { checked++; if (out[i] !== byte(11 + f, b * BLOCK_BYTES + i)) wrong++; }
        cache.unpin(slot);
      }
      parentPort.postMessage({ checked, wrong, busy, stats: cache.stats });
    `;
    const runs = await Promise.all(
      [1, 2, 3].map(
        (seed) =>
          new Promise<{ checked: number; wrong: number; busy: number; stats: { hits: number; misses: number } }>((resolve, reject) => {
            const w = new Worker(script, { eval: true, workerData: { data: mem.data, meta: mem.meta, seed } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    const total = runs.reduce((a, r) => ({ checked: a.checked + r.checked, wrong: a.wrong + r.wrong, hits: a.hits + r.stats.hits, misses: a.misses + r.stats.misses }), { checked: 0, wrong: 0, hits: 0, misses: 0 });
    assert.ok(total.checked > 10_000, `${total.checked} bytes checked`);
    assert.equal(total.wrong, 0, 'no thread ever copied a byte of another block or file');
    assert.ok(total.hits > 0 && total.misses > 0, 'hits and evictions both happened');
  });
});

describe('responses through the block cache', () => {
  it('are byte-identical to responses read straight from the file (scattered windows of a 4096² image)', () => {
    const bytes = new Uint8Array(readFileSync(new URL('../fixtures/gray4096-rpcl-p128-l8.jp2', import.meta.url)));
    const plain = new BufferSource(bytes);
    // The same bytes as a cacheable source (the cache decides by cacheId, not by the class).
    const cached: CacheableSource = { size: plain.size, cacheId: [7, 8], read: (o, n) => plain.read(o, n), readInto: (d, a, o, n) => plain.readInto(d, a, o, n) };
    const layout = scanTarget(plain);
    const mem = sharedMemory(64 * BLOCK_BYTES);
    const access = (src: CacheableSource): TargetAccess => {
      const idx = new CodestreamIndex(layout.codestreams[0], src, SharedPacketIndex.allocate(slotCount(layout.codestreams[0])).sab);
      return { layout, codestreamCount: 1, targetSource: src, stream: () => idx };
    };
    const withCache = access(cached);
    const without = access(plain);
    const arenaCached = new Arena(256 * 1024, 256 * 1024, new BlockCache(mem.data, mem.meta));
    const arenaPlain = new Arena(256 * 1024, 256 * 1024);
    const rand = rng(42);
    const cacheOf = arenaCached.cache as BlockCache;
    for (let i = 0; i < 40; i++) {
      const d = Math.floor(rand() * 4);
      const f = 4096 >> d;
      const req: ServeRequest = {
        codestreams: [0],
        window: { fx: f, fy: f, round: 'closest', roff: { x: Math.floor(rand() * (f - 256)), y: Math.floor(rand() * (f - 256)) }, rsiz: { x: 256, y: 256 } },
        comps: null,
        metadataOnly: false,
        len: i % 3 === 0 ? 5000 : undefined,
      };
      const a = new Response(withCache, req, new CacheModel()).fill(arenaCached).slice();
      const b = new Response(without, req, new CacheModel()).fill(arenaPlain).slice();
      assert.deepEqual(a, b, `window ${JSON.stringify(req.window)}`);
    }
    assert.ok(cacheOf.stats.hits + cacheOf.stats.misses > 0, 'scattered windows went through the cache');
  });
});

/** Resolves a package path from this test (for the worker script). */
function require_(spec: string): string {
  return import.meta.resolve(spec).replace('file://', '');
}
