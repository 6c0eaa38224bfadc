/**
 * Lazy packet-index builder (the ESA paper's hybrid approach): walks the packet lengths of every tile
 * in codestream order — from its PLT lists (15444-1 A.7.3) when every tile-part of the tile has them,
 * else by decoding the packet headers (B.10, j2k/packet-header.ts) — pairs each length with the packet
 * the tile's progression puts there (B.12), and records the packets of the requested resolution levels.
 * For resolution-major progressions the walk stops after the last packet of the highest level asked,
 * so low-resolution requests read only the beginning of the PLT lists or of the tile's data; in
 * layer-major progressions the packets of a low level are spread over the whole tile, so the walk
 * reads every packet header up to the last one needed (headers only, never the bodies).
 *
 * SOP marker segments (A.8.1) are left out of the records: a precinct data-bin holds packets without
 * them (15444-9 A.3.2), and COD's SOP flag only says they may be present, so a client's rebuilt
 * codestream without them is valid.
 */
import type { ByteSource } from '../bytes/source.js';
import { corrupt } from '../errors.js';
import { BitReader, sopLength, TilePacketHeaders } from '../j2k/packet-header.js';
import { decodePltLengths, encodePltLengths } from '../j2k/plt.js';
import { packetOrder } from '../j2k/progression.js';
import type { CodestreamLayout, PacketOrder, TileGeometry, TilePart } from '../j2k/types.js';
import type { SlotDirectory } from './directory.js';
import { hasPackedHeaders, packedHeaders, type Span } from '../j2k/packed-headers.js';
import { unsupported } from '../errors.js';

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
 * Packet lengths learnt by decoding packet headers, kept across restarts (io/lengths-cache.ts): per
 * tile, one PLT-coded list (15444-1 A.7.3) per tile-part. Read back, they are checked like PLT.
 */
export interface LearntLengths {
  get(t: number): Uint8Array[] | null;
  put(t: number, parts: Uint8Array[]): void;
  /** Persists what put() recorded (called once at the end of a build). */
  flush(): void;
}

/** A tile-part whose packet lengths need no header walk: it has PLT lists, or no packet data. */
export const listsLengths = (tp: TilePart): boolean => tp.plt.length > 0 || tp.dataEnd === tp.dataOffset;

/**
 * Whether indexing a codestream walks in-line packet headers and keeps what it learns (LearntLengths):
 * some tile-part with data has no PLT, and the headers are not packed (those are read from PPM/PPT).
 */
export function learnsLengths(layout: CodestreamLayout): boolean {
  return !hasPackedHeaders(layout) && !layout.tileParts.every(listsLengths);
}

/**
 * Computes the records of levels from..upTo of one codestream. `tileOf` gives cached tile geometry;
 * `learnt`, when given, supplies and keeps the lengths of tiles without PLT.
 * Throws ERR_IMAGE_CORRUPT if PLT lists or packet headers disagree with the tile-part data or the
 * progression.
 */
