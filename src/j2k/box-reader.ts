/**
 * Box headers (15444-1 I.4): reading one header and listing the boxes of a range. Shared by the
 * target scanner (boxes.ts) and the hyperlinked-JPX parser (links.ts).
 */
import { be, checkRange, type ByteSource } from '../bytes/source.js';
import { corrupt, overLimit } from '../errors.js';
import type { BoxRef } from './types.js';

/** Most top-level boxes accepted in one file. */
export const MAX_TOP_LEVEL_BOXES = 1_000_000;


/** Box type as a 4-character string (bytes taken as Latin-1). */
export function typeString(b: Uint8Array, p: number): string {
  return String.fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3]);
}

/**
 * Reads the box header at `offset` (15444-1 I.4): LBox = 0 means the box runs to `end`, LBox = 1
 * means a 64-bit XLBox follows, otherwise LBox >= 8. Throws ERR_IMAGE_CORRUPT if the box leaves `end`.
 */
export function readBoxHeader(src: ByteSource, offset: number, end: number): BoxRef {
  checkRange(end, offset, 8, 'box header');
  const h = src.read(offset, 8);
  const LBox = be.u32(h, 0);
  const type = typeString(h, 4);
  let headerLength = 8;
  let length: number;
  if (LBox === 0) {
    length = end - offset;
  } else if (LBox === 1) {
    checkRange(end, offset, 16, `'${type}' box XLBox`);
    length = be.u64(src.read(offset + 8, 8), 0);
    headerLength = 16;
    if (length < 16) throw corrupt(`'${type}' box XLBox ${length} < 16`);
  } else {
    if (LBox < 8) throw corrupt(`'${type}' box LBox ${LBox} < 8`);
    length = LBox;
  }
  checkRange(end, offset, length, `'${type}' box`);
  return { type, offset, headerLength, length };
}

/** Lists the boxes in [offset, end) (one level, no descent). */
export function listBoxes(src: ByteSource, offset: number, end: number): BoxRef[] {
  const boxes: BoxRef[] = [];
  let pos = offset;
  while (pos < end) {
    if (boxes.length >= MAX_TOP_LEVEL_BOXES) throw overLimit(`more than ${MAX_TOP_LEVEL_BOXES} boxes`);
    const b = readBoxHeader(src, pos, end);
    boxes.push(b);
    pos += b.length;
  }
  return boxes;
}

