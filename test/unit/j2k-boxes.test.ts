import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BufferSource, be } from '../../src/bytes/source.js';
import { JpipdError, type ErrorCode } from '../../src/errors.js';
import { listBoxes, readBoxHeader, scanTarget } from '../../src/j2k/boxes.js';
import { box, box64, boxToEnd, colrBox, concatBytes, ftypBox, ihdrBox, signatureBox, xmlBox } from '../../src/j2k/box-writer.js';

const FIX = new URL('../fixtures/', import.meta.url);
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));
const fails = (code: ErrorCode) => (e: unknown) => e instanceof JpipdError && e.code === code;

/** A smallest valid codestream body is not needed for box tests: reuse a committed one. */
const frame = (): Uint8Array => {
  const jp2 = load('gray128-lbox0.jp2');
  const boxes = listBoxes(new BufferSource(jp2), 0, jp2.length);
  const c = boxes.find((b) => b.type === 'jp2c')!;
  return jp2.subarray(c.offset + c.headerLength);
};

test('readBoxHeader: ordinary, XLBox and LBox = 0 headers', () => {
  const payload = Uint8Array.of(1, 2, 3, 4, 5);
  const bytes = concatBytes(box('abcd', payload), box64('wxyz', payload), boxToEnd('last', payload));
  const src = new BufferSource(bytes);
  assert.deepEqual(readBoxHeader(src, 0, bytes.length), { type: 'abcd', offset: 0, headerLength: 8, length: 13 });
  assert.deepEqual(readBoxHeader(src, 13, bytes.length), { type: 'wxyz', offset: 13, headerLength: 16, length: 21 });
  assert.deepEqual(readBoxHeader(src, 34, bytes.length), { type: 'last', offset: 34, headerLength: 8, length: 13 });
});

test('readBoxHeader: LBox 2..7, XLBox < 16 and lengths past the end are corrupt', () => {
  const bad = (bytes: Uint8Array) => assert.throws(() => readBoxHeader(new BufferSource(bytes), 0, bytes.length), fails('ERR_IMAGE_CORRUPT'));
  bad(Uint8Array.of(0, 0, 0, 7, 0x61, 0x61, 0x61, 0x61, 0));
  bad(Uint8Array.of(0, 0, 0, 1, 0x61, 0x61, 0x61, 0x61, 0, 0, 0, 0, 0, 0, 0, 15));
  bad(Uint8Array.of(0, 0, 0, 9, 0x61, 0x61, 0x61, 0x61));
  bad(Uint8Array.of(0, 0, 0, 1, 0x61, 0x61, 0x61, 0x61, 0, 0, 0));
  bad(Uint8Array.of(0, 0, 0, 8, 0x61, 0x61));
  // an XLBox beyond 2^53
  bad(Uint8Array.of(0, 0, 0, 1, 0x61, 0x61, 0x61, 0x61, 0xff, 0, 0, 0, 0, 0, 0, 16));
});

test('raw codestream: kind raw, no boxes, empty metadata', () => {
  const bytes = load('gray1000-rpcl-p64-l4.j2k');
  const t = scanTarget(new BufferSource(bytes));
  assert.equal(t.kind, 'raw');
  assert.equal(t.size, bytes.length);
  assert.deepEqual(t.boxes, []);
  assert.deepEqual(t.metadata, []);
  assert.deepEqual(t.codestreamBoxes, [null]);
  assert.equal(t.codestreams.length, 1);
  assert.equal(t.codestreams[0].offset, 0);
  assert.equal(t.codestreams[0].end, bytes.length);
});

