import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BufferSource } from '../../src/bytes/source.js';
import { JpipdError } from '../../src/errors.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import {
  componentStyle,
  frameSize,
  numTilesX,
  numTilesY,
  precinctBinId,
  splitPrecinctBinId,
  tileCount,
  tileGeometry,
} from '../../src/j2k/geometry.js';
import { Progression, type CodestreamLayout, type ComponentCodingStyle, type Siz } from '../../src/j2k/types.js';

const FIX = new URL('../fixtures/', import.meta.url);
const scanFixture = (name: string): CodestreamLayout =>
  scanTarget(new BufferSource(new Uint8Array(readFileSync(new URL(name, FIX))))).codestreams[0];

const style = (NL: number, PP: number | null): ComponentCodingStyle => ({
  userPrecincts: PP !== null,
  NL,
  xcb: 6,
  ycb: 6,
  cbStyle: 0,
  transform: 1,
  precincts: Array.from({ length: NL + 1 }, () => ({ PPx: PP ?? 15, PPy: PP ?? 15 })),
});

/** A synthetic layout (no file behind it) for geometry checks. */
function layout(siz: Partial<Siz> & { Xsiz: number; Ysiz: number }, Csiz: number, st: ComponentCodingStyle): CodestreamLayout {
  const full: Siz = {
    Rsiz: 0,
    XOsiz: 0,
    YOsiz: 0,
    XTsiz: siz.Xsiz,
    YTsiz: siz.Ysiz,
    XTOsiz: 0,
    YTOsiz: 0,
    Csiz,
    components: Array.from({ length: Csiz }, () => ({ precision: 8, signed: false, XRsiz: 1, YRsiz: 1 })),
    ...siz,
  };
  return {
    offset: 0,
    end: 0,
    mainHeader: { offset: 0, length: 0 },
    mainSegments: [],
    siz: full,
    cod: { sop: false, eph: false, progression: Progression.RPCL, layers: 1, mct: 0 },
    components: Array.from({ length: Csiz }, () => st),
    pocs: [],
    tileParts: [],
    tiles: Array.from({ length: numTilesX(full) * numTilesY(full) }, () => ({})),
  };
}

test('notes §5 worked example A: 4096^2, 3 components, NL 5, 128x128 precincts', () => {
  const g = tileGeometry(layout({ Xsiz: 4096, Ysiz: 4096 }, 3, style(5, 7)), 0);
  for (const tc of g.components) {
    assert.deepEqual(tc.resolutions.map((r) => r.x1 - r.x0), [128, 256, 512, 1024, 2048, 4096]);
    assert.deepEqual(tc.resolutions.map((r) => r.npx * r.npy), [1, 4, 16, 64, 256, 1024]);
    assert.deepEqual(tc.resolutions.map((r) => r.precinctBase), [0, 1, 5, 21, 85, 341]);
    assert.equal(tc.precinctCount, 1365);
  }
  const r3 = g.components[1].resolutions[3];
  const s = r3.precinctBase + 5 * r3.npx + 2;
  assert.equal(s, 63);
  assert.equal(precinctBinId(0, 1, s, 3, 1), 190);
});

test('notes §5 worked example B: the same image in 2 x 2 tiles of 2048', () => {
  const lay = layout({ Xsiz: 4096, Ysiz: 4096, XTsiz: 2048, YTsiz: 2048 }, 3, style(5, 7));
  assert.equal(tileCount(lay.siz), 4);
  const g = tileGeometry(lay, 3);
  assert.deepEqual([g.x0, g.y0, g.x1, g.y1], [2048, 2048, 4096, 4096]);
  const tc = g.components[1];
  assert.deepEqual(tc.resolutions.map((r) => r.x1 - r.x0), [64, 128, 256, 512, 1024, 2048]);
  assert.deepEqual(tc.resolutions.map((r) => r.npx * r.npy), [1, 1, 4, 16, 64, 256]);
  assert.deepEqual(tc.resolutions.map((r) => r.precinctBase), [0, 1, 2, 6, 22, 86]);
  const r3 = tc.resolutions[3];
  const s = r3.precinctBase + 1 * r3.npx + 2;
  assert.equal(s, 12);
  assert.equal(precinctBinId(3, 1, s, 3, 4), 151);
});

test('notes §6.5: the ESA-like fixture (NL 7, 128x128 precincts) precinct counts and bases', () => {
  const g = tileGeometry(scanFixture('gray4096-rpcl-p128-l8.jp2'), 0);
  const tc = g.components[0];
  assert.deepEqual(tc.resolutions.map((r) => r.npx * r.npy), [1, 1, 1, 4, 16, 64, 256, 1024]);
  assert.deepEqual(tc.resolutions.map((r) => r.precinctBase), [0, 1, 2, 3, 7, 23, 87, 343]);
  assert.equal(tc.precinctCount, 1367);
});

