import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePltLengths, encodePltLengths } from '../../src/j2k/plt.js';
import { JpipdError } from '../../src/errors.js';

/** Encodes lengths as 15444-1 A.7.3 Iplt (written here independently of the decoder). */
function encode(lengths: number[]): Uint8Array {
  const out: number[] = [];
  for (const len of lengths) {
    const groups: number[] = [];
    let v = len;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    groups.forEach((g, i) => out.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return Uint8Array.from(out);
}

test('decodes 7-bit groups, most significant first', () => {
  // 1 = 0x01; 127 = 0x7f; 128 = 0x81 0x00; 300 = 0x82 0x2c; 16384 = 0x81 0x80 0x00
  const bytes = Uint8Array.of(0x01, 0x7f, 0x81, 0x00, 0x82, 0x2c, 0x81, 0x80, 0x00);
  const got: number[] = [];
  const n = decodePltLengths(bytes, (l) => {
    got.push(l);
  });
  assert.deepEqual(got, [1, 127, 128, 300, 16384]);
  assert.equal(n, 5);
});

test('round-trips arbitrary lengths up to 2^32 - 1', () => {
  const lengths = [0, 1, 5, 127, 128, 255, 1000, 65535, 2 ** 21, 2 ** 28 + 7, 0xffffffff];
  const got: number[] = [];
  decodePltLengths(encode(lengths), (l) => {
    got.push(l);
  });
  assert.deepEqual(got, lengths);
});

test('stops early when the callback returns false', () => {
  const got: number[] = [];
  const n = decodePltLengths(encode([10, 20, 30, 40]), (l) => {
    got.push(l);
    return got.length < 2;
  });
  assert.deepEqual(got, [10, 20]);
  assert.equal(n, 2);
});

test('a length cut at the end of the segment is corrupt', () => {
  assert.throws(
    () => decodePltLengths(Uint8Array.of(0x05, 0x81), () => {}),
    (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_CORRUPT',
  );
});

test('a length beyond 32 bits is corrupt', () => {
  assert.throws(
    () => decodePltLengths(Uint8Array.of(0x90, 0x80, 0x80, 0x80, 0x80, 0x00), () => {}),
    (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_CORRUPT',
  );
});

test('an empty list decodes nothing', () => {
  assert.equal(decodePltLengths(new Uint8Array(0), () => assert.fail('no lengths expected')), 0);
});

test('encodePltLengths writes what the independent encoder above writes', () => {
  const lens = [0, 1, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 32 - 1];
  assert.deepEqual(encodePltLengths(lens), encode(lens));
  assert.throws(() => encodePltLengths([2 ** 32]), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_CORRUPT');
});
