import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLASS_MAIN_HEADER,
  CLASS_METADATA,
  CLASS_PRECINCT,
  CLASS_TILE_HEADER,
  CLASS_EXT_PRECINCT,
  EOR_BYTE_LIMIT,
  EOR_WINDOW_DONE,
  JppError,
  MAX_HEADER_LENGTH,
  MAX_MESSAGE_LENGTH,
  messageHeaderLength,
  readMessageHeader,
  writeEor,
  writeMessageHeader,
  type ClassState,
  type MessageHeader,
} from '../../src/bytes/jpp.js';
import { rng } from '../helpers/prng.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));

function encode(h: MessageHeader, prev: ClassState | null): Uint8Array {
  const out = new Uint8Array(MAX_HEADER_LENGTH);
  const end = writeMessageHeader(out, 0, h, prev);
  assert.equal(end, messageHeaderLength(h, prev));
  return out.subarray(0, end);
}

const H = (cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean): MessageHeader => ({
  cls,
  codestream,
  id,
  offset,
  length,
  complete,
});

// notes §3.5: the worked example, messages 1-10 and the JPX frame header.
const example: Array<{ h: MessageHeader | number; bytes: string; first?: boolean }> = [
  { h: H(CLASS_METADATA, 0, 0, 0, 3077, false), bytes: '60 08 00 00 98 05', first: true },
  { h: H(CLASS_METADATA, 0, 0, 3077, 52, false), bytes: '20 98 05 34' },
  { h: H(CLASS_METADATA, 0, 0, 3129, 0, true), bytes: '30 98 39 00' },
  { h: H(CLASS_MAIN_HEADER, 0, 0, 0, 151, true), bytes: '50 06 00 81 17' },
  { h: H(CLASS_TILE_HEADER, 0, 0, 0, 0, true), bytes: '50 02 00 00' },
  { h: H(CLASS_PRECINCT, 0, 0, 0, 37, false), bytes: '40 00 00 25' },
  { h: H(CLASS_PRECINCT, 0, 2000, 0, 300, false), bytes: 'AF 50 00 82 2C' },
  { h: EOR_BYTE_LIMIT, bytes: '00 04 00' },
  { h: H(CLASS_PRECINCT, 0, 0, 37, 20, true), bytes: '70 00 00 25 14', first: true },
  { h: EOR_WINDOW_DONE, bytes: '00 02 00' },
  { h: H(CLASS_MAIN_HEADER, 7, 0, 0, 151, true), bytes: '70 06 07 00 81 17', first: true },
];

test('writer produces the exact bytes of the worked example (notes §3.5)', () => {
  let prev: ClassState | null = null;
  for (const m of example) {
    if (m.first) prev = null;
    if (typeof m.h === 'number') {
      const out = new Uint8Array(3);
      assert.equal(writeEor(out, 0, m.h), 3);
      assert.deepEqual(out, hex(m.bytes));
      continue;
    }
    assert.deepEqual(encode(m.h, prev), hex(m.bytes), `message ${JSON.stringify(m.h)}`);
    prev = m.h;
  }
});

test('reader decodes the worked example', () => {
  let prev: ClassState | null = null;
  for (const m of example) {
    if (m.first) prev = null;
    const bytes = hex(m.bytes);
    const r = readMessageHeader(bytes, 0, bytes.length, prev);
    assert.ok(r !== null);
    assert.equal(r.next, bytes.length);
    if (typeof m.h === 'number') {
      assert.equal(r.kind, 'eor');
      if (r.kind === 'eor') assert.deepEqual(r.eor, { reason: m.h, length: 0 });
      continue;
    }
    assert.equal(r.kind, 'message');
    if (r.kind === 'message') assert.deepEqual(r.header, m.h);
    prev = m.h;
  }
});

test('a first message of a response is forced to indicator 3 even when class and codestream match', () => {
  const h = H(CLASS_PRECINCT, 0, 5, 0, 1, false);
  assert.equal((encode(h, null)[0] >> 5) & 3, 3);
  assert.equal((encode(h, { cls: 0, codestream: 0 })[0] >> 5) & 3, 1);
  assert.equal((encode(h, { cls: 2, codestream: 0 })[0] >> 5) & 3, 2);
  assert.equal((encode(h, { cls: 0, codestream: 1 })[0] >> 5) & 3, 3);
});

test('in-class ids use the minimal form: nibble, then 7-bit groups', () => {
  const len = (id: number): number => encode(H(0, 0, id, 0, 0, true), { cls: 0, codestream: 0 }).length - 2;
  assert.equal(len(0), 1);
  assert.equal(len(15), 1);
  assert.equal(len(16), 2);
  assert.equal(len(16 * 128 - 1), 2);
  assert.equal(len(16 * 128), 3);
  assert.equal(len(2 ** 32), 6); // 2^32 < 16*128^4 = 2^32 * 8
  assert.equal(len(Number.MAX_SAFE_INTEGER), 8);
  // notes §5 worked example A: id 190 = nibble 1, then 0x3E
  assert.deepEqual(encode(H(0, 0, 190, 0, 0, false), { cls: 0, codestream: 0 }).subarray(0, 2), hex('A1 3E'));
});

