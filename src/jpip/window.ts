/**
 * View-window geometry (15444-9 C.4): from fsiz/roff/rsiz to a resolution, a region, and the precincts
 * of every tile-component that a decoder needs to reconstruct that region exactly (notes §6).
 * Pure arithmetic on j2k geometry; no I/O, no HTTP.
 */
import type { Round } from './request.js';
import type { Siz, TileGeometry } from '../j2k/types.js';
import { frameSize, numTilesX, numTilesY, pow2 } from '../j2k/geometry.js';

/** The frame chosen for a request: discard levels and its size (notes §6.1). */
export interface Frame {
  /** Discard levels d = NL - r. */
  d: number;
  fx: number;
  fy: number;
}

/** Size of the frame after discarding d levels (15444-1 B.5 applied to the image area). */
export function frameAt(siz: Siz, d: number): Frame {
  const { width, height } = frameSize(siz, d);
  return { d, fx: width, fy: height };
}

/**
 * Chooses the frame for a requested fsiz (15444-9 C.4.2): round-down = largest frame that fits (else
 * the smallest), round-up = smallest frame that covers (else the largest), closest = nearest area
 * (ties to the larger frame). `maxD` is the smallest NL over all tile-components.
 */
export function chooseFrame(siz: Siz, maxD: number, fx: number, fy: number, round: Round): Frame {
  const frames: Frame[] = [];
  for (let d = 0; d <= maxD; d++) frames.push(frameAt(siz, d));
  if (round === 'round-down') {
    for (const f of frames) if (f.fx <= fx && f.fy <= fy) return f;
    return frames[frames.length - 1];
  }
  if (round === 'round-up') {
    for (let i = frames.length - 1; i >= 0; i--) if (frames[i].fx >= fx && frames[i].fy >= fy) return frames[i];
    return frames[0];
  }
  const want = fx * fy;
  let best = frames[0];
  let bestDiff = Math.abs(best.fx * best.fy - want);
  for (const f of frames) {
    const diff = Math.abs(f.fx * f.fy - want);
    if (diff < bestDiff) {
      best = f;
      bestDiff = diff;
    }
  }
  return best;
}

/** A half-open rectangle. */
export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Maps the requested region at the requested frame size onto the chosen frame (notes §6.2): corners
 * scaled with floor (start) and ceil (end), then clipped to the frame. Returns the region in frame
 * coordinates (0-based), possibly empty.
 */
export function mapRegion(
  frame: Frame,
  requested: { fx: number; fy: number },
  roff: { x: number; y: number } | undefined,
  rsiz: { x: number; y: number } | undefined,
): Rect {
  const ox = roff?.x ?? 0;
  const oy = roff?.y ?? 0;
  const sx = rsiz?.x ?? Math.max(0, requested.fx - ox);
  const sy = rsiz?.y ?? Math.max(0, requested.fy - oy);
  let x0 = ox;
  let y0 = oy;
  let x1 = ox + sx;
  let y1 = oy + sy;
  if (frame.fx !== requested.fx) {
    x0 = Math.floor((x0 * frame.fx) / requested.fx);
    x1 = Math.ceil((x1 * frame.fx) / requested.fx);
  }
  if (frame.fy !== requested.fy) {
    y0 = Math.floor((y0 * frame.fy) / requested.fy);
    y1 = Math.ceil((y1 * frame.fy) / requested.fy);
  }
  return {
    x0: Math.min(x0, frame.fx),
    y0: Math.min(y0, frame.fy),
    x1: Math.min(x1, frame.fx),
    y1: Math.min(y1, frame.fy),
  };
}

/** True when the rectangle holds no pixel. */
export const isEmpty = (r: Rect): boolean => r.x1 <= r.x0 || r.y1 <= r.y0;

/** Converts a region of the d-reduced frame to the reference grid (notes §6.2), clipped to the image area. */
export function frameRegionToCanvas(siz: Siz, d: number, r: Rect): Rect {
  const s = pow2(d);
  const ox = Math.ceil(siz.XOsiz / s);
  const oy = Math.ceil(siz.YOsiz / s);
  return {
    x0: Math.max(siz.XOsiz, (r.x0 + ox) * s),
    y0: Math.max(siz.YOsiz, (r.y0 + oy) * s),
    x1: Math.min(siz.Xsiz, (r.x1 + ox) * s),
    y1: Math.min(siz.Ysiz, (r.y1 + oy) * s),
  };
}

/** Precinct columns/rows [px0, px1) × [py0, py1) of one resolution of one tile-component (relative indices). */
export interface PrecinctSpan {
  /** Tile index. */
  t: number;
  c: number;
  r: number;
  px0: number;
  px1: number;
  py0: number;
  py1: number;
}

/**
 * Wavelet synthesis support, in subband samples on each side, added at every level so that the
 * window's samples are reconstructed from exactly the coefficients the full image would use
 * (notes §6.3 step 4). 5-3: x[2k+1] needs H[k-1..k+1] and L[k..k+1]; 9-7: four lifting steps.
 * Both values are one sample more than the filter needs, as a safety margin.
 */
export function synthesisMargin(transform: number): number {
  return transform === 1 ? 2 : 4;
}

