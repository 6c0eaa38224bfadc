/**
 * The image registry: one entry per image version shared by all sessions, concurrent opens
 * coalesced, changed files re-opened, and unreferenced images dropped least recently used first
 * when shared index memory exceeds the budget.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageRegistry, type OpenedSummary } from '../../src/packet-index/registry.js';
import { indexByteLength } from '../../src/packet-index/shared-index.js';

function fakeFs() {
  const stamps = new Map<string, { size: number; mtimeMs: number }>();
  let opens = 0;
  const registry = (budget: number) =>
    new ImageRegistry<OpenedSummary>(
      async (abs, rel) => {
        opens++;
        await new Promise((r) => setTimeout(r, 5));
        const st = stamps.get(abs) ?? { size: 1, mtimeMs: 1 };
        return { key: `${rel}|${st.size}|${st.mtimeMs}`, size: st.size, mtimeMs: st.mtimeMs, codestreams: 2, slotCounts: [10_000, 10_000] };
      },
      async (abs) => stamps.get(abs) ?? { size: 1, mtimeMs: 1 },
      budget,
    );
  return { stamps, registry, opens: () => opens };
}

describe('image registry', () => {
  it('opens an image once for concurrent acquirers and shares one entry', async () => {
    const f = fakeFs();
    const reg = f.registry(1 << 30);
    const [a, b, c] = await Promise.all([reg.acquire('/r/x', 'x'), reg.acquire('/r/x', 'x'), reg.acquire('/r/x', 'x')]);
    assert.equal(f.opens(), 1);
    assert.ok(a === b && b === c);
    assert.equal(a.refs, 3);
    assert.equal(reg.sab(a, 0), reg.sab(b, 0), 'one shared index per codestream');
  });

  it('re-opens an image whose size or mtime changed, under a new key', async () => {
    const f = fakeFs();
    const reg = f.registry(1 << 30);
    const a = await reg.acquire('/r/x', 'x');
    f.stamps.set('/r/x', { size: 1, mtimeMs: 2 });
    const b = await reg.acquire('/r/x', 'x');
    assert.equal(f.opens(), 2);
    assert.notEqual(a.key, b.key);
  });

  it('keeps index memory within the budget by dropping unreferenced images, least recently used first', async () => {
    const f = fakeFs();
    const one = indexByteLength(10_000);
    const reg = f.registry(2 * one);
    const imgs = [];
    for (const name of ['a', 'b', 'c']) {
      const img = await reg.acquire(`/r/${name}`, name);
      reg.sab(img, 0);
      reg.release(img);
      imgs.push(img);
      await new Promise((r) => setTimeout(r, 2));
    }
    const st = reg.stats();
    assert.ok(st.indexBytes <= 2 * one, `${st.indexBytes} > budget`);
    assert.equal(st.evictions, 1);
    assert.equal(imgs[0].sabs.length, 0, 'the least recently used image lost its index');
    // A referenced image is never dropped, even over budget.
    const held = await reg.acquire('/r/d', 'd');
    reg.sab(held, 0);
    reg.sab(held, 1);
    assert.equal(held.sabs.length, 2);
    assert.ok(held.bytes > 0);
  });
});
