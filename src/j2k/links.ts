/**
 * Hyperlinked JPX (15444-2 M.11.3): codestreams held in other files. A fragment table box (`ftbl`)
 * holds a fragment list (`flst`: NF, then NF × {OFF u64, LEN u32, DR u16}); the data reference box
 * (`dtbl`: NDR, then NDR `url ` boxes of VERS u8, FLAG u24, LOC NUL-terminated UTF-8) names the files.
 * Pure parsing over a ByteSource; resolving URLs to files is io/'s job.
 */
import { be, type ByteSource } from '../bytes/source.js';
import { corrupt, overLimit } from '../errors.js';
import { listBoxes } from './box-reader.js';
import type { BoxRef, LinkedCodestream } from './types.js';

/** Most data references (url boxes) accepted in one dtbl. */
export const MAX_DATA_REFERENCES = 65535;
/** Longest URL accepted (bytes). */
export const MAX_URL_BYTES = 4096;

/** The body of a box (header excluded). */
function body(src: ByteSource, b: BoxRef): Uint8Array {
  return src.read(b.offset + b.headerLength, b.length - b.headerLength);
}

/** One fragment of a fragment list (15444-2 M.11.3.2). */
export interface Fragment {
  OFF: number;
  LEN: number;
  DR: number;
}

/** Parses the fragment list of an ftbl box (15444-2 M.11.3.1: exactly one flst child). */
export function parseFtbl(src: ByteSource, ftbl: BoxRef): Fragment[] {
  const kids = listBoxes(src, ftbl.offset + ftbl.headerLength, ftbl.offset + ftbl.length);
  const flst = kids.find((k) => k.type === 'flst');
  if (!flst || kids.length !== 1) throw corrupt("an 'ftbl' box must hold exactly one 'flst' box");
  const b = body(src, flst);
  if (b.length < 2) throw corrupt("'flst' box too short");
  const NF = be.u16(b, 0);
  if (b.length !== 2 + NF * 14) throw corrupt(`'flst' box length does not match NF = ${NF}`);
  const out: Fragment[] = [];
  for (let i = 0; i < NF; i++) {
    const p = 2 + i * 14;
    out.push({ OFF: be.u64(b, p), LEN: be.u32(b, p + 8), DR: be.u16(b, p + 12) });
  }
  return out;
}

/** Parses a data reference box into its URLs, 1-based as DR counts them (15444-2 M.11.3.3, M.11.3.4). */
export function parseDtbl(src: ByteSource, dtbl: BoxRef): string[] {
  const b = body(src, dtbl);
  if (b.length < 2) throw corrupt("'dtbl' box too short");
  const NDR = be.u16(b, 0);
  if (NDR > MAX_DATA_REFERENCES) throw overLimit(`'dtbl' with ${NDR} references`);
  const start = dtbl.offset + dtbl.headerLength + 2;
  const kids = listBoxes(src, start, dtbl.offset + dtbl.length);
  if (kids.length !== NDR) throw corrupt(`'dtbl' announces ${NDR} references but holds ${kids.length} boxes`);
  return kids.map((k) => {
    if (k.type !== 'url ') throw corrupt(`'dtbl' holds a '${k.type}' box, expected 'url '`);
    const u = body(src, k);
    if (u.length < 5) throw corrupt("'url ' box too short");
    const loc = u.subarray(4);
    const nul = loc.indexOf(0);
    const bytes = nul < 0 ? loc : loc.subarray(0, nul);
    if (bytes.length === 0 || bytes.length > MAX_URL_BYTES) throw corrupt(`'url ' location of ${bytes.length} bytes`);
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  });
}

/**
 * The codestreams of a hyperlinked JPX, one per ftbl box in file order. A frame that uses more than
 * one fragment, or names a missing data reference, carries an `error` and is not served; the rest are.
 */
export function linkedCodestreams(src: ByteSource, boxes: readonly BoxRef[]): LinkedCodestream[] {
  const dtbl = boxes.find((b) => b.type === 'dtbl');
  const urls = dtbl ? parseDtbl(src, dtbl) : [];
  const out: LinkedCodestream[] = [];
  for (const ftbl of boxes) {
    if (ftbl.type !== 'ftbl') continue;
    const frags = parseFtbl(src, ftbl);
    const n = out.length;
    if (frags.length !== 1) {
      out.push({ ftbl, url: '', dr: 0, offset: 0, length: 0, error: { code: 'ERR_IMAGE_UNSUPPORTED', message: `unsupported: frame ${n} is split into ${frags.length} fragments` } });
      continue;
    }
    const { OFF, LEN, DR } = frags[0];
    if (DR > urls.length) {
      out.push({ ftbl, url: '', dr: DR, offset: OFF, length: LEN, error: { code: 'ERR_IMAGE_CORRUPT', message: `frame ${n} names data reference ${DR} of ${urls.length}` } });
      continue;
    }
    if (DR === 0) {
      // DR = 0: the fragment is in this file (15444-2 M.11.3.2); movies embed such codestreams in jp2c instead.
      out.push({ ftbl, url: '', dr: 0, offset: OFF, length: LEN, error: { code: 'ERR_IMAGE_UNSUPPORTED', message: `unsupported: frame ${n} is a fragment of the movie file itself` } });
      continue;
    }
    out.push({ ftbl, url: urls[DR - 1], dr: DR, offset: OFF, length: LEN });
  }
  return out;
}

/** Most codestreams one compositing layer may register. */
export const MAX_REGISTERED_CODESTREAMS = 65535;

/**
 * The codestreams of each compositing layer of a JPX (one per top-level jplh box, in order): the CDN
 * values of the layer's codestream registration box (15444-2 M.11.11.1: XS, YS u16, then {CDN u16,
 * XR, YR, XO, YO u8}), or [i] for layer i when it has none.
 */
export function compositingLayers(src: ByteSource, boxes: readonly BoxRef[]): number[][] {
  const out: number[][] = [];
  for (const jplh of boxes) {
    if (jplh.type !== 'jplh') continue;
    const kids = listBoxes(src, jplh.offset + jplh.headerLength, jplh.offset + jplh.length);
    const creg = kids.find((k) => k.type === 'creg');
    if (!creg) {
      out.push([out.length]);
      continue;
    }
    const b = body(src, creg);
    if (b.length < 4 || (b.length - 4) % 6 !== 0) throw corrupt(`'creg' box of ${b.length} bytes`);
    const n = (b.length - 4) / 6;
    if (n > MAX_REGISTERED_CODESTREAMS) throw overLimit(`'creg' with ${n} codestreams`);
    const cdn: number[] = [];
    for (let i = 0; i < n; i++) cdn.push(be.u16(b, 4 + i * 6));
    out.push(cdn);
  }
  return out;
}
