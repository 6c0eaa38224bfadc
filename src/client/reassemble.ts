/**
 * Rebuilds a decodable JPEG 2000 codestream (15444-1 Annex A) from the data-bins of one codestream:
 * main header (minus TLM, PLM and POC; COD progression rewritten to RPCL), then for every tile in
 * raster order one tile-part (SOT, tile header minus PLT and POC, SOD, packets in RPCL order), then EOC.
 *
 * A precinct bin contributes its leading whole packets — found by decoding their headers (15444-1
 * B.10, j2k/packet-header.ts) — and an empty packet for each layer not (wholly) received, so a
 * partially received precinct shows the quality layers that arrived. A tile whose tile-header bin is
 * not complete is written with an empty header and only empty packets.
 */
import { BufferSource, be, joinBytes, put } from '../bytes/source.js';
import { CLASS_MAIN_HEADER, CLASS_PRECINCT, CLASS_TILE_HEADER, JppError } from '../bytes/jpp.js';
import { corrupt, overLimit, unsupported } from '../errors.js';
import { scanCodestream } from '../j2k/codestream.js';
import { precinctBinId, tileCount, tileGeometry } from '../j2k/geometry.js';
import { TilePacketHeaders, type PacketCoding } from '../j2k/packet-header.js';
import { packetOrder } from '../j2k/progression.js';
import { COD, EOC, PLM, PLT, POC, PPM, PPT, SIZ, SOC, SOD, SOT, TLM } from '../j2k/markers.js';
import { parseSiz } from '../j2k/segments.js';
import { Progression, type CodestreamLayout, type TileGeometry } from '../j2k/types.js';
import type { DataBinCache } from './databin-cache.js';

/** Bytes of SOT marker segment (marker + Lsot = 10). */
const SOT_LENGTH = 12;
const SOD_BYTES = Uint8Array.of(0xff, 0x93); // SOD
const EOC_BYTES = Uint8Array.of(0xff, 0xd9); // EOC
const EMPTY_PACKET = Uint8Array.of(0x00);
/** An empty packet when EPH is signalled: a zero bit header then the EPH marker (15444-1 A.8.2). */
const EMPTY_PACKET_EPH = Uint8Array.of(0x00, 0xff, 0x92); // EPH
/** Psot is a 32-bit field (15444-1 A.4.2). */
const PSOT_MAX = 0xffffffff;

/**
 * Marker segments of a header data-bin with TLM/PLM/PLT/POC dropped and COD's SGcod progression
 * byte set to RPCL; PPM/PPT are refused (packet headers would not be in the precinct bins).
 * `main`: the bin must start with SOC (kept). A tile-header bin may end with SOD (dropped).
 * 15444-1 A.4 (header layout), A.6.1 (COD), notes §4.1–4.2.
 */
function rewriteHeader(bin: Uint8Array, main: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  if (main) {
    if (bin.length < 2 || be.u16(bin, 0) !== SOC) throw corrupt('main header data-bin does not start with SOC');
    out.push(bin.subarray(0, 2));
    pos = 2;
  }
  while (pos < bin.length) {
    if (pos + 2 > bin.length) throw corrupt('header data-bin ends inside a marker');
    const code = be.u16(bin, pos);
    if (!main && code === SOD && pos + 2 === bin.length) break;
    if (code < 0xff01 || code === SOC || code === SOT || code === SOD || code === EOC) {
      throw corrupt(`unexpected marker 0x${code.toString(16)} in a header data-bin`);
    }
    if (pos + 4 > bin.length) throw corrupt('header data-bin ends inside a marker segment length');
    const L = be.u16(bin, pos + 2);
    if (L < 2 || pos + 2 + L > bin.length) throw corrupt(`marker segment 0x${code.toString(16)} length ${L} leaves its data-bin`);
    const seg = bin.subarray(pos, pos + 2 + L);
    pos += 2 + L;
    if (code === PPM || code === PPT) throw unsupported('packed packet headers (PPM/PPT)');
    if (code === TLM || code === PLM || code === PLT || code === POC) continue;
    if (code === COD) {
      if (L < 4) throw corrupt('COD marker segment too short');
      const cod = seg.slice();
      cod[5] = Progression.RPCL; // SGcod progression order (15444-1 Table A.16)
      out.push(cod);
    } else {
      out.push(seg);
    }
  }
  return out;
}


/** SOT marker segment for the only tile-part of tile `t` (15444-1 A.4.2: TPsot 0, TNsot 1). */
function sotSegment(t: number, Psot: number): Uint8Array {
  if (Psot > PSOT_MAX) throw overLimit(`tile ${t} is larger than Psot can express`);
  const b = new Uint8Array(SOT_LENGTH);
  put.u16(b, 0, SOT);
  put.u16(b, 2, 10); // Lsot
  put.u16(b, 4, t); // Isot
  put.u32(b, 6, Psot);
  b[10] = 0; // TPsot
  b[11] = 1; // TNsot
  return b;
}

