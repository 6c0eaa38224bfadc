/**
 * Moves the packet headers of a raw codestream into PPT (per tile-part) or PPM (main header) marker
 * segments (15444-1 A.7.4, A.7.5), for test fixtures: OpenJPEG reads such files but does not write
 * them. Packet headers are found with jpipd's own decoder (j2k/packet-header.ts); the result is
 * checked by decoding it with OpenJPEG against the input (make-fixtures.sh), so a mistake here cannot
 * hide one there. PLT segments are dropped (they would describe the old packets). SOP segments stay in
 * the packet data in front of each body; EPH markers move with their headers.
 *
 * Usage: node --import tsx scripts/make-packed-headers.ts <in.j2k> <out.j2k> ppt|ppm
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BufferSource, put } from '../src/bytes/source.js';
import { concatBytes } from '../src/j2k/box-writer.js';
import { scanCodestream } from '../src/j2k/codestream.js';
import { tileCount, tileGeometry } from '../src/j2k/geometry.js';
import { PLT } from '../src/j2k/markers.js';
import { TilePacketHeaders } from '../src/j2k/packet-header.js';
import { packetOrder } from '../src/j2k/progression.js';

const [input, output, mode] = process.argv.slice(2);
if (!input || !output || (mode !== 'ppt' && mode !== 'ppm')) throw new Error('usage: make-packed-headers.ts <in.j2k> <out.j2k> ppt|ppm');

const bytes = new Uint8Array(readFileSync(input));
const src = new BufferSource(bytes);
const cs = scanCodestream(src, 0, bytes.length);
const PPM = 0xff60;
const PPT = 0xff61;
/** Largest Ippm/Ippt bytes in one segment (Lxxx is 16 bits and counts itself and Zxxx). */
const MAX_SEGMENT_DATA = 65535 - 3;

/**
 * Marker segments `code` carrying `data` in pieces of at most MAX_SEGMENT_DATA, numbered from `z0`
 * (OpenJPEG numbers Zppt across all tile-parts of a tile, so the caller continues the count).
 */
function segments(code: number, data: Uint8Array, z0 = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, z = z0; at < data.length || z === z0; at += MAX_SEGMENT_DATA, z++) {
    if (z > 255) throw new Error('more than 256 packed-header segments');
    const piece = data.subarray(at, Math.min(data.length, at + MAX_SEGMENT_DATA));
    const seg = new Uint8Array(5 + piece.length);
    put.u16(seg, 0, code);
    put.u16(seg, 2, 3 + piece.length);
    seg[4] = z;
    seg.set(piece, 5);
    out.push(seg);
  }
  return out;
}

// Split every tile-part's packets into headers and the rest (SOP + body), tile by tile in codestream order.
const headersOf = new Map<number, Uint8Array>(); // by tile-part index
const dataOf = new Map<number, Uint8Array>();
const walkers = new Map<number, { h: TilePacketHeaders; order: ReturnType<typeof packetOrder>; n: number }>();
for (let t = 0; t < tileCount(cs.siz); t++) {
  const tile = tileGeometry(cs, t);
  walkers.set(t, { h: new TilePacketHeaders(tile, cs.tiles[t]?.cod ?? cs.cod, src), order: packetOrder(tile), n: 0 });
}
cs.tileParts.forEach((tp, i) => {
  const w = walkers.get(tp.Isot)!;
  const heads: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  let pos = tp.dataOffset;
  while (pos < tp.dataEnd) {
    const { order } = w;
    const len = w.h.packetLength(pos, tp.dataEnd, order.layer[w.n], order.resolution[w.n], order.component[w.n], order.precinct[w.n]);
    const sop = w.h.sop;
    const head = w.h.headerBytes;
    rest.push(bytes.subarray(pos, pos + sop));
    heads.push(bytes.subarray(pos + sop, pos + sop + head));
    rest.push(bytes.subarray(pos + sop + head, pos + len));
    pos += len;
    w.n++;
  }
  headersOf.set(i, concatBytes(...heads));
  dataOf.set(i, concatBytes(...rest));
});

const main = bytes.subarray(cs.mainHeader.offset, cs.mainHeader.offset + cs.mainHeader.length);
const parts: Uint8Array[] = [main];
if (mode === 'ppm') {
  // Ippm: for each tile-part in codestream order, Nppm (4 bytes) then its packet headers (A.7.4).
  const stream: Uint8Array[] = [];
  cs.tileParts.forEach((_, i) => {
    const h = headersOf.get(i)!;
    const n = new Uint8Array(4);
    put.u32(n, 0, h.length);
    stream.push(n, h);
  });
  parts.push(...segments(PPM, concatBytes(...stream)));
}
const zppt = new Map<number, number>();
cs.tileParts.forEach((tp, i) => {
  const header: Uint8Array[] = tp.segments.filter((s) => s.code !== PLT).map((s) => bytes.subarray(s.offset, s.offset + s.length));
  if (mode === 'ppt') {
    const segs = segments(PPT, headersOf.get(i)!, zppt.get(tp.Isot) ?? 0);
    zppt.set(tp.Isot, (zppt.get(tp.Isot) ?? 0) + segs.length);
    header.push(...segs);
  }
  const data = dataOf.get(i)!;
  const sot = new Uint8Array(12);
  put.u16(sot, 0, 0xff90);
  put.u16(sot, 2, 10);
  put.u16(sot, 4, tp.Isot);
  const headerLength = header.reduce((a, h) => a + h.length, 0);
  put.u32(sot, 6, 12 + headerLength + 2 + data.length);
  sot[10] = tp.TPsot;
  sot[11] = tp.TNsot;
  parts.push(sot, ...header, Uint8Array.of(0xff, 0x93), data);
});
parts.push(Uint8Array.of(0xff, 0xd9));
writeFileSync(output, concatBytes(...parts));
console.log(`  ${output.split('/').pop()} (${mode}, ${cs.tileParts.length} tile-parts)`);
