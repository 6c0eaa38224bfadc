/**
 * Builds the box-level fixtures from raw codestreams made by make-fixtures.sh:
 *   frames3-128.jpx        JPX with 3 embedded codestreams (jpch + jplh + jp2c per frame, one xml box)
 *   rgb96-xlbox.jp2        rgb96.jp2's codestream in a jp2c box with LBox = 1 and a 64-bit XLBox
 *   gray128-lbox0.jp2      JP2 whose jp2c box uses LBox = 0 (runs to the end of the file)
 *   corrupt-boxlen.jp2     JP2 whose jp2h box claims more bytes than the file has
 *   two-jp2c.jp2           JP2 brand with two jp2c boxes (invalid for JP2)
 * Usage: node --import tsx scripts/make-jpx.ts <dir-with-frame0..2.j2k> <out-dir-holding-rgb96.jp2>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/bytes/source.js';
import { listBoxes } from '../src/j2k/boxes.js';
import {
  box,
  box64,
  boxToEnd,
  colrBox,
  concatBytes,
  ftypBox,
  ihdrBox,
  rreqBox,
  signatureBox,
  xmlBox,
} from '../src/j2k/box-writer.js';

const GREY = 17;
const SRGB = 16;

const [srcDir, outDir] = process.argv.slice(2);
if (!srcDir || !outDir) {
  console.error('usage: make-jpx.ts <src-dir> <out-dir>');
  process.exit(2);
}

const frames = [0, 1, 2].map((i) => new Uint8Array(readFileSync(join(srcDir, `frame${i}.j2k`))));
// The exact codestream OpenJPEG wrote into rgb96.jp2, so the XLBox file differs only in its boxes.
const rgb96jp2 = new Uint8Array(readFileSync(join(outDir, 'rgb96.jp2')));
const rgb96box = listBoxes(new BufferSource(rgb96jp2), 0, rgb96jp2.length).find((b) => b.type === 'jp2c');
if (!rgb96box) throw new Error('rgb96.jp2 has no jp2c box');
const rgb96 = rgb96jp2.subarray(rgb96box.offset + rgb96box.headerLength, rgb96box.offset + rgb96box.length);

const jpxParts: Uint8Array[] = [
  signatureBox(),
  ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
  rreqBox(),
  box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(GREY)),
  xmlBox('<?xml version="1.0"?><movie frames="3"><note>jpipd fixture</note></movie>'),
];
frames.forEach((cs, i) => {
  jpxParts.push(box('jpch', ihdrBox(128, 128, 1, 8)));
  jpxParts.push(box('jplh', box('cgrp', colrBox(GREY))));
  if (i === 1) jpxParts.push(xmlBox(`<frame index="${i}"/>`));
  jpxParts.push(box('jp2c', cs));
});
writeFileSync(join(outDir, 'frames3-128.jpx'), concatBytes(...jpxParts));

const jp2Head = (w: number, h: number, nc: number, cs: number): Uint8Array =>
  concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(w, h, nc, 8), colrBox(cs)));

writeFileSync(join(outDir, 'rgb96-xlbox.jp2'), concatBytes(jp2Head(96, 64, 3, SRGB), box64('jp2c', rgb96)));
writeFileSync(join(outDir, 'gray128-lbox0.jp2'), concatBytes(jp2Head(128, 128, 1, GREY), boxToEnd('jp2c', frames[0])));
writeFileSync(
  join(outDir, 'two-jp2c.jp2'),
  concatBytes(jp2Head(128, 128, 1, GREY), box('jp2c', frames[0]), box('jp2c', frames[1])),
);

const corrupt = concatBytes(jp2Head(96, 64, 3, SRGB), box('jp2c', rgb96));
const jp2hAt = 12 + 20;
corrupt[jp2hAt] = 0x7f;
writeFileSync(join(outDir, 'corrupt-boxlen.jp2'), corrupt);
