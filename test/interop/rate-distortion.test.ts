/**
 * Rate-distortion of the engine's delivery order (issue: "a better order for exact windows"): the ESA
 * paper's zoom sequence on the 4096² sample, one channel, the window's PSNR after each byte budget.
 * jpipd sends every layer of the precincts the window's samples fall in before the synthesis margin
 * that makes its edges exact, so at every budget it must be at least as good as esajpip, which never
 * sends the margin (and so never becomes exact). ESA_PSNR is what esajpip 1.8.2 gave on this very image
 * with native-free-bench/rd.ts (docs/benchmarks.md, "Rate-distortion"); before this order jpipd lost
 * up to 11.5 dB to it on the third window (41.35 against 52.82 dB at 32 KB).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jp2cBoxes } from '../helpers/boxes.js';
import { decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { PAPER_WINDOWS, rateDistortion } from '../helpers/rd.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const FILE = 'gray4096-rpcl-p128-l8.jp2';
const BUDGETS_KB = [4, 8, 16, 24, 32, 48];
/** esajpip's PSNR (dB) per window (rows) and budget (columns), measured side by side. */
const ESA_PSNR = [
  [29.98, 34.13, 39.66, 40.77, 41.51, 43.37],
  [38.21, 38.84, 39.69, 40.56, 42.44, 51.32],
  [35.59, 36.58, 37.44, 40.42, 52.82, 67.33],
];

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

describe("rate-distortion on the paper's zoom sequence", () => {
  it('the window is at least as good as esajpip at every byte budget, and exact once complete', { timeout: 240_000 }, async () => {
    const codestream = jp2cBoxes(new Uint8Array(fs.readFileSync(path.join(FIXTURES, FILE))))[0].payload;
    const originals = new Map<number, DecodedImage>();
    const original = async (d: number): Promise<DecodedImage> => {
      let img = originals.get(d);
      if (!img) originals.set(d, (img = await decodeJ2k(codestream, d)));
      return img;
    };
    const curves = await rateDistortion(srv.base, FILE, 4096, PAPER_WINDOWS, [...BUDGETS_KB.map((k) => k * 1024), 1 << 20], original);
    curves.forEach((c, w) => {
      BUDGETS_KB.forEach((kb, b) => {
        const got = c.points[b].psnr;
        assert.ok(got >= ESA_PSNR[w][b] - 0.005, `window ${w + 1} at ${kb} KB: ${got.toFixed(2)} dB < esajpip's ${ESA_PSNR[w][b]} dB`);
      });
      // Quality rises with the bytes, and the finished window is bit-exact.
      for (let b = 1; b < c.points.length; b++) assert.ok(c.points[b].psnr >= c.points[b - 1].psnr, `window ${w + 1}: PSNR falls`);
      assert.equal(c.points[c.points.length - 1].psnr, Infinity, `window ${w + 1} complete and exact`);
    });
  });
});