export function buildLevels(
  src: ByteSource,
  layout: CodestreamLayout,
  dir: SlotDirectory,
  tileOf: (t: number) => TileGeometry,
  from: number,
  upTo: number,
  learnt?: LearntLengths,
): LevelRecords {
  const firstSlot = dir.levelStart[from];
  const count = dir.levelStart[upTo + 1] - firstSlot;
  const offsets = new Float64Array(count);
  const lengths = new Uint32Array(count);
  const written = new Uint8Array(count);
  const partsByTile = new Map<number, typeof layout.tileParts>();
  const indexByTile = new Map<number, number[]>();
  layout.tileParts.forEach((tp, i) => {
    let list = partsByTile.get(tp.Isot);
    if (!list) {
      partsByTile.set(tp.Isot, (list = []));
      indexByTile.set(tp.Isot, []);
    }
    list.push(tp);
    indexByTile.get(tp.Isot)?.push(i);
  });
  // Packed packet headers (PPM/PPT): each packet is P = dir.pieces slots, header ranges then body.
  const P = dir.pieces;
  const packed = P > 1 ? packedHeaders(src, layout) : null;
  const put = (slot: number, pos: number, len: number): void => {
    offsets[slot] = pos;
    lengths[slot] = len;
    written[slot] = 1;
  };
  for (let t = 0; t < dir.Nt; t++) {
    const tile = tileOf(t);
    const order = packetOrder(tile);
    const stopAfter = lastNeeded(order, upTo);
    if (stopAfter < 0) continue;
    const L = dir.layers[t];
    const parts = partsByTile.get(t) ?? [];
    const coding = layout.tiles[t]?.cod ?? layout.cod;
    const peek = coding.sop ? new BitReader(src) : null;
    let n = 0;
    /** First slot of packet n, or -1 when its level is not being built. */
    const slotOfPacket = (): number => {
      const r = order.resolution[n];
      if (r < from || r > upTo) return -1;
      return dir.base[(t * dir.Nc + order.component[n]) * dir.levels + r] + (order.precinct[n] * L + order.layer[n]) * P - firstSlot;
    };
    const record = (pos: number, len: number, sop: number): void => {
      const slot = slotOfPacket();
      if (slot < 0) return;
      // Without packed headers a packet is one range; its header pieces (if any) are empty.
      for (let k = 0; k < P - 1; k++) put(slot + k, pos + sop, 0);
      put(slot + P - 1, pos + sop, len - sop);
    };
    const packedParts = packed ? (indexByTile.get(t) ?? []).map((i) => packed[i]) : [];
    if (packedParts.some((h) => h !== null)) {
      // Headers in PPM/PPT segments, bodies in the tile-part data (each after its SOP, if any).
      const headers = new TilePacketHeaders(tile, coding, src);
      for (const [i, tp] of parts.entries()) {
        const hs = packedParts[i];
        if (!hs) throw corrupt(`tile ${t}: a tile-part without PPT where the tile's other tile-parts pack their packet headers`);
        const hr = new BitReader(hs);
        peek?.start(tp.dataOffset, tp.dataEnd);
        let hpos = 0;
        let pos = tp.dataOffset;
        while (n <= stopAfter && hpos < hs.size) {
          if (n >= order.length) throw corrupt(`the packed packet headers of tile ${t} hold more packets than it has (${order.length})`);
          const body = headers.packedBody(hr, hpos, hs.size, order.layer[n], order.resolution[n], order.component[n], order.precinct[n]);
          const hlen = headers.headerBytes;
          const sop = peek ? sopLength(peek, pos, tp.dataEnd) : 0;
          if (pos + sop + body > tp.dataEnd) throw corrupt(`a packet body runs past the end of a tile-part of tile ${t}`);
          const slot = slotOfPacket();
          if (slot >= 0) {
            const ranges: Span[] = hs.fileRanges(hpos, hlen);
            if (ranges.length > P - 1) throw unsupported(`a packed packet header of tile ${t} spans more than ${P - 1} PPM/PPT segments`);
            for (let k = 0; k < P - 1; k++) put(slot + k, ranges[k]?.offset ?? pos + sop, ranges[k]?.length ?? 0);
            put(slot + P - 1, pos + sop, body);
          }
          hpos += hlen;
          pos += sop + body;
          n++;
        }
        if (n > stopAfter) break;
        if (pos !== tp.dataEnd) throw corrupt(`the packed packet headers of tile ${t} do not account for the data of its tile-part ${tp.TPsot}`);
      }
      if (n <= stopAfter) throw corrupt(`the tile-parts of tile ${t} hold fewer packets than it needs (${n} of ${stopAfter + 1})`);
      continue;
    }
    // Length lists per tile-part: the file's PLT, else what an earlier header walk learnt.
    const fromLists = (listsOf: (i: number) => Uint8Array[]): void => {
      for (const [i, tp] of parts.entries()) {
        if (n > stopAfter) break;
        let pos = tp.dataOffset;
        peek?.start(tp.dataOffset, tp.dataEnd);
        for (const list of listsOf(i)) {
          if (n > stopAfter) break;
          decodePltLengths(list, (len) => {
            if (n >= order.length) throw corrupt(`PLT lists more packets than tile ${t} has (${order.length})`);
            if (pos + len > tp.dataEnd) throw corrupt(`PLT packet lengths run past the end of a tile-part of tile ${t}`);
            record(pos, len, peek ? sopLength(peek, pos, pos + len) : 0);
            pos += len;
            n++;
            return n <= stopAfter;
          });
        }
        if (n <= stopAfter && pos !== tp.dataEnd) throw corrupt(`PLT packet lengths do not cover a tile-part of tile ${t}`);
      }
      if (n <= stopAfter) throw corrupt(`PLT lists fewer packets than tile ${t} needs (${n} of ${stopAfter + 1})`);
    };
    if (parts.every(listsLengths)) {
      fromLists((i) => parts[i].plt.map((plt) => src.read(plt.offset, plt.length)));
      continue;
    }
    const known = learnt?.get(t);
    if (known && known.length === parts.length) {
      try {
        fromLists((i) => [known[i]]);
        continue;
      } catch {
        n = 0; // a stale or damaged record: decode the headers instead (every slot is rewritten)
      }
    }
    // No PLT (in some tile-part): the packet headers say where each packet ends. A walk that covers
    // the whole tile is remembered (learnt) as PLT-coded lists.
    const headers = new TilePacketHeaders(tile, coding, src);
    const seen: number[][] = [];
    for (const tp of parts) {
      let pos = tp.dataOffset;
      const lens: number[] = [];
      seen.push(lens);
      while (n <= stopAfter && n < order.length && pos < tp.dataEnd) {
        const len = headers.packetLength(pos, tp.dataEnd, order.layer[n], order.resolution[n], order.component[n], order.precinct[n]);
        record(pos, len, headers.sop);
        lens.push(len);
        pos += len;
        n++;
      }
      if (n > stopAfter) break;
    }
    if (n <= stopAfter) throw corrupt(`the tile-parts of tile ${t} hold fewer packets than it needs (${n} of ${stopAfter + 1})`);
    if (learnt && n === order.length && seen.length === parts.length && parts.every((tp, i) => seen[i].reduce((a, b) => a + b, 0) === tp.dataEnd - tp.dataOffset)) {
      learnt.put(t, seen.map((l) => encodePltLengths(l)));
    }
  }
  learnt?.flush();
  for (let i = 0; i < count; i++) if (!written[i]) throw corrupt('a packet of the requested levels is missing from the PLT lists');
  return { firstSlot, offsets, lengths };
}