test('JP2 written by OpenJPEG: boxes, codestream bounds, metadata = prefix + placeholder', () => {
  const bytes = load('rgb96.jp2');
  const t = scanTarget(new BufferSource(bytes));
  assert.equal(t.kind, 'jp2');
  assert.deepEqual(t.boxes.map((b) => b.type), ['jP  ', 'ftyp', 'jp2h', 'jp2c']);
  const jp2c = t.boxes[3];
  assert.equal(jp2c.offset + jp2c.length, bytes.length);
  assert.deepEqual(t.codestreamBoxes, [jp2c]);
  assert.equal(t.codestreams[0].offset, jp2c.offset + 8);
  assert.equal(be.u16(bytes, t.codestreams[0].offset), 0xff4f); // SOC
  assert.equal(t.codestreams[0].end, bytes.length);
  assert.deepEqual(t.metadata, [
    { kind: 'inline', offset: 0, length: jp2c.offset },
    { kind: 'phld', codestream: 0, box: jp2c },
  ]);
});

test('64-bit XLBox jp2c: header length 16, same codestream as the 32-bit file', () => {
  const a = scanTarget(new BufferSource(load('rgb96.jp2')));
  const bytes = load('rgb96-xlbox.jp2');
  const b = scanTarget(new BufferSource(bytes));
  const jp2c = b.codestreamBoxes[0]!;
  assert.equal(jp2c.headerLength, 16);
  assert.equal(be.u32(bytes, jp2c.offset), 1);
  assert.equal(jp2c.offset + jp2c.length, bytes.length);
  assert.equal(b.codestreams[0].offset, jp2c.offset + 16);
  const csA = a.codestreams[0];
  const csB = b.codestreams[0];
  assert.equal(csB.end - csB.offset, csA.end - csA.offset);
  assert.deepEqual(csB.siz, csA.siz);
  assert.equal(csB.tileParts[0].dataEnd - csB.tileParts[0].dataOffset, csA.tileParts[0].dataEnd - csA.tileParts[0].dataOffset);
});

test('LBox = 0 jp2c runs to the end of the file', () => {
  const bytes = load('gray128-lbox0.jp2');
  const t = scanTarget(new BufferSource(bytes));
  const jp2c = t.codestreamBoxes[0]!;
  assert.equal(be.u32(bytes, jp2c.offset), 0);
  assert.equal(jp2c.offset + jp2c.length, bytes.length);
  assert.equal(t.codestreams[0].end, bytes.length);
});

test('JPX with three codestreams: numbering, placeholders, merged inline runs', () => {
  const bytes = load('frames3-128.jpx');
  const t = scanTarget(new BufferSource(bytes));
  assert.equal(t.kind, 'jpx');
  assert.deepEqual(t.boxes.map((b) => b.type), [
    'jP  ', 'ftyp', 'rreq', 'jp2h', 'xml ',
    'jpch', 'jplh', 'jp2c',
    'jpch', 'jplh', 'xml ', 'jp2c',
    'jpch', 'jplh', 'jp2c',
  ]);
  const jp2cs = t.boxes.filter((b) => b.type === 'jp2c');
  assert.deepEqual(t.codestreamBoxes, jp2cs);
  assert.equal(t.codestreams.length, 3);
  t.codestreams.forEach((cs, i) => {
    assert.equal(cs.offset, jp2cs[i].offset + 8);
    assert.equal(cs.end, jp2cs[i].offset + jp2cs[i].length);
    assert.equal(cs.siz.Xsiz, 128);
    assert.equal(cs.siz.Ysiz, 128);
  });
  // the three codestreams come from different source images
  assert.notEqual(t.codestreams[0].end - t.codestreams[0].offset, t.codestreams[1].end - t.codestreams[1].offset);
  const at = (i: number) => t.boxes[i];
  // Content boxes (xml) get metadata-bins 1, 2 of their own; bin 0 holds placeholders for them.
  assert.deepEqual(t.metadata, [
    { kind: 'inline', offset: 0, length: at(4).offset },
    { kind: 'meta', bin: 1, box: at(4) },
    { kind: 'inline', offset: at(5).offset, length: jp2cs[0].offset - at(5).offset },
    { kind: 'phld', codestream: 0, box: jp2cs[0] },
    { kind: 'inline', offset: at(8).offset, length: at(10).offset - at(8).offset },
    { kind: 'meta', bin: 2, box: at(10) },
    { kind: 'phld', codestream: 1, box: jp2cs[1] },
    { kind: 'inline', offset: at(12).offset, length: jp2cs[2].offset - at(12).offset },
    { kind: 'phld', codestream: 2, box: jp2cs[2] },
  ]);
  assert.deepEqual(t.metadataBins, [
    { id: 1, box: at(4) },
    { id: 2, box: at(10) },
  ]);
  // metadata items plus placeholders tile the whole file
  let pos = 0;
  for (const m of t.metadata) {
    const [o, l] = m.kind === 'inline' ? [m.offset, m.length] : [m.box.offset, m.box.length];
    assert.equal(o, pos);
    pos += l;
  }
  assert.equal(pos, bytes.length);
});

