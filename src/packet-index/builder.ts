/**
 * Lazy packet-index builder (the ESA paper's hybrid approach): walks the PLT packet lengths
 * (15444-1 A.7.3) of every tile in codestream order, pairs each length with the packet the tile's
 * progression puts there (B.12), and records the packets of the requested resolution levels.
 * For resolution-major progressions the walk stops after the last packet of the highest level asked,
 * so low-resolution requests read only the beginning of the PLT lists.
 */
import type { ByteSource } from '../bytes/source.js';
import { corrupt } from '../errors.js';
import { decodePltLengths } from '../j2k/plt.js';
import { packetOrder } from '../j2k/progression.js';
import type { CodestreamLayout, PacketOrder, TileGeometry } from '../j2k/types.js';
import type { SlotDirectory } from './directory.js';

/** Packet records of levels [from, upTo], laid out as the slots [levelStart[from], levelStart[upTo+1]). */
export interface LevelRecords {
  firstSlot: number;
  offsets: Float64Array;
  lengths: Uint32Array;
}

/** Index of the last packet in `order` whose resolution is ≤ upTo (-1 if none). */
function lastNeeded(order: PacketOrder, upTo: number): number {
  for (let n = order.length - 1; n >= 0; n--) if (order.resolution[n] <= upTo) return n;
  return -1;
}

/**
 * Computes the records of levels from..upTo of one codestream. `tileOf` gives cached tile geometry.
 * Throws ERR_IMAGE_CORRUPT if PLT lists disagree with the tile-part data or the progression.
 */
export function buildLevels(src: ByteSource, layout: CodestreamLayout, dir: SlotDirectory, tileOf: (t: number) => TileGeometry, from: number, upTo: number): LevelRecords {
  const firstSlot = dir.levelStart[from];
  const count = dir.levelStart[upTo + 1] - firstSlot;
  const offsets = new Float64Array(count);
  const lengths = new Uint32Array(count);
  const written = new Uint8Array(count);
  const partsByTile = new Map<number, typeof layout.tileParts>();
  for (const tp of layout.tileParts) {
    let list = partsByTile.get(tp.Isot);
    if (!list) partsByTile.set(tp.Isot, (list = []));
    list.push(tp);
  }
  for (let t = 0; t < dir.Nt; t++) {
    const tile = tileOf(t);
    const order = packetOrder(tile);
    const stopAfter = lastNeeded(order, upTo);
    if (stopAfter < 0) continue;
    const L = dir.layers[t];
    let n = 0;
    for (const tp of partsByTile.get(t) ?? []) {
      if (n > stopAfter) break;
      let pos = tp.dataOffset;
      for (const plt of tp.plt) {
        if (n > stopAfter) break;
        decodePltLengths(src.read(plt.offset, plt.length), (len) => {
          if (n >= order.length) throw corrupt(`PLT lists more packets than tile ${t} has (${order.length})`);
          if (pos + len > tp.dataEnd) throw corrupt(`PLT packet lengths run past the end of a tile-part of tile ${t}`);
          const r = order.resolution[n];
          if (r >= from && r <= upTo) {
            const c = order.component[n];
            const slot = dir.base[(t * dir.Nc + c) * dir.levels + r] + order.precinct[n] * L + order.layer[n] - firstSlot;
            offsets[slot] = pos;
            lengths[slot] = len;
            written[slot] = 1;
          }
          pos += len;
          n++;
          return n <= stopAfter;
        });
      }
      if (n <= stopAfter && pos !== tp.dataEnd) throw corrupt(`PLT packet lengths do not cover a tile-part of tile ${t}`);
    }
    if (n <= stopAfter) throw corrupt(`PLT lists fewer packets than tile ${t} needs (${n} of ${stopAfter + 1})`);
  }
  for (let i = 0; i < count; i++) if (!written[i]) throw corrupt('a packet of the requested levels is missing from the PLT lists');
  return { firstSlot, offsets, lengths };
}