/**
 * Layout of the codestream being built, from its headers alone: main header, then per tile SOT +
 * tile header + SOD with no packet data, then EOC (the scanner needs every tile to have a tile-part).
 */
function scanHeaders(main: Uint8Array, tileHeaders: Uint8Array[]): CodestreamLayout {
  const parts: Uint8Array[] = [main];
  tileHeaders.forEach((h, t) => parts.push(sotSegment(t, SOT_LENGTH + h.length + 2), h, SOD_BYTES));
  parts.push(EOC_BYTES);
  const bytes = joinBytes(parts);
  return scanCodestream(new BufferSource(bytes), 0, bytes.length, { headersOnly: true });
}

/**
 * Packets of tile `g` in RPCL order (15444-1 B.12.1.3) from the precinct bins: at each precinct's
 * layer-0 position its whole received packets, then one empty packet per missing layer. notes §4.3, §5.
 */
function tilePackets(
  cache: DataBinCache,
  codestream: number,
  g: TileGeometry,
  Nc: number,
  Nt: number,
  useBins: boolean,
  coding: PacketCoding,
): Uint8Array[] {
  const order = packetOrder({ ...g, progression: Progression.RPCL, pocs: [] });
  const empty = coding.eph ? EMPTY_PACKET_EPH : EMPTY_PACKET;
  const done = g.components.map((tc) => new Uint8Array(tc.precinctCount));
  const out: Uint8Array[] = [];
  for (let i = 0; i < order.length; i++) {
    const c = order.component[i];
    const r = order.resolution[i];
    const tc = g.components[c];
    const s = tc.resolutions[r].precinctBase + order.precinct[i];
    if (done[c][s] === 1) continue;
    done[c][s] = 1;
    const key = { cls: CLASS_PRECINCT, codestream, id: precinctBinId(g.t, c, s, Nc, Nt) };
    const bin = useBins ? cache.get(key) : new Uint8Array(0);
    const whole = bin.length > 0 ? wholePackets(g, coding, bin, c, r, order.precinct[i]) : { layers: 0, bytes: 0 };
    if (whole.bytes > 0) out.push(bin.subarray(0, whole.bytes));
    for (let l = whole.layers; l < g.layers; l++) out.push(empty);
  }
  return out;
}

/** The leading whole packets of a precinct bin's received bytes: how many layers, how many bytes. */
function wholePackets(g: TileGeometry, coding: PacketCoding, bin: Uint8Array, c: number, r: number, p: number): { layers: number; bytes: number } {
  const headers = new TilePacketHeaders(g, coding, new BufferSource(bin));
  let pos = 0;
  let l = 0;
  try {
    for (; l < g.layers && pos < bin.length; l++) pos += headers.packetLength(pos, bin.length, l, r, c, p);
  } catch {
    // The next packet was cut by a byte limit (or is damaged): stop before it.
  }
  return { layers: l, bytes: pos };
}

/** Builds a decodable codestream from the cached data-bins of `codestream` (see the module comment). */
export function reassembleCodestream(cache: DataBinCache, codestream: number): Uint8Array {
  const mainKey = { cls: CLASS_MAIN_HEADER, codestream, id: 0 };
  if (!cache.isComplete(mainKey)) {
    throw new JppError('ERR_JPP_MISSING', `main header data-bin of codestream ${codestream} is not complete`);
  }
  const mainParts = rewriteHeader(cache.get(mainKey), true);
  const sizSeg = mainParts.find((p) => p.length >= 4 && be.u16(p, 0) === SIZ);
  if (sizSeg === undefined) throw corrupt('main header data-bin has no SIZ');
  const Nt = tileCount(parseSiz(sizSeg.subarray(2)));
  const main = joinBytes(mainParts);
  const tileHeaders: Uint8Array[] = [];
  const haveHeader: boolean[] = [];
  for (let t = 0; t < Nt; t++) {
    const key = { cls: CLASS_TILE_HEADER, codestream, id: t };
    haveHeader[t] = cache.isComplete(key);
    tileHeaders.push(haveHeader[t] ? joinBytes(rewriteHeader(cache.get(key), false)) : new Uint8Array(0));
  }
  const layout = scanHeaders(main, tileHeaders);
  const Nc = layout.siz.Csiz;
  const parts: Uint8Array[] = [main];
  for (let t = 0; t < Nt; t++) {
    const g = tileGeometry(layout, t);
    const packets = tilePackets(cache, codestream, g, Nc, Nt, haveHeader[t], layout.tiles[t]?.cod ?? layout.cod);
    let Psot = SOT_LENGTH + tileHeaders[t].length + SOD_BYTES.length;
    for (const p of packets) Psot += p.length;
    parts.push(sotSegment(t, Psot), tileHeaders[t], SOD_BYTES);
    for (const p of packets) parts.push(p);
  }
  parts.push(EOC_BYTES);
  return joinBytes(parts);
}
