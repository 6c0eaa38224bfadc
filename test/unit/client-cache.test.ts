import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JppError } from '../../src/bytes/jpp.js';
import { DataBinCache, type BinKey } from '../../src/client/databin-cache.js';
import { rng } from '../helpers/prng.js';

const BIN: BinKey = { cls: 0, codestream: 0, id: 7 };
const bytes = (from: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const msg = (offset: number, n: number, complete = false, key: BinKey = BIN) => ({
  ...key,
  offset,
  complete,
  body: bytes(offset, n),
});


test('in-order messages build a complete bin', () => {
  const c = new DataBinCache();
  c.add(msg(0, 10));
  assert.equal(c.contiguousLength(BIN), 10);
  assert.equal(c.isComplete(BIN), false);
  c.add(msg(10, 5, true));
  assert.equal(c.isComplete(BIN), true);
  assert.equal(c.finalLength(BIN), 15);
  assert.deepEqual(c.get(BIN), bytes(0, 15));
});

test('out-of-order and overlapping messages merge; the gap limits the prefix', () => {
  const c = new DataBinCache();
  c.add(msg(20, 10, true));
  assert.equal(c.contiguousLength(BIN), 0);
  assert.deepEqual(c.get(BIN), new Uint8Array(0));
  assert.equal(c.finalLength(BIN), 30);
  c.add(msg(0, 8));
  c.add(msg(12, 4));
  assert.deepEqual(c.ranges(BIN), [
    { offset: 0, length: 8 },
    { offset: 12, length: 4 },
    { offset: 20, length: 10 },
  ]);
  assert.equal(c.contiguousLength(BIN), 8);
  c.add(msg(6, 16)); // overlaps all three, bridges both gaps
  assert.deepEqual(c.ranges(BIN), [{ offset: 0, length: 30 }]);
  assert.equal(c.isComplete(BIN), true);
  assert.deepEqual(c.get(BIN), bytes(0, 30));
  assert.equal(c.stats().redundantBytes, 2 + 4 + 2);
});

test('adjacent messages join into one segment', () => {
  const c = new DataBinCache();
  c.add(msg(5, 5));
  c.add(msg(0, 5));
  c.add(msg(10, 1));
  assert.deepEqual(c.ranges(BIN), [{ offset: 0, length: 11 }]);
  assert.equal(c.stats().redundantBytes, 0);
});

test('random fragments of a bin reassemble to the original bytes', () => {
  const r = rng(5);
  for (let round = 0; round < 50; round++) {
    const total = 1 + Math.floor(r() * 300);
    const src = Uint8Array.from({ length: total }, () => Math.floor(r() * 256));
    const c = new DataBinCache();
    // cover every byte at least once, in random order, with random overlaps
    const pieces: Array<[number, number]> = [];
    for (let p = 0; p < total; ) {
      const n = 1 + Math.floor(r() * 40);
      pieces.push([Math.max(0, p - Math.floor(r() * 5)), Math.min(total, p + n)]);
      p += n;
    }
    pieces.sort(() => r() - 0.5);
    for (const [a, b] of pieces) c.add({ ...BIN, offset: a, complete: b === total, body: src.subarray(a, b) });
    assert.equal(c.isComplete(BIN), true);
    assert.deepEqual(c.get(BIN), src);
  }
});

test('an empty completed message marks an empty bin complete; an empty plain message is no information', () => {
  const c = new DataBinCache();
  const th: BinKey = { cls: 2, codestream: 0, id: 0 };
  c.add({ ...th, offset: 0, complete: false, body: new Uint8Array(0) });
  assert.equal(c.has(th), false);
  c.add({ ...th, offset: 0, complete: true, body: new Uint8Array(0) });
  assert.equal(c.has(th), true);
  assert.equal(c.isComplete(th), true);
  assert.equal(c.get(th).length, 0);
});

test('the cache keeps its own copy of message bodies', () => {
  const c = new DataBinCache();
  const body = bytes(0, 4);
  c.add({ ...BIN, offset: 0, complete: true, body });
  body.fill(9);
  assert.deepEqual(c.get(BIN), bytes(0, 4));
});

test('bins are separated by class, codestream and id', () => {
  const c = new DataBinCache();
  c.add(msg(0, 3, true, { cls: 0, codestream: 0, id: 1 }));
  c.add(msg(0, 4, true, { cls: 2, codestream: 0, id: 1 }));
  c.add(msg(0, 5, true, { cls: 0, codestream: 1, id: 1 }));
  assert.equal(c.get({ cls: 0, codestream: 0, id: 1 }).length, 3);
  assert.equal(c.get({ cls: 2, codestream: 0, id: 1 }).length, 4);
  assert.equal(c.get({ cls: 0, codestream: 1, id: 1 }).length, 5);
  assert.equal(c.keys().length, 3);
  assert.equal(c.delete({ cls: 2, codestream: 0, id: 1 }), true);
  assert.equal(c.has({ cls: 2, codestream: 0, id: 1 }), false);
});

test('stats and the received log count duplicates', () => {
  const c = new DataBinCache();
  c.add(msg(0, 10));
  c.add(msg(0, 10));
  c.add(msg(10, 2, true));
  c.add(msg(0, 10));
  const s = c.stats();
  assert.equal(s.messages, 4);
  assert.equal(s.duplicateMessages, 2);
  assert.equal(s.redundantBytes, 20);
  assert.equal(s.bytes, 12);
  assert.equal(s.bins, 1);
  assert.equal(s.completeBins, 1);
  assert.deepEqual(c.received[2], { ...BIN, offset: 10, length: 2, complete: true });
});

function code(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof JppError);
    return e.code;
  }
  return 'no error';
}

test('contradictions with a known final length are errors', () => {
  const c = new DataBinCache();
  c.add(msg(0, 10, true));
  assert.equal(code(() => c.add(msg(8, 5))), 'ERR_JPP_INCONSISTENT');
  assert.equal(code(() => c.add(msg(0, 4, true))), 'ERR_JPP_INCONSISTENT');
  assert.equal(code(() => c.add(msg(0, 10, true))), 'no error');
  const d = new DataBinCache();
  d.add(msg(0, 10));
  assert.equal(code(() => d.add(msg(0, 4, true))), 'ERR_JPP_INCONSISTENT');
});
