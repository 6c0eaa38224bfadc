import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JpipdError } from '../../src/errors.js';
import {
  BYTES_PER_PACKET,
  HEADER_BYTES,
  MAX_SLOTS,
  SharedPacketIndex,
  indexByteLength,
  kMagic,
  kSlotCount,
} from '../../src/packet-index/shared-index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { GATE_FILL_GO, GATE_GO, GATE_IN_FILL, GATE_READY, GATE_WORDS, runJob, slotLength, slotOffset } from '../helpers/rwlock-stress-worker.js';

/** Level-major slot ranges: level L owns slots levelStarts[L] .. levelStarts[L+1]-1. */
const levelStarts = [0, 3, 15, 63, 255, 1023, 4095];
const total = levelStarts[levelStarts.length - 1];

function code(e: unknown): string | undefined {
  return e instanceof JpipdError ? e.code : undefined;
}

test('two publishers and two readers in worker threads share one table', { timeout: 60_000 }, async (t) => {
  const idx = SharedPacketIndex.allocate(total);
  const slotWrites = new SharedArrayBuffer(total * 4);
  const gate = new Int32Array(new SharedArrayBuffer(8));
  const publish = () => runJob({ kind: 'index-publish', index: idx.sab, gate: gate.buffer as SharedArrayBuffer, slotWrites, levelStarts, pauseMs: 10 });
  const read = () => runJob({ kind: 'index-read', index: idx.sab, gate: gate.buffer as SharedArrayBuffer, levelStarts, maxIterations: 5_000_000 });
  const all = Promise.all([publish(), publish(), read(), read()]);
  // Start all four together, so publishers race for the same levels while readers read.
  const end = Date.now() + 20_000;
  while (Atomics.load(gate, GATE_READY) < 4 && Date.now() < end) await sleep(2);
  Atomics.store(gate, GATE_GO, 1);
  Atomics.notify(gate, GATE_GO);
  const [p1, p2, r1, r2] = await all;
  t.diagnostic(`publishes ${p1.count}+${p2.count}, reads ${r1.count}+${r2.count}`);
  // Every level was published exactly once between the two publishers (the re-check inside the
  // write lock turned the loser's call into a no-op) ...
  assert.ok(p1.count + p2.count >= 1 && p1.count + p2.count <= levelStarts.length - 1);
  const writes = new Int32Array(slotWrites);
  assert.deepEqual([...new Set(writes)], [1], 'some slot was written twice or never');
  // ... and readers saw only published, whole records.
  for (const r of [r1, r2]) {
    assert.equal(r.ok, true, 'a reader never saw all levels published');
    assert.equal(r.bad, 0, 'a reader saw a wrong offset or length');
  }
  assert.equal(idx.levelsIndexed(), levelStarts.length - 1);
  const slots = Array.from({ length: total }, (_, i) => i);
  const offsets = new Float64Array(total);
  const lengths = new Uint32Array(total);
  idx.readPackets(slots, offsets, lengths);
  for (let s = 0; s < total; s++) {
    assert.equal(offsets[s], slotOffset(s));
    assert.equal(lengths[s], slotLength(s));
  }
});

