/**
 * Parsers for single marker segments (15444-1 A.5-A.9). Each takes the segment bytes starting at its
 * Lxxx field (so `seg.length === Lxxx`) and bounds every field before use; none does I/O.
 */
import { be } from '../bytes/source.js';
import { corrupt, overLimit, unsupported } from '../errors.js';
import type { CodingStyleDefault, ComponentCodingStyle, Poc, PrecinctSize, Progression, Siz, SizComponent } from './types.js';

/** Largest Csiz allowed by 15444-1 A.5.1. */
export const MAX_COMPONENTS = 16384;
/** Largest number of tiles: Isot is 16 bits and 65535 is reserved (15444-1 A.4.2). */
export const MAX_TILES = 65535;
/** Largest decomposition level count NL (15444-1 A.6.1, Table A.13). */
export const MAX_NL = 32;

const TWO_32 = 0x100000000;

/** Throws ERR_IMAGE_CORRUPT unless the segment is exactly `want` bytes long. */
function expectLength(seg: Uint8Array, want: number, what: string): void {
  if (seg.length !== want) throw corrupt(`${what} segment length ${seg.length}, expected ${want}`);
}

/** Number of tile columns of the tile grid (15444-1 B.3, equation B-5). */
export function numTilesX(siz: Siz): number {
  return Math.ceil((siz.Xsiz - siz.XTOsiz) / siz.XTsiz);
}

/** Number of tile rows of the tile grid (15444-1 B.3, equation B-5). */
export function numTilesY(siz: Siz): number {
  return Math.ceil((siz.Ysiz - siz.YTOsiz) / siz.YTsiz);
}

/** Parses SIZ (15444-1 A.5.1) and checks the canvas, tiling and component fields. */
export function parseSiz(seg: Uint8Array): Siz {
  if (seg.length < 41) throw corrupt(`SIZ segment too short (${seg.length} bytes)`);
  const Csiz = be.u16(seg, 36);
  if (Csiz < 1 || Csiz > MAX_COMPONENTS) throw corrupt(`SIZ Csiz ${Csiz} outside 1..${MAX_COMPONENTS}`);
  expectLength(seg, 38 + 3 * Csiz, 'SIZ');
  const siz: Siz = {
    Rsiz: be.u16(seg, 2),
    Xsiz: be.u32(seg, 4),
    Ysiz: be.u32(seg, 8),
    XOsiz: be.u32(seg, 12),
    YOsiz: be.u32(seg, 16),
    XTsiz: be.u32(seg, 20),
    YTsiz: be.u32(seg, 24),
    XTOsiz: be.u32(seg, 28),
    YTOsiz: be.u32(seg, 32),
    Csiz,
    components: [],
  };
  if (siz.Xsiz <= siz.XOsiz || siz.Ysiz <= siz.YOsiz) throw corrupt('SIZ image area is empty (Xsiz <= XOsiz or Ysiz <= YOsiz)');
  if (siz.XTsiz === 0 || siz.YTsiz === 0) throw corrupt('SIZ tile size is zero');
  if (siz.XTOsiz > siz.XOsiz || siz.YTOsiz > siz.YOsiz) throw corrupt('SIZ tile offset beyond the image offset');
  if (siz.XTOsiz + siz.XTsiz <= siz.XOsiz || siz.YTOsiz + siz.YTsiz <= siz.YOsiz) {
    throw corrupt('SIZ first tile does not intersect the image area');
  }
  if (siz.XTOsiz + siz.XTsiz > 2 * TWO_32 || siz.YTOsiz + siz.YTsiz > 2 * TWO_32) throw corrupt('SIZ tile grid out of range');
  const tiles = numTilesX(siz) * numTilesY(siz);
  if (tiles > MAX_TILES) throw overLimit(`SIZ describes ${tiles} tiles (at most ${MAX_TILES} can be indexed)`);
  for (let c = 0; c < Csiz; c++) {
    const p = 38 + 3 * c;
    const Ssiz = seg[p];
    const comp: SizComponent = {
      precision: (Ssiz & 0x7f) + 1,
      signed: Ssiz >= 0x80,
      XRsiz: seg[p + 1],
      YRsiz: seg[p + 2],
    };
    if (comp.precision > 38) throw corrupt(`SIZ component ${c} precision ${comp.precision} > 38`);
    if (comp.XRsiz === 0 || comp.YRsiz === 0) throw corrupt(`SIZ component ${c} has a zero subsampling factor`);
    siz.components.push(comp);
  }
  return siz;
}

