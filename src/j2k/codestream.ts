/**
 * Codestream scanner (15444-1 A.3, A.4): reads the main header marker by marker, then walks the
 * tile-parts through SOT/Psot, recording header segments, PLT lists and packet-data ranges. Reads are
 * bounded (one marker segment at a time); packet data is never read.
 */
import { be, checkRange, type ByteSource } from '../bytes/source.js';
import { corrupt, overLimit, unsupported } from '../errors.js';
import * as M from './markers.js';
import { tileGeometry } from './geometry.js';
import { packedHeaderBytes } from './packed-headers.js';
import { checkQcc, checkQcd, checkRgn, parseCoc, parseCod, parsePltHeader, parsePoc, parseSiz, parseSot, numTilesX, numTilesY } from './segments.js';
import type {
  CodestreamLayout,
  CodingStyleDefault,
  ComponentCodingStyle,
  MarkerSegment,
  Poc,
  PltRange,
  Siz,
  TileOverrides,
  TilePart,
} from './types.js';

/** Most tile-parts accepted in one codestream. */
export const MAX_TILE_PARTS = 1_000_000;
/** Most marker segments accepted in one header (main or tile-part). */
export const MAX_HEADER_SEGMENTS = 100_000;

/** One marker read from the source: its code, and its segment bytes (from Lxxx) when it has one. */
interface RawMarker {
  code: number;
  offset: number;
  /** Total length including the marker code. */
  length: number;
  seg: Uint8Array | null;
}

/** Reads the marker at `pos` and its segment, bounded by `end` (15444-1 A.1). */
function readMarker(src: ByteSource, pos: number, end: number, where: string): RawMarker {
  if (pos + 2 > end) throw corrupt(`${where}: codestream ends before the next marker`);
  const head = src.read(pos, 2);
  const code = be.u16(head, 0);
  if (head[0] !== 0xff || code < 0xff01) throw corrupt(`${where}: expected a marker at offset ${pos}, found 0x${code.toString(16)}`);
  if (M.isBareMarker(code)) return { code, offset: pos, length: 2, seg: null };
  if (pos + 4 > end) throw corrupt(`${where}: ${M.markerName(code)} segment cut at the end`);
  const L = be.u16(src.read(pos + 2, 2), 0);
  if (L < 2) throw corrupt(`${where}: ${M.markerName(code)} length ${L} < 2`);
  checkRange(end, pos + 2, L, `${where}: ${M.markerName(code)} segment`);
  return { code, offset: pos, length: 2 + L, seg: src.read(pos + 2, L) };
}

/** Refuses marker segments outside the served profile: Part 2 decomposition styles. */
function refuseUnserved(code: number): void {
  if (code === M.DFS || code === M.ADS) throw unsupported(`${M.markerName(code)} arbitrary decomposition (Part 2)`);
}

/** Applies COC overrides over a COD default (15444-1 A.6.1 precedence within one header). */
function applyStyles(Csiz: number, codStyle: ComponentCodingStyle, cocs: Map<number, ComponentCodingStyle>): ComponentCodingStyle[] {
  const out: ComponentCodingStyle[] = [];
  for (let c = 0; c < Csiz; c++) out.push(cocs.get(c) ?? codStyle);
  return out;
}

/** State of the main header parse. */
interface MainHeader {
  siz: Siz;
  cod: CodingStyleDefault;
  components: ComponentCodingStyle[];
  pocs: Poc[];
  segments: MarkerSegment[];
  /** Offset of the first SOT. */
  sotOffset: number;
}