test('tiled fixture: border tile 4 worked by hand (empty low resolutions)', () => {
  const cs = scanFixture('gray1000-tiled-t256-off-pcrl.j2k');
  // tile 4 = column 4, row 0: x in [max(10 + 4*256, 37), min(10 + 5*256, 1037)) = [1034, 1037),
  // y in [max(5, 23), min(261, 723)) = [23, 261). Precincts 64 at r5, 32 at r4, 16 at r3 ...
  const g = tileGeometry(cs, 4);
  assert.deepEqual([g.x0, g.y0, g.x1, g.y1], [1034, 23, 1037, 261]);
  const res = g.components[0].resolutions;
  // r5: x [1034,1037) -> cols 16..16; y [23,261) -> rows 0..4.  r4: x [517,519), y [12,131) -> 1 x 5.
  // r3: x [259,260), y [6,66) -> 1 x 5.  r2: x ceil(1034/8) = ceil(1037/8) = 130 -> empty; r1, r0 empty too.
  assert.deepEqual(res.map((r) => [r.npx, r.npy]), [[0, 0], [0, 0], [0, 0], [1, 5], [1, 5], [1, 5]]);
  assert.deepEqual(res.map((r) => r.precinctBase), [0, 0, 0, 0, 5, 10]);
  assert.deepEqual([res[3].x0, res[3].x1, res[3].y0, res[3].y1], [259, 260, 6, 66]);
  assert.equal(g.components[0].precinctCount, 15);
  // tile 0: x in [37, 266), y in [23, 261)
  const g0 = tileGeometry(cs, 0);
  assert.deepEqual([g0.x0, g0.y0, g0.x1, g0.y1], [37, 23, 266, 261]);
  // last tile 14 = column 4, row 2: x [1034, 1037), y [517, 723)
  const g14 = tileGeometry(cs, 14);
  assert.deepEqual([g14.x0, g14.y0, g14.x1, g14.y1], [1034, 517, 1037, 723]);
});

test('subsampled components use ceil(tx / XRsiz) bounds', () => {
  const g = tileGeometry(scanFixture('yuv420-pcrl-p32.j2k'), 0);
  assert.deepEqual(g.components.map((tc) => [tc.x1 - tc.x0, tc.y1 - tc.y0]), [[256, 160], [128, 80], [128, 80]]);
  const lay = layout({ Xsiz: 9, Ysiz: 7, XOsiz: 1, YOsiz: 1 }, 2, style(1, null));
  lay.siz.components[1] = { precision: 8, signed: false, XRsiz: 2, YRsiz: 3 };
  const h = tileGeometry(lay, 0);
  // component 1: x [ceil(1/2), ceil(9/2)) = [1, 5); y [ceil(1/3), ceil(7/3)) = [1, 3)
  assert.deepEqual([h.components[1].x0, h.components[1].x1, h.components[1].y0, h.components[1].y1], [1, 5, 1, 3]);
  // r0 of component 1: [ceil(1/2), ceil(5/2)) x [ceil(1/2), ceil(3/2)) = [1, 3) x [1, 2)
  const r0 = h.components[1].resolutions[0];
  assert.deepEqual([r0.x0, r0.x1, r0.y0, r0.y1], [1, 3, 1, 2]);
});

test('frameSize follows notes §6.1, including image offsets', () => {
  const siz = layout({ Xsiz: 4096, Ysiz: 4096 }, 1, style(7, 7)).siz;
  assert.deepEqual([0, 1, 2, 7].map((d) => frameSize(siz, d).width), [4096, 2048, 1024, 32]);
  const off = scanFixture('gray1000-tiled-t256-off-pcrl.j2k').siz;
  // Xsiz 1037, XOsiz 37: d = 1 -> 519 - 19 = 500; d = 3 -> 130 - 5 = 125; Ysiz 723, YOsiz 23: d = 3 -> 91 - 3 = 88
  assert.deepEqual(frameSize(off, 0), { width: 1000, height: 700 });
  assert.deepEqual(frameSize(off, 1), { width: 500, height: 350 });
  assert.deepEqual(frameSize(off, 3), { width: 125, height: 88 });
  const odd = scanFixture('gray257-n6-defprec-l2.j2k').siz;
  assert.deepEqual(frameSize(odd, 5), { width: 9, height: 5 });
});

test('precinct bin ids invert, including ids above 2^32', () => {
  for (const [Nc, Nt] of [[1, 1], [3, 1], [3, 4], [16384, 65535], [2, 15]]) {
    for (const [t, c, s] of [[0, 0, 0], [Nt - 1, Nc - 1, 0], [Math.floor(Nt / 2), Nc - 1, 12345], [Nt - 1, 0, 9999999]]) {
      const id = precinctBinId(t, c, s, Nc, Nt);
      assert.deepEqual(splitPrecinctBinId(id, Nc, Nt), { t, c, s }, `Nc ${Nc} Nt ${Nt} id ${id}`);
    }
  }
  assert.ok(precinctBinId(65534, 16383, 9999999, 16384, 65535) > 2 ** 32);
});

test('componentStyle precedence: tile override first, then main header', () => {
  const lay = layout({ Xsiz: 64, Ysiz: 64, XTsiz: 32 }, 2, style(3, null));
  const tileStyle = style(1, 4);
  lay.tiles[1] = { components: [tileStyle, lay.components[1]] };
  assert.equal(componentStyle(lay, 0, 0), lay.components[0]);
  assert.equal(componentStyle(lay, 1, 0), tileStyle);
  assert.equal(componentStyle(lay, 1, 1), lay.components[1]);
  assert.equal(tileGeometry(lay, 1).components[0].resolutions.length, 2);
  assert.equal(tileGeometry(lay, 0).components[0].resolutions.length, 4);
});

test('tileGeometry rejects tile indices outside the grid', () => {
  const lay = layout({ Xsiz: 64, Ysiz: 64 }, 1, style(2, null));
  for (const t of [-1, 1, 0.5]) {
    assert.throws(() => tileGeometry(lay, t), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_CORRUPT');
  }
});