test('JPX with trailing metadata after the last codestream: each content box gets its own bin', () => {
  const cs = frame();
  const bytes = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ']),
    box('jp2c', cs),
    xmlBox('<a/>'),
    xmlBox('<b/>'),
  );
  const t = scanTarget(new BufferSource(bytes));
  assert.equal(t.metadata.length, 4);
  const first = 12 + 20 + 8 + cs.length;
  assert.deepEqual(t.metadata.slice(2), [
    { kind: 'meta', bin: 1, box: { type: 'xml ', offset: first, headerLength: 8, length: 12 } },
    { kind: 'meta', bin: 2, box: { type: 'xml ', offset: first + 12, headerLength: 8, length: 12 } },
  ]);
});

test('brands: jp2 compatibility list decides when the brand is unknown; others are unsupported', () => {
  const cs = frame();
  const file = (brand: string, compat: string[]) =>
    concatBytes(signatureBox(), ftypBox(brand, 0, compat), box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(17)), box('jp2c', cs));
  assert.equal(scanTarget(new BufferSource(file('abcd', ['jp2 ']))).kind, 'jp2');
  assert.equal(scanTarget(new BufferSource(file('abcd', ['jpxb']))).kind, 'jpx');
  assert.throws(() => scanTarget(new BufferSource(file('jpm ', ['jpm ']))), fails('ERR_IMAGE_UNSUPPORTED'));
});

test('a fragment list whose length disagrees with NF is corrupt; jp2c mixed with ftbl is unsupported', () => {
  const bytes = concatBytes(signatureBox(), ftypBox('jpx ', 0, ['jpx ']), box('ftbl', box('flst', new Uint8Array(16))));
  assert.throws(() => scanTarget(new BufferSource(bytes)), fails('ERR_IMAGE_CORRUPT'));
  const flst = new Uint8Array(16);
  flst[1] = 1; // NF = 1, OFF 0, LEN 0, DR 0
  const mixed = concatBytes(signatureBox(), ftypBox('jpx ', 0, ['jpx ']), box('ftbl', box('flst', flst)), box('jp2c', frame()));
  assert.throws(() => scanTarget(new BufferSource(mixed)), fails('ERR_IMAGE_UNSUPPORTED'));
});

test('structural errors are corrupt', () => {
  const bad = (bytes: Uint8Array) => assert.throws(() => scanTarget(new BufferSource(bytes)), fails('ERR_IMAGE_CORRUPT'));
  bad(load('corrupt-boxlen.jp2'));
  bad(load('two-jp2c.jp2'));
  bad(load('gray257-truncated.j2k'));
  bad(new TextEncoder().encode('GIF89a this is not a jpeg 2000 file'));
  bad(Uint8Array.of(0xff, 0x4f));
  // signature not followed by ftyp
  bad(concatBytes(signatureBox(), xmlBox('<x/>'), ftypBox('jp2 ', 0, ['jp2 '])));
  // no codestream at all
  bad(concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), xmlBox('<x/>')));
  // a box that overruns the file by one byte
  const ok = load('rgb96.jp2');
  bad(ok.subarray(0, ok.length - 1));
});