/** Parses the main header from SOC to the first SOT (15444-1 A.4.1). */
function scanMainHeader(src: ByteSource, offset: number, end: number): MainHeader {
  const soc = readMarker(src, offset, end, 'main header');
  if (soc.code !== M.SOC) throw corrupt(`no SOC marker at offset ${offset}`);
  const segments: MarkerSegment[] = [{ code: M.SOC, offset, length: 2 }];
  let siz: Siz | null = null;
  let cod: { cod: CodingStyleDefault; style: ComponentCodingStyle } | null = null;
  let qcd = false;
  const cocs = new Map<number, ComponentCodingStyle>();
  const pocs: Poc[] = [];
  let pos = offset + 2;
  for (;;) {
    if (segments.length > MAX_HEADER_SEGMENTS) throw overLimit('too many marker segments in the main header');
    const m = readMarker(src, pos, end, 'main header');
    if (m.code === M.SOT) break;
    if (!siz && m.code !== M.SIZ) throw corrupt(`main header: ${M.markerName(m.code)} before SIZ`);
    refuseUnserved(m.code);
    if (m.seg === null) {
      if (!M.isReservedBare(m.code)) throw corrupt(`main header: unexpected ${M.markerName(m.code)} at offset ${pos}`);
      segments.push({ code: m.code, offset: m.offset, length: 2 });
      pos += 2;
      continue;
    }
    const seg = m.seg;
    switch (m.code) {
      case M.SIZ:
        if (siz) throw corrupt('main header: second SIZ');
        siz = parseSiz(seg);
        break;
      case M.COD:
        if (cod) throw corrupt('main header: second COD');
        cod = parseCod(seg);
        break;
      case M.COC: {
        const { c, style } = parseCoc(seg, siz!.Csiz);
        if (cocs.has(c)) throw corrupt(`main header: second COC for component ${c}`);
        cocs.set(c, style);
        break;
      }
      case M.QCD:
        checkQcd(seg);
        qcd = true;
        break;
      case M.QCC:
        checkQcc(seg, siz!.Csiz);
        break;
      case M.RGN:
        checkRgn(seg, siz!.Csiz);
        break;
      case M.POC:
        pocs.push(...parsePoc(seg, siz!.Csiz));
        break;
      case M.PLT:
        throw corrupt('main header: PLT is only allowed in tile-part headers');
      default:
        // TLM, PLM, CRG, COM, CAP, CPF and unknown segments: located, not interpreted (15444-1 A.9).
        break;
    }
    segments.push({ code: m.code, offset: m.offset, length: m.length });
    pos += m.length;
  }
  if (!siz) throw corrupt('main header has no SIZ');
  if (!cod) throw corrupt('main header has no COD');
  if (!qcd) throw corrupt('main header has no QCD');
  return { siz, cod: cod.cod, components: applyStyles(siz.Csiz, cod.style, cocs), pocs, segments, sotOffset: pos };
}

/** Per-tile accumulation of COD/COC overrides while walking tile-parts. */
interface TileState {
  parts: number;
  cod?: { cod: CodingStyleDefault; style: ComponentCodingStyle };
  cocs?: Map<number, ComponentCodingStyle>;
  pocs?: Poc[];
}

/** Orders a tile-part's PLT lists by Zplt when they are distinct but out of file order (15444-1 A.7.3). */
function orderPlt(plt: PltRange[]): PltRange[] {
  let increasing = true;
  for (let i = 1; i < plt.length; i++) if (plt[i].Zplt <= plt[i - 1].Zplt) increasing = false;
  if (increasing) return plt;
  const distinct = new Set(plt.map((p) => p.Zplt)).size === plt.length;
  return distinct ? [...plt].sort((a, b) => a.Zplt - b.Zplt) : plt;
}

/**
 * Scans the codestream in [offset, end): main header, then every tile-part up to EOC (or `end`).
 * `headersOnly`: the tile-parts carry no packet data (a client rebuilding headers), so the declared
 * packets are not checked against it.
 * Throws ERR_IMAGE_CORRUPT on any bad marker or length, ERR_IMAGE_UNSUPPORTED for Part 2 decompositions, ERR_IMAGE_LIMIT beyond MAX_TILE_PARTS. 15444-1 A.3, A.4.
 */
