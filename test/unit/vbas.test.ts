/** VBAS (15444-9 A.2.1): the writer against the reader, and the worked table of notes §3.1. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeVbas, readVbas, vbasLength } from '../../src/bytes/vbas.js';

const TABLE: Array<[number, number[]]> = [
  [0, [0x00]],
  [37, [0x25]],
  [127, [0x7f]],
  [128, [0x81, 0x00]],
  [151, [0x81, 0x17]],
  [200, [0x81, 0x48]],
  [300, [0x82, 0x2c]],
  [3077, [0x98, 0x05]],
  [3129, [0x98, 0x39]],
  [16383, [0xff, 0x7f]],
  [16384, [0x81, 0x80, 0x00]],
  [2097152, [0x81, 0x80, 0x80, 0x00]],
];

describe('VBAS', () => {
  it('encodes the notes table exactly (minimal form)', () => {
    for (const [v, bytes] of TABLE) {
      assert.deepEqual([...encodeVbas(v)], bytes, String(v));
      assert.equal(vbasLength(v), bytes.length);
    }
  });
  it('decodes what it encodes, up to 2^53-1, and accepts redundant leading zero groups', () => {
    for (const v of [0, 1, 127, 128, 2 ** 31, 2 ** 32 + 5, 2 ** 40 - 1, Number.MAX_SAFE_INTEGER]) {
      const b = encodeVbas(v);
      assert.deepEqual(readVbas(b, 0), { value: v, next: b.length });
    }
    assert.deepEqual(readVbas(new Uint8Array([0x80, 0x80, 0x25]), 0), { value: 37, next: 3 });
  });
  it('reports a VBAS cut short as incomplete and rejects over-long ones', () => {
    assert.equal(readVbas(new Uint8Array([0x81]), 0), null);
    assert.throws(() => readVbas(new Uint8Array(9).fill(0x81), 0), { code: 'ERR_IMAGE_CORRUPT' });
    assert.throws(() => encodeVbas(-1), RangeError);
    assert.throws(() => encodeVbas(2 ** 53), RangeError);
  });
});
