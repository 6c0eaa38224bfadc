/**
 * Frame geometry a client needs from the main header it received: the image's SIZ and the resolution
 * level (discarded levels) a served frame size names. Used by `jpipd get` and the browser viewer.
 */
import { corrupt } from '../errors.js';
import { frameSize } from '../j2k/geometry.js';
import { SIZ, SOC } from '../j2k/markers.js';
import { parseSiz } from '../j2k/segments.js';
import type { Siz } from '../j2k/types.js';

/** The SIZ of a codestream, or of a main-header data-bin: it follows SOC (15444-1 A.5). */
export function sizOf(mainHeader: Uint8Array): Siz {
  const at = (p: number): number => mainHeader[p] * 256 + mainHeader[p + 1];
  if (mainHeader.length < 6 || at(0) !== SOC || at(2) !== SIZ) throw corrupt('the main header does not start with SOC, SIZ');
  return parseSiz(mainHeader.subarray(4, 4 + at(4)));
}

/** Discarded levels of the largest frame no wider than `fx` (the level of a served frame size, 15444-9 C.4.2). */
export function levelForWidth(siz: Siz, fx: number): number {
  for (let d = 0; d < 33; d++) if (frameSize(siz, d).width <= fx) return d;
  return 32;
}
