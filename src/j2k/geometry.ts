/**
 * Canvas geometry of tiles, tile-components, resolutions and precincts (15444-1 B.2-B.6), frame
 * sizes (notes §6.1) and precinct data-bin identifiers (15444-9 A.3.2.1, notes §5). Pure arithmetic.
 * Coordinates reach 2^32 and scale factors 2^33+, so only Math.floor/ceil and division are used here.
 */
import { corrupt, overLimit } from '../errors.js';
import { numTilesX, numTilesY } from './segments.js';
import type {
  CodestreamLayout,
  ComponentCodingStyle,
  ResolutionGeometry,
  Siz,
  TileComponentGeometry,
  TileGeometry,
} from './types.js';

/** Tile grid columns and rows (15444-1 B.3), re-exported from segments.ts. */
export { numTilesX, numTilesY };

/** Most precincts accepted in one tile (all components and resolutions). */
export const MAX_PRECINCTS_PER_TILE = 1 << 24;

/** Number of tiles in the tile grid (15444-1 B.3). */
export function tileCount(siz: Siz): number {
  return numTilesX(siz) * numTilesY(siz);
}

/** 2^k for k = 0..63 (a table: with a variable exponent `2 ** k` is a call to pow, ~25 ns). */
const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);
/** 2^k, from the table when k is in it. */
export const pow2 = (k: number): number => (k >= 0 && k < 64 ? POW2[k] : 2 ** k);
/** ceil(a / 2^k) for non-negative a and any k >= 0, exact for a < 2^53. */
const ceilPow2 = (a: number, k: number): number => Math.ceil(a / pow2(k));
/** floor(a / 2^k) for non-negative a and any k >= 0. */
const floorPow2 = (a: number, k: number): number => Math.floor(a / pow2(k));

/** Coding style of component c in tile t (15444-1 A.6.1: tile COC > tile COD > main COC > main COD). */
export function componentStyle(layout: CodestreamLayout, t: number, c: number): ComponentCodingStyle {
  return layout.tiles[t]?.components?.[c] ?? layout.components[c];
}

/** Tile bounds on the reference grid (15444-1 B.3, equations B-7 to B-10). */
export function tileBounds(siz: Siz, t: number): { x0: number; y0: number; x1: number; y1: number } {
  const nx = numTilesX(siz);
  const p = t % nx;
  const q = Math.floor(t / nx);
  return {
    x0: Math.max(siz.XTOsiz + p * siz.XTsiz, siz.XOsiz),
    y0: Math.max(siz.YTOsiz + q * siz.YTsiz, siz.YOsiz),
    x1: Math.min(siz.XTOsiz + (p + 1) * siz.XTsiz, siz.Xsiz),
    y1: Math.min(siz.YTOsiz + (q + 1) * siz.YTsiz, siz.Ysiz),
  };
}

/**
 * Resolution levels of one tile-component with precinct counts and sequence bases
 * (15444-1 B.5 equation B-14, B.6 equation B-16; notes §5). Empty resolutions have 0 precincts.
 */
export function resolutionGeometry(tcx0: number, tcy0: number, tcx1: number, tcy1: number, style: ComponentCodingStyle): ResolutionGeometry[] {
  const out: ResolutionGeometry[] = [];
  let base = 0;
  for (let r = 0; r <= style.NL; r++) {
    const n = style.NL - r;
    const x0 = ceilPow2(tcx0, n);
    const y0 = ceilPow2(tcy0, n);
    const x1 = ceilPow2(tcx1, n);
    const y1 = ceilPow2(tcy1, n);
    const { PPx, PPy } = style.precincts[r];
    const empty = x1 <= x0 || y1 <= y0;
    const npx = empty ? 0 : ceilPow2(x1, PPx) - floorPow2(x0, PPx);
    const npy = empty ? 0 : ceilPow2(y1, PPy) - floorPow2(y0, PPy);
    out.push({ r, x0, y0, x1, y1, PPx, PPy, npx, npy, precinctBase: base });
    base += npx * npy;
  }
  return out;
}

/** Geometry and coding parameters of tile t, after COD/COC/POC precedence (15444-1 B.3-B.6, A.6). */
export function tileGeometry(layout: CodestreamLayout, t: number): TileGeometry {
  const { siz } = layout;
  const Nt = tileCount(siz);
  if (!Number.isInteger(t) || t < 0 || t >= Nt) throw corrupt(`tile ${t} outside 0..${Nt - 1}`);
  const b = tileBounds(siz, t);
  const over = layout.tiles[t] ?? {};
  const cod = over.cod ?? layout.cod;
  const components: TileComponentGeometry[] = [];
  let total = 0;
  for (let c = 0; c < siz.Csiz; c++) {
    const { XRsiz, YRsiz } = siz.components[c];
    const style = componentStyle(layout, t, c);
    const x0 = Math.ceil(b.x0 / XRsiz);
    const y0 = Math.ceil(b.y0 / YRsiz);
    const x1 = Math.ceil(b.x1 / XRsiz);
    const y1 = Math.ceil(b.y1 / YRsiz);
    const resolutions = resolutionGeometry(x0, y0, x1, y1, style);
    const last = resolutions[resolutions.length - 1];
    const precinctCount = last.precinctBase + last.npx * last.npy;
    total += precinctCount;
    if (total > MAX_PRECINCTS_PER_TILE) throw overLimit(`tile ${t} has more than ${MAX_PRECINCTS_PER_TILE} precincts`);
    components.push({ c, x0, y0, x1, y1, XRsiz, YRsiz, style, resolutions, precinctCount });
  }
  return {
    t,
    ...b,
    layers: cod.layers,
    progression: cod.progression,
    pocs: over.pocs ?? layout.pocs,
    components,
  };
}

/** Size of the image area after discarding d resolution levels (notes §6.1; 15444-1 B.5 on the image area). */
export function frameSize(siz: Siz, d: number): { width: number; height: number } {
  return {
    width: ceilPow2(siz.Xsiz, d) - ceilPow2(siz.XOsiz, d),
    height: ceilPow2(siz.Ysiz, d) - ceilPow2(siz.YOsiz, d),
  };
}

/** Precinct data-bin identifier I = t + (c + s * Nc) * Nt (15444-9 A.3.2.1, notes §5). */
export function precinctBinId(t: number, c: number, s: number, Nc: number, Nt: number): number {
  return t + (c + s * Nc) * Nt;
}

/** Inverse of precinctBinId: t = I mod Nt, c = (I div Nt) mod Nc, s = (I div Nt) div Nc (notes §5). */
export function splitPrecinctBinId(id: number, Nc: number, Nt: number): { t: number; c: number; s: number } {
  const q = Math.floor(id / Nt);
  return { t: id - q * Nt, c: q % Nc, s: Math.floor(q / Nc) };
}