test('a publisher that waited for the lock re-checks and skips levels published meanwhile', { timeout: 60_000 }, async () => {
  const idx = SharedPacketIndex.allocate(8);
  const gA = new Int32Array(new SharedArrayBuffer(GATE_WORDS * 4));
  const gB = new Int32Array(new SharedArrayBuffer(GATE_WORDS * 4));
  const open = (g: Int32Array, w: number) => {
    Atomics.store(g, w, 1);
    Atomics.notify(g, w);
  };
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 20_000;
    while (!cond()) {
      assert.ok(Date.now() < end, 'gave up waiting');
      await sleep(2);
    }
  };
  const a = runJob({ kind: 'index-publish-once', index: idx.sab, gate: gA.buffer as SharedArrayBuffer, levelCount: 2, holdInFill: true });
  const b = runJob({ kind: 'index-publish-once', index: idx.sab, gate: gB.buffer as SharedArrayBuffer, levelCount: 2, holdInFill: false });
  open(gA, GATE_GO);
  await until(() => Atomics.load(gA, GATE_IN_FILL) === 1); // A holds the write lock, inside fill
  open(gB, GATE_GO);
  await until(() => idx.lock.waitingWriters() === 1); // B saw levelsIndexed 0 and waits for the lock
  open(gA, GATE_FILL_GO);
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual([ra.count, ra.bad], [1, 1], 'A published, calling fill once');
  assert.deepEqual([rb.count, rb.bad], [0, 0], 'B must not publish or call fill again');
  assert.equal(idx.levelsIndexed(), 2);
});

test('offsets above 2^32 and up to 2^53-1 round-trip exactly; lengths up to 2^32-1', () => {
  const idx = SharedPacketIndex.allocate(5);
  const want = [2 ** 32, 2 ** 32 + 1, 5 * 2 ** 40 + 12_345, Number.MAX_SAFE_INTEGER, 0];
  const lens = [0xffffffff, 1, 0x80000000, 7, 0];
  assert.equal(
    idx.publishLevels(1, (o, l) => {
      o.set(want);
      l.set(lens);
    }),
    true,
  );
  const back = SharedPacketIndex.attach(idx.sab); // as another thread would see it
  const outO: number[] = new Array(5).fill(-1);
  const outL: number[] = new Array(5).fill(-1);
  back.readPackets([4, 3, 2, 1, 0], outO, outL);
  assert.deepEqual(outO, [...want].reverse());
  assert.deepEqual(outL, [...lens].reverse());
});

test('layout: 64-byte header then 8-byte offsets then 4-byte lengths, 12 bytes a packet', () => {
  const idx = SharedPacketIndex.allocate(10);
  assert.equal(idx.byteLength, 64 + 12 * 10);
  assert.equal(indexByteLength(10), HEADER_BYTES + 10 * BYTES_PER_PACKET);
  idx.publishLevels(1, (o, l) => {
    o[3] = 2 ** 33 + 5;
    l[3] = 77;
  });
  const dv = new DataView(idx.sab);
  assert.equal(dv.getFloat64(64 + 3 * 8, true), 2 ** 33 + 5);
  assert.equal(dv.getUint32(64 + 10 * 8 + 3 * 4, true), 77);
  assert.equal(dv.getInt32(kSlotCount * 4, true), 10);
});

test('publishLevels re-checks levelsIndexed and never calls fill for published levels', () => {
  const idx = SharedPacketIndex.allocate(8);
  let calls = 0;
  assert.equal(idx.levelsIndexed(), 0);
  assert.equal(idx.publishLevels(2, () => void calls++), true);
  assert.equal(idx.levelsIndexed(), 2);
  assert.equal(idx.publishLevels(1, () => void calls++), false);
  assert.equal(idx.publishLevels(2, () => void calls++), false);
  assert.equal(calls, 1);
  assert.equal(idx.publishLevels(3, () => void calls++), true);
  assert.equal(calls, 2);
  assert.equal(idx.levelsIndexed(), 3);
});

test('a fill that throws publishes nothing and releases the lock', () => {
  const idx = SharedPacketIndex.allocate(4);
  assert.throws(() => idx.publishLevels(1, () => { throw new Error('bad PLT'); }), /bad PLT/);
  assert.equal(idx.levelsIndexed(), 0);
  assert.equal(idx.lock.state(), 0);
  assert.equal(idx.publishLevels(1, () => undefined), true);
});

test('readPackets bounds every slot and the output arrays, and releases the lock', () => {
  const idx = SharedPacketIndex.allocate(4);
  const o = new Float64Array(2);
  const l = new Uint32Array(2);
  for (const bad of [[4], [-1], [1.5], [Number.NaN]]) {
    assert.throws(() => idx.readPackets(bad, o, l), /slot/);
    assert.equal(idx.lock.state(), 0);
  }
  assert.throws(() => idx.readPackets([0, 1, 2], o, l), /shorter/);
});