export function scanCodestream(src: ByteSource, offset: number, end: number, opts: { headersOnly?: boolean } = {}): CodestreamLayout {
  checkRange(src.size, offset, end - offset, 'codestream');
  const main = scanMainHeader(src, offset, end);
  const { siz } = main;
  const numTiles = numTilesX(siz) * numTilesY(siz);
  const states: TileState[] = [];
  for (let t = 0; t < numTiles; t++) states.push({ parts: 0 });
  const tileParts: TilePart[] = [];
  let pos = main.sotOffset;
  let csEnd = end;
  while (pos < end) {
    if (pos + 2 <= end && be.u16(src.read(pos, 2), 0) === M.EOC) {
      csEnd = pos + 2;
      break;
    }
    if (tileParts.length >= MAX_TILE_PARTS) throw overLimit(`more than ${MAX_TILE_PARTS} tile-parts`);
    const tp = scanTilePart(src, pos, end, main, numTiles, states);
    tileParts.push(tp.part);
    pos = tp.next;
  }
  const tiles: TileOverrides[] = states.map((s, t) => {
    if (s.parts === 0) throw corrupt(`tile ${t} has no tile-part`);
    return tileOverrides(s, main);
  });
  const layout: CodestreamLayout = {
    offset,
    end: csEnd,
    mainHeader: { offset, length: main.sotOffset - offset },
    mainSegments: main.segments,
    siz,
    cod: main.cod,
    components: main.components,
    pocs: main.pocs,
    tileParts,
    tiles,
  };
  if (!opts.headersOnly) checkDeclaredWork(layout);
  return layout;
}

/**
 * Refuses headers that declare more packets than the file could hold (15444-1 B.9: every packet,
 * even an empty one, takes at least one byte: of tile-part data, or of PPM/PPT segments when its
 * header is packed), before any table is sized from
 * them: 65,535 layers or 2×2 precincts on a large image would otherwise cost seconds of CPU and
 * hundreds of MB per request. Bounded: one geometry per tile, stopping at the first excess.
 */
function checkDeclaredWork(layout: CodestreamLayout): void {
  let data = packedHeaderBytes(layout);
  for (const tp of layout.tileParts) data += tp.dataEnd - tp.dataOffset;
  let packets = 0;
  for (let t = 0; t < layout.tiles.length; t++) {
    const g = tileGeometry(layout, t);
    let precincts = 0;
    for (const tc of g.components) precincts += tc.precinctCount;
    packets += precincts * g.layers;
    if (packets > data) {
      throw corrupt(`the coding parameters declare more packets (${packets} by tile ${t}) than the ${data} bytes of packet data can hold`);
    }
  }
}

/** Final overrides of one tile (15444-1 A.6.1 precedence: tile COC > tile COD > main COC > main COD). */
function tileOverrides(s: TileState, main: MainHeader): TileOverrides {
  const out: TileOverrides = {};
  if (s.cod) out.cod = s.cod.cod;
  if (s.cod || s.cocs) {
    const comps: ComponentCodingStyle[] = [];
    for (let c = 0; c < main.siz.Csiz; c++) {
      comps.push(s.cocs?.get(c) ?? s.cod?.style ?? main.components[c]);
    }
    out.components = comps;
  }
  if (s.pocs) out.pocs = s.pocs;
  return out;
}