/**
 * Parses the SPcod/SPcoc bytes at `p` (15444-1 A.6.1 Table A.15, A.6.2 Table A.23) given the Scod/Scoc
 * precinct bit; returns the style and the number of bytes consumed.
 */
function parseSPco(seg: Uint8Array, p: number, userPrecincts: boolean, what: string): { style: ComponentCodingStyle; size: number } {
  if (p + 5 > seg.length) throw corrupt(`${what} segment too short`);
  const NL = seg[p];
  if (NL > MAX_NL) throw corrupt(`${what} NL ${NL} > ${MAX_NL}`);
  const xcb = seg[p + 1];
  const ycb = seg[p + 2];
  // 15444-1 A.6.1 Table A.18: each exponent offset 0..8 and xcb + ycb <= 8, i.e. (xcb+2) + (ycb+2) <= 12.
  if (xcb > 8 || ycb > 8 || xcb + ycb > 8) throw corrupt(`${what} code-block size 2^${xcb + 2} x 2^${ycb + 2} out of range`);
  const transform = seg[p + 4];
  if (transform > 1) throw unsupported(`${what} wavelet transform ${transform} (Part 2 kernels)`);
  const size = 5 + (userPrecincts ? NL + 1 : 0);
  if (p + size !== seg.length) throw corrupt(`${what} segment length ${seg.length} does not match NL ${NL}`);
  const precincts: PrecinctSize[] = [];
  for (let r = 0; r <= NL; r++) {
    if (userPrecincts) {
      const v = seg[p + 5 + r];
      precincts.push({ PPx: v & 0x0f, PPy: v >> 4 });
    } else {
      precincts.push({ PPx: 15, PPy: 15 });
    }
  }
  return { style: { userPrecincts, NL, xcb: xcb + 2, ycb: ycb + 2, cbStyle: seg[p + 3], transform, precincts }, size };
}

/** Parses COD (15444-1 A.6.1): the codestream-wide fields and the default component style. */
export function parseCod(seg: Uint8Array): { cod: CodingStyleDefault; style: ComponentCodingStyle } {
  if (seg.length < 12) throw corrupt(`COD segment too short (${seg.length} bytes)`);
  const Scod = seg[2];
  if (Scod > 7) throw unsupported(`COD Scod 0x${Scod.toString(16)} (Part 2 partition options)`);
  const progression = seg[3];
  if (progression > 4) throw corrupt(`COD progression order ${progression}`);
  const layers = be.u16(seg, 4);
  if (layers < 1) throw corrupt('COD has zero quality layers');
  const cod: CodingStyleDefault = {
    sop: (Scod & 2) !== 0,
    eph: (Scod & 4) !== 0,
    progression: progression as Progression,
    layers,
    mct: seg[6],
  };
  const { style } = parseSPco(seg, 7, (Scod & 1) !== 0, 'COD');
  return { cod, style };
}

/** Reads a component index (1 byte when Csiz < 257, else 2; 15444-1 A.6.2) and checks it against Csiz. */
function componentIndex(seg: Uint8Array, p: number, Csiz: number, what: string): number {
  const c = Csiz < 257 ? seg[p] : be.u16(seg, p);
  if (c >= Csiz) throw corrupt(`${what} component ${c} >= Csiz ${Csiz}`);
  return c;
}

/** Parses COC (15444-1 A.6.2): the component it applies to and that component's style. */
export function parseCoc(seg: Uint8Array, Csiz: number): { c: number; style: ComponentCodingStyle } {
  const w = Csiz < 257 ? 1 : 2;
  if (seg.length < 2 + w + 1 + 5) throw corrupt(`COC segment too short (${seg.length} bytes)`);
  const c = componentIndex(seg, 2, Csiz, 'COC');
  const Scoc = seg[2 + w];
  if (Scoc > 1) throw unsupported(`COC Scoc 0x${Scoc.toString(16)} (Part 2 partition options)`);
  const { style } = parseSPco(seg, 3 + w, Scoc === 1, 'COC');
  return { c, style };
}