/**
 * The precincts of one tile needed for a canvas region at `d` discarded levels, for the given
 * components: at the top resolution NLc-d the region itself; going down, each level's region is
 * the subband range the level above needs, widened by the synthesis margin (notes §6.3). `margin`
 * overrides that margin (0: the precincts the window's own samples fall in, without the support the
 * synthesis filters need at its edges).
 */
export function tilePrecinctSpans(tile: TileGeometry, canvas: Rect, d: number, comps: readonly number[], margin?: number): PrecinctSpan[] {
  const out: PrecinctSpan[] = [];
  const X0 = Math.max(canvas.x0, tile.x0);
  const Y0 = Math.max(canvas.y0, tile.y0);
  const X1 = Math.min(canvas.x1, tile.x1);
  const Y1 = Math.min(canvas.y1, tile.y1);
  if (X1 <= X0 || Y1 <= Y0) return out;
  for (const c of comps) {
    const tc = tile.components[c];
    if (!tc) continue;
    const NL = tc.style.NL;
    const top = Math.max(0, NL - d);
    const m = margin ?? synthesisMargin(tc.style.transform);
    // Region on the component grid (15444-1 B.2), then at the top resolution: floor start, ceil end.
    const cx0 = Math.floor(X0 / tc.XRsiz);
    const cy0 = Math.floor(Y0 / tc.YRsiz);
    const cx1 = Math.ceil(X1 / tc.XRsiz);
    const cy1 = Math.ceil(Y1 / tc.YRsiz);
    const scale = pow2(NL - top);
    let a0 = Math.floor(cx0 / scale);
    let b0 = Math.floor(cy0 / scale);
    let a1 = Math.ceil(cx1 / scale);
    let b1 = Math.ceil(cy1 / scale);
    for (let r = top; r >= 0; r--) {
      const res = tc.resolutions[r];
      a0 = Math.max(a0, res.x0);
      b0 = Math.max(b0, res.y0);
      a1 = Math.min(a1, res.x1);
      b1 = Math.min(b1, res.y1);
      if (a1 <= a0 || b1 <= b0 || res.npx === 0 || res.npy === 0) break;
      let sx0: number, sy0: number, sx1: number, sy1: number, pw: number, ph: number;
      if (r > 0) {
        // Subband samples this level must supply (15444-1 F.3.1 interleaving: sample 2k ↔ L[k], 2k+1 ↔ H[k]).
        sx0 = Math.floor(a0 / 2) - m;
        sy0 = Math.floor(b0 / 2) - m;
        sx1 = Math.ceil(a1 / 2) + m;
        sy1 = Math.ceil(b1 / 2) + m;
        // A precinct of 2^PPx resolution samples covers 2^(PPx-1) subband samples (15444-1 B.6).
        pw = pow2(res.PPx - 1);
        ph = pow2(res.PPy - 1);
      } else {
        sx0 = a0;
        sy0 = b0;
        sx1 = a1;
        sy1 = b1;
        pw = pow2(res.PPx);
        ph = pow2(res.PPy);
      }
      // Precinct grid anchored at 0; the tile-component's first precinct is column floor(trx0/2^PPx).
      const firstCol = Math.floor(res.x0 / pow2(res.PPx));
      const firstRow = Math.floor(res.y0 / pow2(res.PPy));
      const px0 = Math.max(0, Math.floor(Math.max(sx0, 0) / pw) - firstCol);
      const py0 = Math.max(0, Math.floor(Math.max(sy0, 0) / ph) - firstRow);
      const px1 = Math.min(res.npx, Math.floor((Math.max(sx1, 1) - 1) / pw) + 1 - firstCol);
      const py1 = Math.min(res.npy, Math.floor((Math.max(sy1, 1) - 1) / ph) + 1 - firstRow);
      if (px1 > px0 && py1 > py0) out.push({ t: tile.t, c, r, px0, px1, py0, py1 });
      if (r > 0) {
        // The lower resolution (LL of this level) must supply the same subband range.
        a0 = sx0;
        b0 = sy0;
        a1 = sx1;
        b1 = sy1;
      }
    }
  }
  return out;
}

/** Indices of the tiles that intersect a canvas region (15444-1 B.3), in raster order. */
export function tilesInRegion(siz: Siz, canvas: Rect): number[] {
  if (isEmpty(canvas)) return [];
  const ntx = numTilesX(siz);
  const nty = numTilesY(siz);
  const tx0 = Math.max(0, Math.floor((canvas.x0 - siz.XTOsiz) / siz.XTsiz));
  const ty0 = Math.max(0, Math.floor((canvas.y0 - siz.YTOsiz) / siz.YTsiz));
  const tx1 = Math.min(ntx, Math.ceil((canvas.x1 - siz.XTOsiz) / siz.XTsiz));
  const ty1 = Math.min(nty, Math.ceil((canvas.y1 - siz.YTOsiz) / siz.YTsiz));
  const out: number[] = [];
  for (let ty = ty0; ty < ty1; ty++) for (let tx = tx0; tx < tx1; tx++) out.push(ty * ntx + tx);
  return out;
}