/** Scans one tile-part starting at its SOT (15444-1 A.4.2); returns it and the offset after it. */
function scanTilePart(
  src: ByteSource,
  pos: number,
  end: number,
  main: MainHeader,
  numTiles: number,
  states: TileState[],
): { part: TilePart; next: number } {
  const sotM = readMarker(src, pos, end, 'tile-part');
  if (sotM.code !== M.SOT) throw corrupt(`expected SOT at offset ${pos}, found ${M.markerName(sotM.code)}`);
  const sot = parseSot(sotM.seg!, numTiles);
  const state = states[sot.Isot];
  if (sot.TPsot !== state.parts) throw corrupt(`tile ${sot.Isot}: tile-part ${sot.TPsot} where ${state.parts} was expected`);
  let partEnd: number;
  if (sot.Psot === 0) {
    // 15444-1 A.4.2: Psot = 0 only for the last tile-part, which runs to EOC.
    partEnd = end >= pos + 2 && be.u16(src.read(end - 2, 2), 0) === M.EOC ? end - 2 : end;
  } else {
    checkRange(end, pos, sot.Psot, `tile-part of tile ${sot.Isot} (Psot)`);
    partEnd = pos + sot.Psot;
  }
  const segments: MarkerSegment[] = [];
  const plt: PltRange[] = [];
  const first = sot.TPsot === 0;
  let p = pos + sotM.length;
  let dataOffset = -1;
  while (dataOffset < 0) {
    if (segments.length > MAX_HEADER_SEGMENTS) throw overLimit(`too many marker segments in a tile-part header of tile ${sot.Isot}`);
    const m = readMarker(src, p, partEnd, `tile-part header of tile ${sot.Isot}`);
    if (m.code === M.SOD) {
      dataOffset = p + 2;
      break;
    }
    refuseUnserved(m.code);
    if (m.seg === null) {
      if (!M.isReservedBare(m.code)) throw corrupt(`tile-part header of tile ${sot.Isot}: unexpected ${M.markerName(m.code)}`);
    } else {
      tilePartSegment(m.code, m.seg, m.offset, sot.Isot, first, main, state, plt);
    }
    segments.push({ code: m.code, offset: m.offset, length: m.length });
    p += m.length;
  }
  state.parts++;
  return {
    part: {
      Isot: sot.Isot,
      TPsot: sot.TPsot,
      TNsot: sot.TNsot,
      sotOffset: pos,
      dataOffset,
      dataEnd: partEnd,
      segments,
      plt: orderPlt(plt),
    },
    next: partEnd,
  };
}

/** Interprets one tile-part header segment (15444-1 A.4.2, Table A.3). */
function tilePartSegment(
  code: number,
  seg: Uint8Array,
  offset: number,
  t: number,
  first: boolean,
  main: MainHeader,
  state: TileState,
  plt: PltRange[],
): void {
  const Csiz = main.siz.Csiz;
  switch (code) {
    case M.PLT: {
      const h = parsePltHeader(seg);
      plt.push({ Zplt: h.Zplt, offset: offset + 2 + h.ipltStart, length: h.ipltLength });
      return;
    }
    case M.COD: {
      if (!first) throw corrupt(`tile ${t}: COD outside the first tile-part`);
      if (state.cod) throw corrupt(`tile ${t}: second COD`);
      state.cod = parseCod(seg);
      return;
    }
    case M.COC: {
      if (!first) throw corrupt(`tile ${t}: COC outside the first tile-part`);
      const { c, style } = parseCoc(seg, Csiz);
      state.cocs ??= new Map();
      if (state.cocs.has(c)) throw corrupt(`tile ${t}: second COC for component ${c}`);
      state.cocs.set(c, style);
      return;
    }
    case M.POC:
      (state.pocs ??= []).push(...parsePoc(seg, Csiz));
      return;
    case M.QCD:
    case M.QCC:
    case M.RGN:
      if (!first) throw corrupt(`tile ${t}: ${M.markerName(code)} outside the first tile-part`);
      if (code === M.QCD) checkQcd(seg);
      else if (code === M.QCC) checkQcc(seg, Csiz);
      else checkRgn(seg, Csiz);
      return;
    case M.SIZ:
    case M.TLM:
    case M.PLM:
    case M.CRG:
    case M.CAP:
      throw corrupt(`tile ${t}: ${M.markerName(code)} is only allowed in the main header`);
    default:
      // COM and unknown segments: located, not interpreted.
      return;
  }
}