test('reader accepts the redundant esajpip Bin-ID form (A0 8F 50 = id 2000)', () => {
  const bytes = hex('A0 8F 50 00 82 2C');
  const r = readMessageHeader(bytes, 0, bytes.length, { cls: 0, codestream: 0 });
  assert.ok(r?.kind === 'message');
  assert.equal(r.header.id, 2000);
  assert.equal(r.header.length, 300);
});


function bigish(r: () => number): number {
  const bits = Math.floor(r() * 54);
  return Math.min(Number.MAX_SAFE_INTEGER, Math.floor(r() * 2 ** bits));
}

test('random headers round-trip through writer and reader, in sequences with elision', () => {
  const r = rng(42);
  const classes = [0, 1, 2, 4, 5, 6, 8];
  for (let seq = 0; seq < 300; seq++) {
    let prev: ClassState | null = null;
    const headers: MessageHeader[] = [];
    const out = new Uint8Array(MAX_HEADER_LENGTH * 20);
    let pos = 0;
    for (let i = 0; i < 20; i++) {
      const cls = r() < 0.5 && prev ? prev.cls : classes[Math.floor(r() * classes.length)];
      const codestream = r() < 0.6 && prev ? prev.codestream : bigish(r);
      const length = Math.floor(r() * 2 ** Math.floor(r() * 32));
      const offset = Math.min(bigish(r), Number.MAX_SAFE_INTEGER - length);
      const h = H(cls, codestream, bigish(r), offset, length, r() < 0.5);
      if (cls % 2 === 1) h.aux = bigish(r);
      headers.push(h);
      pos = writeMessageHeader(out, pos, h, prev);
      prev = h;
    }
    let p = 0;
    let rprev: ClassState | null = null;
    for (const h of headers) {
      const res = readMessageHeader(out, p, pos, rprev);
      assert.ok(res?.kind === 'message');
      assert.deepEqual(res.header, h);
      // every truncation of a header asks for more bytes rather than misreading it
      for (let cut = p; cut < res.next; cut++) assert.equal(readMessageHeader(out, p, cut, rprev), null);
      p = res.next;
      rprev = res.header;
    }
    assert.equal(p, pos);
  }
});

test('ids >= 2^32 and offsets > 2^32 survive exactly', () => {
  const h = H(CLASS_PRECINCT, 3, 2 ** 40 + 12345, 2 ** 33 + 7, 1000, true);
  const bytes = encode(h, null);
  const r = readMessageHeader(bytes, 0, bytes.length, null);
  assert.ok(r?.kind === 'message');
  assert.deepEqual(r.header, h);
});

test('odd classes carry Aux', () => {
  const h: MessageHeader = { ...H(CLASS_EXT_PRECINCT, 0, 3, 0, 2, false), aux: 300 };
  const bytes = encode(h, null);
  assert.deepEqual(bytes, hex('63 01 00 00 02 82 2C'));
  assert.throws(() => encode(H(CLASS_EXT_PRECINCT, 0, 3, 0, 2, false), null), RangeError);
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof JppError, String(e));
    return e.code;
  }
  return 'no error';
}

test('malformed headers throw JppError with stable codes', () => {
  const read = (s: string, prev: ClassState | null = null) => () => {
    const b = hex(s);
    return readMessageHeader(b, 0, b.length, prev);
  };
  assert.equal(code(read('05 00 00')), 'ERR_JPP_MALFORMED'); // indicator 0
  assert.equal(code(read('20 00 05')), 'ERR_JPP_MALFORMED'); // indicator 1 with no previous message
  assert.equal(code(read('40 00 00 05')), 'ERR_JPP_MALFORMED'); // indicator 2 with no previous codestream
  assert.equal(code(read('60 03 00 00 00')), 'ERR_JPP_MALFORMED'); // class 3 undefined
  assert.equal(code(read('60 09 00 00 00')), 'ERR_JPP_MALFORMED'); // class 9 undefined
  assert.equal(code(read('60 00 00 00 88 80 80 80 01')), 'ERR_JPP_LIMIT'); // 2^31 + 1
  assert.equal(code(read('60 00 00 00 88 80 80 80 00')), 'no error'); // exactly 2^31
  assert.equal(MAX_MESSAGE_LENGTH, 2 ** 31);
  assert.equal(code(read('60 00 00 FF FF FF FF FF FF FF FF 00 00')), 'ERR_JPP_MALFORMED'); // 9-byte VBAS
  assert.equal(code(read('80 80 80 80 80 80 80 80 80 80')), 'ERR_JPP_MALFORMED'); // Bin-ID too long (but indicator 0 first)
  assert.equal(code(read('E0 80 80 80 80 80 80 80 80 00')), 'ERR_JPP_MALFORMED'); // Bin-ID > 9 bytes
  assert.equal(code(read('00 04 88 80 80 80 01')), 'ERR_JPP_LIMIT'); // EOR body too long
});

test('incomplete input returns null', () => {
  assert.equal(readMessageHeader(hex('00'), 0, 1, null), null);
  assert.equal(readMessageHeader(hex('00 04'), 0, 2, null), null);
  assert.equal(readMessageHeader(new Uint8Array(0), 0, 0, null), null);
  assert.equal(readMessageHeader(hex('60 06 81'), 0, 3, null), null);
});
