/**
 * Data-bin contents as "pieces": byte ranges of a data-bin with where their bytes come from
 * (notes §4). The engine walks pieces in delivery order and lets the cache model and the byte
 * budget decide what is sent. Pure functions of the target layout.
 */
import { put } from '../bytes/source.js';
import type { CodestreamLayout, MarkerSegment, MetadataBin, TargetLayout } from '../j2k/types.js';
import { PLM, PLT, PPM, PPT, TLM } from './marker-policy.js';

/** A contiguous range of one data-bin and the source of its bytes. */
export interface Piece {
  /** Offset of the piece inside its data-bin. */
  binOffset: number;
  length: number;
  /** Bytes from the file (absolute offset) or given inline (placeholders). */
  fileOffset?: number;
  bytes?: Uint8Array;
  /** True if the piece ends the data-bin (its last byte is the bin's last byte). */
  last: boolean;
  /** False for placeholder boxes, which are only sent whole (notes §4.4). */
  splittable: boolean;
}

/** Merges adjacent marker segments into file ranges, keeping those `keep` accepts. */
function segmentRanges(segments: readonly MarkerSegment[], keep: (code: number) => boolean): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const s of segments) {
    if (!keep(s.code)) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[0] + last[1] === s.offset) last[1] += s.length;
    else ranges.push([s.offset, s.length]);
  }
  return ranges;
}

/** Turns file ranges into consecutive pieces of one bin; an empty bin becomes one zero-length last piece. */
function rangesToPieces(ranges: Array<[number, number]>): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  for (const [offset, length] of ranges) {
    pieces.push({ binOffset: at, length, fileOffset: offset, last: false, splittable: true });
    at += length;
  }
  if (pieces.length === 0) pieces.push({ binOffset: 0, length: 0, last: true, splittable: false });
  else pieces[pieces.length - 1].last = true;
  return pieces;
}

/**
 * Main header data-bin (class 6): SOC up to the first SOT, minus TLM and PLM, which describe the
 * server's file layout and not the codestream the client rebuilds (notes §4.1), and minus PPM: packed
 * packet headers are served in front of their bodies in the precinct data-bins (15444-9 A.3.2.1), so
 * the client's codestream has them in-line.
 */
export function mainHeaderPieces(cs: CodestreamLayout): readonly Piece[] {
  let p = mainPieces.get(cs);
  if (!p) {
    p = rangesToPieces(segmentRanges(cs.mainSegments, (code) => code !== TLM && code !== PLM && code !== PPM));
    mainPieces.set(cs, p);
  }
  return p;
}

/** Header pieces are formed once per layout (they are served on every request that needs them). */
const mainPieces = new WeakMap<CodestreamLayout, Piece[]>();
const tilePieces = new WeakMap<CodestreamLayout, Map<number, Piece[]>>();

/**
 * Tile header data-bin (class 2, id t): the marker segments of the tile's tile-part headers in file
 * order, without SOT, SOD, PLT and PPT (notes §4.2; PPT's headers go into the precinct data-bins, as
 * PPM's). Empty for tiles whose headers carry only PLT or PPT.
 */
export function tileHeaderPieces(cs: CodestreamLayout, t: number): readonly Piece[] {
  let byTile = tilePieces.get(cs);
  if (!byTile) tilePieces.set(cs, (byTile = new Map()));
  let p = byTile.get(t);
  if (!p) {
    p = rangesToPieces(segmentRanges(tileSegments(cs).get(t) ?? [], (code) => code !== PLT && code !== PPT));
    byTile.set(t, p);
  }
  return p;
}

/** Tile-part header segments grouped by tile, computed once per layout (a walk per tile would be quadratic). */
const segmentsByTile = new WeakMap<CodestreamLayout, Map<number, MarkerSegment[]>>();
function tileSegments(cs: CodestreamLayout): Map<number, MarkerSegment[]> {
  let m = segmentsByTile.get(cs);
  if (!m) {
    m = new Map();
    for (const tp of cs.tileParts) {
      let list = m.get(tp.Isot);
      if (!list) m.set(tp.Isot, (list = []));
      list.push(...tp.segments);
    }
    segmentsByTile.set(cs, m);
  }
  return m;
}

/** Length of a placeholder box for an original box header of `headerLength` bytes (15444-9 A.3.6.3). */
export const phldLength = (headerLength: number): number => 44 + headerLength;

/** Placeholder flags (15444-9 A.3.6.3): the original box's contents are in metadata-bin OrigID. */
export const PHLD_ORIGINAL = 1;
/** Placeholder flags: the box is a codestream, delivered as JPIP codestream CSID. */
export const PHLD_CODESTREAM = 4;

/**
 * A placeholder box (15444-9 A.3.6.3): LBox, 'phld', Flags, OrigID, OrigBH = the original box header,
 * EquivID 0, EquivBH = 8 zero bytes (no equivalent box), CSID. `origHeader` is read from the file.
 */
export function placeholderBox(origHeader: Uint8Array, flags: number, origId: number, codestream: number): Uint8Array {
  const hl = origHeader.length;
  const out = new Uint8Array(phldLength(hl));
  put.u32(out, 0, out.length);
  out.set([0x70, 0x68, 0x6c, 0x64], 4); // 'phld'
  put.u32(out, 8, flags);
  put.u64(out, 12, origId); // OrigID
  out.set(origHeader, 20); // OrigBH
  put.u64(out, 20 + hl, 0); // EquivID
  // EquivBH: 8 zero bytes at 28 + hl
  put.u64(out, 36 + hl, codestream); // CSID
  return out;
}

/**
 * Metadata-bin 0 (class 8, id 0): the target's top-level boxes verbatim, codestream and content
 * boxes replaced by placeholders (notes §4.4). `readHeader(box)` returns the original box header
 * bytes. A raw codestream has an empty, complete bin 0. The last piece is a zero-length completion.
 */
export function metadataBin0Pieces(layout: TargetLayout, readHeader: (offset: number, length: number) => Uint8Array): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  const add = (p: Omit<Piece, 'binOffset' | 'last'>): void => {
    pieces.push({ ...p, binOffset: at, last: false });
    at += p.length;
  };
  for (const item of layout.metadata) {
    if (item.kind === 'inline') add({ length: item.length, fileOffset: item.offset, splittable: true });
    else if (item.kind === 'rewritten') {
      const bytes = Buffer.from(item.hex, 'hex');
      add({ length: bytes.length, bytes, splittable: true });
    } else {
      const header = readHeader(item.box.offset, item.box.headerLength);
      const bytes = item.kind === 'phld' ? placeholderBox(header, PHLD_CODESTREAM, 0, item.codestream) : placeholderBox(header, PHLD_ORIGINAL, item.bin, 0);
      add({ length: bytes.length, bytes, splittable: false });
    }
  }
  pieces.push({ binOffset: at, length: 0, last: true, splittable: false });
  return pieces;
}

/**
 * Metadata-bin `bin.id`: the contents of its box (the body, header excluded: the header travels as
 * OrigBH in bin 0's placeholder), at most `limit` bytes of it when the request limits box bodies.
 */
export function metadataBinPieces(bin: MetadataBin, limit = Infinity): Piece[] {
  const length = bin.box.length - bin.box.headerLength;
  const n = Math.min(length, limit);
  return [{ binOffset: 0, length: n, fileOffset: bin.box.offset + bin.box.headerLength, last: n === length, splittable: true }];
}
