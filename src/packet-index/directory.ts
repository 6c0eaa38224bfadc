/**
 * Slot numbering of one codestream's shared packet table: every packet (t, c, r, p, l) has a slot;
 * slots are level-major (all packets of resolution 0 of every tile-component first, then level 1, ...)
 * so that indexing a new level appends a contiguous range and low levels share the first pages.
 * A packet is `pieces` consecutive slots: 1 (the packet's one file range) or, in codestreams with
 * packed headers (PPM/PPT, j2k/packed-headers.ts), PACKED_PIECES: its header as up to two file ranges
 * (a header may straddle two PPM/PPT segments), then its body.
 */
import { overLimit } from '../errors.js';
import type { TileGeometry } from '../j2k/types.js';

/** Largest number of slots one codestream may have (12 bytes each: 3 GiB). */
export const MAX_SLOTS = 2 ** 28;

/** Slots per packet when headers are packed: header part 1, header part 2 (usually empty), body. */
export const PACKED_PIECES = 3;

/** Where each (tile, component, resolution) starts in the slot table. */
export interface SlotDirectory {
  Nt: number;
  Nc: number;
  /** Resolution levels over all tile-components (max NL + 1). */
  levels: number;
  /** Slots per packet (1, or PACKED_PIECES). */
  pieces: number;
  /** Slot of packet (t,c,r,0,0) at index (t*Nc + c)*levels + r; -1 when the resolution does not exist. */
  base: Float64Array;
  /** Quality layers of each tile. */
  layers: Uint16Array;
  /** First slot of each level; levelStart[levels] = slotCount. */
  levelStart: Float64Array;
  slotCount: number;
}

/** Builds the directory from every tile's geometry (`tileOf(t)` for t = 0..Nt-1), `pieces` slots per packet. */
export function buildDirectory(Nt: number, Nc: number, tileOf: (t: number) => TileGeometry, pieces = 1): SlotDirectory {
  const tiles: TileGeometry[] = [];
  let levels = 1;
  for (let t = 0; t < Nt; t++) {
    const tile = tileOf(t);
    tiles.push(tile);
    for (const tc of tile.components) levels = Math.max(levels, tc.style.NL + 1);
  }
  const base = new Float64Array(Nt * Nc * levels).fill(-1);
  const layers = new Uint16Array(Nt);
  const levelStart = new Float64Array(levels + 1);
  let cursor = 0;
  for (let r = 0; r < levels; r++) {
    levelStart[r] = cursor;
    for (let t = 0; t < Nt; t++) {
      const tile = tiles[t];
      layers[t] = tile.layers;
      for (let c = 0; c < Nc; c++) {
        const res = tile.components[c].resolutions[r];
        if (!res) continue;
        base[(t * Nc + c) * levels + r] = cursor;
        cursor += res.npx * res.npy * tile.layers * pieces;
        if (cursor > MAX_SLOTS) throw overLimit(`more than ${MAX_SLOTS} packets in one codestream`);
      }
    }
  }
  levelStart[levels] = cursor;
  return { Nt, Nc, levels, pieces, base, layers, levelStart, slotCount: cursor };
}

/** First slot of packet (t, c, r, p, l); p is the raster precinct index inside (t, c, r). */
export function slotOf(dir: SlotDirectory, t: number, c: number, r: number, p: number, l: number): number {
  return dir.base[(t * dir.Nc + c) * dir.levels + r] + (p * dir.layers[t] + l) * dir.pieces;
}
