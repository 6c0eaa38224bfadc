import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EOR_BYTE_LIMIT,
  EOR_WINDOW_DONE,
  JppError,
  MAX_HEADER_LENGTH,
  writeEor,
  writeMessageHeader,
  type ClassState,
  type MessageHeader,
} from '../../src/bytes/jpp.js';
import { JppParser, parseJppStream, type JppEvent } from '../../src/client/jpp-parser.js';
import { rng } from '../helpers/prng.js';


/** Builds `responses` responses with the shared writer; returns the bytes and the events they encode. */
function makeStream(seed: number, responses: number): { bytes: Uint8Array; events: JppEvent[] } {
  const r = rng(seed);
  const chunks: Uint8Array[] = [];
  const events: JppEvent[] = [];
  for (let resp = 0; resp < responses; resp++) {
    let prev: ClassState | null = null;
    const n = Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      const cls = [0, 2, 6, 8, 1][Math.floor(r() * 5)];
      const h: MessageHeader = {
        cls,
        codestream: r() < 0.7 && prev ? prev.codestream : Math.floor(r() * 3),
        id: r() < 0.2 ? Math.floor(r() * 2 ** 40) : Math.floor(r() * 3000),
        offset: r() < 0.1 ? 2 ** 33 + Math.floor(r() * 1000) : Math.floor(r() * 5000),
        length: r() < 0.2 ? 0 : Math.floor(r() * 400),
        complete: r() < 0.5,
      };
      if (cls % 2 === 1) h.aux = Math.floor(r() * 500);
      const body = Uint8Array.from({ length: h.length }, () => Math.floor(r() * 256));
      const head = new Uint8Array(MAX_HEADER_LENGTH);
      const end = writeMessageHeader(head, 0, h, prev);
      chunks.push(head.subarray(0, end), body);
      events.push({ kind: 'message', ...h, body });
      prev = h;
    }
    const reason = r() < 0.5 ? EOR_WINDOW_DONE : EOR_BYTE_LIMIT;
    const eor = new Uint8Array(3);
    writeEor(eor, 0, reason);
    chunks.push(eor);
    events.push({ kind: 'eor', reason, body: new Uint8Array(0) });
  }
  return { bytes: Buffer.concat(chunks), events };
}

/** Events as plain comparable data (bodies as arrays of numbers). */
const plain = (evs: JppEvent[]) => evs.map((e) => ({ ...e, body: [...e.body] }));

test('whole-buffer parsing returns exactly what the writer encoded', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { bytes, events } = makeStream(seed, 4);
    assert.deepEqual(plain(parseJppStream(bytes)), plain(events));
  }
});

test('byte-by-byte feeding gives the same events', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const { bytes, events } = makeStream(seed, 3);
    const p = new JppParser();
    const got: JppEvent[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...p.feed(bytes.subarray(i, i + 1)));
    p.end();
    assert.deepEqual(plain(got), plain(events));
    assert.equal(p.completedResponses, 3);
  }
});

test('random chunk sizes give the same events', () => {
  const r = rng(99);
  for (let seed = 30; seed <= 60; seed++) {
    const { bytes, events } = makeStream(seed, 3);
    const p = new JppParser();
    const got: JppEvent[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + Math.floor(r() * 70);
      got.push(...p.feed(bytes.slice(pos, pos + n)));
      pos += n;
    }
    p.end();
    assert.deepEqual(plain(got), plain(events));
  }
});

test('bodies inside one chunk are zero-copy views of it', () => {
  const { bytes } = makeStream(7, 2);
  for (const e of parseJppStream(bytes)) {
    if (e.kind === 'message' && e.body.length > 0) assert.equal(e.body.buffer, bytes.buffer);
  }
});

function errCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof JppError, String(e));
    return e.code;
  }
  return 'no error';
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));

test('a response must start with indicator 3, also after an EOR', () => {
  assert.equal(errCode(() => parseJppStream(hex('20 00 01 AA'))), 'ERR_JPP_MALFORMED');
  assert.equal(errCode(() => parseJppStream(hex('40 00 00 01 AA'))), 'ERR_JPP_MALFORMED');
  // first response fine, second elides the class established before the EOR
  assert.equal(errCode(() => parseJppStream(hex('60 00 00 00 01 AA 00 02 00 20 01 01 BB'))), 'ERR_JPP_MALFORMED');
  // the same without the EOR is legal
  const ev = parseJppStream(hex('60 00 00 00 01 AA 20 01 01 BB 00 02 00'));
  assert.equal(ev.length, 3);
});

test('beginResponse() forgets the class state and refuses to cut a message', () => {
  const p = new JppParser();
  p.feed(hex('60 00 00 00 01 AA'));
  p.beginResponse();
  assert.equal(errCode(() => p.feed(hex('20 01 01 BB'))), 'ERR_JPP_MALFORMED');
  const q = new JppParser();
  q.feed(hex('60 00 00 00 02 AA'));
  assert.equal(errCode(() => q.beginResponse()), 'ERR_JPP_MALFORMED');
});

test('malformed input throws stable codes and the parser stays failed', () => {
  const p = new JppParser();
  assert.equal(errCode(() => p.feed(hex('05 00 00'))), 'ERR_JPP_MALFORMED');
  assert.equal(errCode(() => p.feed(hex('00 02 00'))), 'ERR_JPP_MALFORMED');
  assert.equal(errCode(() => parseJppStream(hex('60 00 00 00 88 80 80 80 01'))), 'ERR_JPP_LIMIT');
  assert.equal(errCode(() => parseJppStream(hex('60 07 00 00 00'))), 'ERR_JPP_MALFORMED');
  assert.equal(errCode(() => parseJppStream(hex('60 00 00 00 05 01 02'))), 'ERR_JPP_MALFORMED'); // truncated body
  assert.equal(errCode(() => parseJppStream(hex('60 00 00'))), 'ERR_JPP_MALFORMED'); // truncated header
  assert.equal(errCode(() => parseJppStream(hex('60 00 00 FF FF FF FF FF FF FF FF 00 00'))), 'ERR_JPP_MALFORMED');
});

test('an over-long header split over chunks is still rejected', () => {
  const p = new JppParser();
  const bytes = hex('E0 80 80 80 80 80 80 80 80 80 80 00');
  assert.equal(
    errCode(() => {
      for (let i = 0; i < bytes.length; i++) p.feed(bytes.subarray(i, i + 1));
    }),
    'ERR_JPP_MALFORMED',
  );
});

test('EOR bodies are returned and skipped', () => {
  const ev = parseJppStream(hex('60 06 00 00 01 AA 00 04 02 01 02 60 06 00 00 00'));
  assert.deepEqual(plain(ev), [
    { kind: 'message', cls: 6, codestream: 0, id: 0, offset: 0, length: 1, complete: false, body: [0xaa] },
    { kind: 'eor', reason: 4, body: [1, 2] },
    { kind: 'message', cls: 6, codestream: 0, id: 0, offset: 0, length: 0, complete: false, body: [] },
  ]);
});