test('slot counts and level counts are validated', () => {
  assert.equal(code(catchErr(() => SharedPacketIndex.allocate(MAX_SLOTS + 1))), 'ERR_IMAGE_LIMIT');
  for (const n of [0, -1, 1.5, Number.NaN]) assert.equal(code(catchErr(() => SharedPacketIndex.allocate(n))), 'ERR_INTERNAL');
  const idx = SharedPacketIndex.allocate(2);
  for (const n of [0, 34, 1.5]) assert.throws(() => idx.publishLevels(n, () => undefined), /level count/);
});

test('attach refuses foreign, resized or mislabelled buffers', () => {
  assert.throws(() => SharedPacketIndex.attach(new SharedArrayBuffer(16)), /not a packet index/);
  assert.throws(() => SharedPacketIndex.attach(new SharedArrayBuffer(200)), /magic/);
  const idx = SharedPacketIndex.allocate(3);
  const bigger = new SharedArrayBuffer(idx.byteLength + 12);
  new Uint8Array(bigger).set(new Uint8Array(idx.sab));
  assert.throws(() => SharedPacketIndex.attach(bigger), /do not fit/);
  const hdr = new Int32Array(idx.sab);
  Atomics.store(hdr, kMagic, 0);
  assert.throws(() => SharedPacketIndex.attach(idx.sab), /magic/);
  assert.throws(() => SharedPacketIndex.attach(new ArrayBuffer(100) as unknown as SharedArrayBuffer), /not a packet index/);
});

test('fail() records the first cause; later reads and publishes throw it', () => {
  const idx = SharedPacketIndex.allocate(2);
  assert.equal(idx.failure(), null);
  assert.equal(idx.fail('ERR_IMAGE_CORRUPT'), true);
  assert.equal(idx.fail('ERR_IO'), false);
  const other = SharedPacketIndex.attach(idx.sab);
  assert.equal(other.failure(), 'ERR_IMAGE_CORRUPT');
  assert.equal(code(catchErr(() => other.readPackets([0], [0], [0]))), 'ERR_IMAGE_CORRUPT');
  assert.equal(code(catchErr(() => other.publishLevels(1, () => undefined))), 'ERR_IMAGE_CORRUPT');
});

test('a contended index waits at most the caller\'s bound, then answers busy (front ends never stall)', () => {
  const idx = SharedPacketIndex.allocate(2);
  assert.equal(idx.lock.tryLockWrite(), true); // stands for another thread in the middle of publishing
  const t0 = performance.now();
  assert.equal(code(catchErr(() => idx.copyRecords(Int32Array.of(0), 1, new Float64Array(1), new Uint32Array(1), 30))), 'ERR_BUSY');
  const waited = performance.now() - t0;
  assert.ok(waited >= 25 && waited < 2000, `waited ${waited} ms for a 30 ms bound`);
  assert.equal(code(catchErr(() => idx.publishLevels(1, () => undefined, 30))), 'ERR_INTERNAL', 'a publisher that cannot get the lock gives up');
  assert.equal(idx.lock.waitingWriters(), 0, 'and does not stay registered');
  idx.lock.unlockWrite();
  idx.copyRecords(Int32Array.of(0, 1), 2, new Float64Array(2), new Uint32Array(2), 30);
  assert.equal(code(catchErr(() => idx.copyRecords(Int32Array.of(2), 1, new Float64Array(1), new Uint32Array(1)))), 'ERR_INTERNAL', 'a slot past the table');
  assert.equal(code(catchErr(() => idx.copyRecords(Int32Array.of(-1), 1, new Float64Array(1), new Uint32Array(1)))), 'ERR_INTERNAL', 'a negative slot');
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