/** Checks QCD (15444-1 A.6.4): present and long enough for its style; the values are not needed. */
export function checkQcd(seg: Uint8Array): void {
  if (seg.length < 4) throw corrupt(`QCD segment too short (${seg.length} bytes)`);
}

/** Checks QCC (15444-1 A.6.5) and returns its component index. */
export function checkQcc(seg: Uint8Array, Csiz: number): number {
  const w = Csiz < 257 ? 1 : 2;
  if (seg.length < 2 + w + 2) throw corrupt(`QCC segment too short (${seg.length} bytes)`);
  return componentIndex(seg, 2, Csiz, 'QCC');
}

/** Checks RGN (15444-1 A.6.3) and returns its component index; ROI shifts do not change packet layout. */
export function checkRgn(seg: Uint8Array, Csiz: number): number {
  const w = Csiz < 257 ? 1 : 2;
  if (seg.length !== 2 + w + 2) throw corrupt(`RGN segment length ${seg.length}`);
  return componentIndex(seg, 2, Csiz, 'RGN');
}

/**
 * Parses POC (15444-1 A.6.6): one or more progression volumes. CEpoc 0 means 256 (or 16384 with
 * 2-byte component fields); end values are clipped by the packet iterator, not here.
 */
export function parsePoc(seg: Uint8Array, Csiz: number): Poc[] {
  const w = Csiz < 257 ? 1 : 2;
  const entry = 5 + 2 * w;
  const n = (seg.length - 2) / entry;
  if (!Number.isInteger(n) || n < 1) throw corrupt(`POC segment length ${seg.length} is not 2 + k * ${entry}`);
  const pocs: Poc[] = [];
  for (let i = 0, p = 2; i < n; i++, p += entry) {
    const RSpoc = seg[p];
    const CSpoc = w === 1 ? seg[p + 1] : be.u16(seg, p + 1);
    const LYEpoc = be.u16(seg, p + 1 + w);
    const REpoc = seg[p + 3 + w];
    const CEraw = w === 1 ? seg[p + 4 + w] : be.u16(seg, p + 4 + w);
    const Ppoc = seg[p + 4 + 2 * w];
    if (Ppoc > 4) throw corrupt(`POC progression order ${Ppoc}`);
    if (RSpoc > MAX_NL || REpoc > MAX_NL + 1) throw corrupt(`POC resolution range ${RSpoc}..${REpoc} out of range`);
    const CEpoc = CEraw === 0 ? (w === 1 ? 256 : MAX_COMPONENTS) : CEraw;
    pocs.push({ RSpoc, CSpoc, LYEpoc, REpoc, CEpoc, Ppoc: Ppoc as Progression });
  }
  return pocs;
}

/** Parsed SOT (15444-1 A.4.2). */
export interface Sot {
  Isot: number;
  Psot: number;
  TPsot: number;
  TNsot: number;
}

/** Parses SOT (15444-1 A.4.2); `numTiles` bounds Isot. Psot is checked against the data by the caller. */
export function parseSot(seg: Uint8Array, numTiles: number): Sot {
  expectLength(seg, 10, 'SOT');
  const sot: Sot = { Isot: be.u16(seg, 2), Psot: be.u32(seg, 4), TPsot: seg[8], TNsot: seg[9] };
  if (sot.Isot >= numTiles) throw corrupt(`SOT Isot ${sot.Isot} >= number of tiles ${numTiles}`);
  if (sot.Psot !== 0 && sot.Psot < 14) throw corrupt(`SOT Psot ${sot.Psot} is smaller than SOT + SOD`);
  return sot;
}

/** Parses the fixed part of PLT (15444-1 A.7.3): Zplt and where Iplt lies inside the segment. */
export function parsePltHeader(seg: Uint8Array): { Zplt: number; ipltStart: number; ipltLength: number } {
  if (seg.length < 4) throw corrupt(`PLT segment too short (${seg.length} bytes)`);
  return { Zplt: seg[2], ipltStart: 3, ipltLength: seg.length - 3 };
}
