/**
 * Rate-distortion of a window sequence on one JPIP channel: for each window, the PSNR of the window's
 * pixels (decoded from what the client received, against the decode of the original file) after each
 * byte budget, then the window is completed before the next one. Works against any JPIP server that
 * speaks jpp-stream over HTTP (jpipd, esajpip): used by the engine's rate-distortion test and by
 * native-free-bench/rd.ts, which compares servers side by side.
 */
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { JpipSession } from '../../src/client/session.js';
import { cropPixels, decodeJ2k, type DecodedImage } from './openjpeg.js';

/** A window in frame coordinates at `d` discarded levels. */
export interface RdWindow {
  x: number;
  y: number;
  w: number;
  h: number;
  d: number;
}

/** The paper's zoom sequence on a 4096² image (ESA JPIP paper, §5). */
export const PAPER_WINDOWS: RdWindow[] = [
  { x: 0, y: 0, w: 512, h: 512, d: 3 },
  { x: 512, y: 512, w: 512, h: 512, d: 2 },
  { x: 1024, y: 1024, w: 512, h: 512, d: 1 },
];

/** PSNR (dB) of `got` against `want`, samples of `bits` bits; Infinity when identical. */
export function psnr(got: DecodedImage, want: DecodedImage, bits = 8): number {
  if (got.pixels.length !== want.pixels.length) throw new Error(`sizes differ: ${got.pixels.length} vs ${want.pixels.length}`);
  let se = 0;
  for (let i = 0; i < want.pixels.length; i++) {
    const e = got.pixels[i] - want.pixels[i];
    se += e * e;
  }
  if (se === 0) return Infinity;
  const peak = 2 ** bits - 1;
  return 10 * Math.log10((peak * peak * want.pixels.length) / se);
}

/** One window's curve: PSNR after each budget (bytes of JPP received for this window). */
export interface RdCurve {
  window: RdWindow;
  points: Array<{ budget: number; bytes: number; psnr: number }>;
  /** Bytes the window took to complete. */
  total: number;
}

/**
 * Runs the window sequence on one channel of `base`/`target` (codestream 0 of a `width`² image):
 * per window, requests with `len` so that the bytes received reach each budget, decodes and measures;
 * then completes the window. `original(d)` decodes the original file at `d` discarded levels.
 */
export async function rateDistortion(
  base: string,
  target: string,
  width: number,
  windows: RdWindow[],
  budgets: number[],
  original: (d: number) => Promise<DecodedImage>,
  fetchImpl?: typeof fetch,
): Promise<RdCurve[]> {
  const session = new JpipSession(base, target, fetchImpl);
  // esajpip needs `stream=` and `len` on every request (docs/benchmarks.md, esajpip quirks).
  await session.open({ stream: 0, len: 2000 });
  const curves: RdCurve[] = [];
  try {
    for (const win of windows) {
      const f = Math.ceil(width / 2 ** win.d);
      const fields = { stream: 0, fsiz: `${f},${f}`, roff: `${win.x},${win.y}`, rsiz: `${win.w},${win.h}` };
      const want = cropPixels(await original(win.d), win.x, win.y, win.w, win.h);
      let got = 0;
      let done = false;
      const points: RdCurve['points'] = [];
      for (const budget of budgets) {
        while (!done && got < budget) {
          const r = await session.send({ ...fields, len: budget - got });
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          // A server may send nothing when `len` is too small for one message (esajpip): budget reached.
          if (r.body.length === 0) break;
          got += r.body.length;
          done = r.eor === 1 || r.eor === 2;
        }
        const img = await decodeJ2k(reassembleCodestream(session.cache, 0), win.d);
        points.push({ budget, bytes: got, psnr: psnr(cropPixels(img, win.x, win.y, win.w, win.h), want) });
      }
      for (let i = 0; !done && i < 10_000; i++) {
        const r = await session.send({ ...fields, len: 1 << 20 });
        if (r.status !== 200 || r.body.length === 0) throw new Error(`status ${r.status}, ${r.body.length} bytes: the window cannot be completed`);
        got += r.body.length;
        done = r.eor === 1 || r.eor === 2;
      }
      curves.push({ window: win, points, total: got });
    }
  } finally {
    await session.close();
  }
  return curves;
}
