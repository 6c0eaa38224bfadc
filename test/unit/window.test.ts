import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BufferSource } from '../../src/bytes/source.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { numTilesX, numTilesY, tileGeometry } from '../../src/j2k/geometry.js';
import { Progression, type CodestreamLayout, type Siz, type TileGeometry } from '../../src/j2k/types.js';
import {
  chooseFrame,
  frameAt,
  frameRegionToCanvas,
  isEmpty,
  mapRegion,
  synthesisMargin,
  tilePrecinctSpans,
  tilesInRegion,
  type PrecinctSpan,
  type Rect,
} from '../../src/jpip/window.js';

const FIX = new URL('../fixtures/', import.meta.url);
const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));
const scanFixture = (name: string): CodestreamLayout => scanTarget(new BufferSource(fixtureBytes(name))).codestreams[0];

/** A SIZ of one component without tiling. */
function sizOf(over: Partial<Siz> & { Xsiz: number; Ysiz: number }): Siz {
  return {
    Rsiz: 0,
    XOsiz: 0,
    YOsiz: 0,
    XTsiz: over.Xsiz,
    YTsiz: over.Ysiz,
    XTOsiz: 0,
    YTOsiz: 0,
    Csiz: 1,
    components: [{ precision: 8, signed: false, XRsiz: 1, YRsiz: 1 }],
    ...over,
  };
}

/** A hand-built single-component layout: NL levels, 2^PP precincts at every level, given transform. */
function synthLayout(siz: Siz, NL: number, PP: number, transform: number): CodestreamLayout {
  const st = {
    userPrecincts: true,
    NL,
    xcb: 6,
    ycb: 6,
    cbStyle: 0,
    transform,
    precincts: Array.from({ length: NL + 1 }, () => ({ PPx: PP, PPy: PP })),
  };
  return {
    offset: 0,
    end: 0,
    mainHeader: { offset: 0, length: 0 },
    mainSegments: [],
    siz,
    cod: { sop: false, eph: false, progression: Progression.RPCL, layers: 1, mct: 0 },
    components: [st],
    pocs: [],
    tileParts: [],
    tiles: Array.from({ length: numTilesX(siz) * numTilesY(siz) }, () => ({})),
  };
}

const rect = (x0: number, y0: number, x1: number, y1: number): Rect => ({ x0, y0, x1, y1 });

// ---------------------------------------------------------------- chooseFrame (notes §6.1)

const SIZ4096 = sizOf({ Xsiz: 4096, Ysiz: 4096 });

test('chooseFrame: notes §6.1 table on 4096² with NL = 7', () => {
  const cases: Array<[number, number, 'round-down' | 'round-up' | 'closest', number]> = [
    [1024, 1024, 'round-down', 2],
    [1024, 1024, 'round-up', 2],
    [1024, 1024, 'closest', 2],
    [1000, 1000, 'round-down', 3],
    [1000, 1000, 'round-up', 2],
    [1000, 1000, 'closest', 2],
    [2900, 100, 'round-down', 6],
    [2900, 100, 'round-up', 0],
    [2900, 100, 'closest', 3],
  ];
  for (const [fx, fy, round, d] of cases) {
    const f = chooseFrame(SIZ4096, 7, fx, fy, round);
    const side = 4096 / 2 ** d;
    assert.deepEqual(f, { d, fx: side, fy: side }, `fsiz=${fx},${fy},${round}`);
  }
});

test('chooseFrame: closest is by area, not esajpip L1 distance (2900,100 → 512, not 2048)', () => {
  // esajpip's metric: |fx(d)-fx| + |fy(d)-fy|, first (largest) minimum wins. Every frame from 2048 down
  // to 128 is at distance 2800, so it picks 2048; the area rule picks 512 (|262144-290000| = 27856).
  const l1 = (side: number): number => Math.abs(side - 2900) + Math.abs(side - 100);
  assert.equal(l1(2048), 2800);
  assert.equal(l1(128), 2800);
  const f = chooseFrame(SIZ4096, 7, 2900, 100, 'closest');
  assert.equal(f.fx, 512);
  assert.notEqual(f.fx, 2048);
  assert.equal(Math.abs(512 * 512 - 2900 * 100), 27856);
});

test('chooseFrame: closest ties go to the larger frame', () => {
  // 2560·1024 = 2621440 is exactly between 2048² = 4194304 and 1024² = 1048576.
  assert.equal(chooseFrame(SIZ4096, 7, 2560, 1024, 'closest').d, 1);
  // and between 4096² and 2048²: 10485760 = 10240·1024.
  assert.equal(chooseFrame(SIZ4096, 7, 10240, 1024, 'closest').d, 0);
});

test('chooseFrame: nothing fits / nothing covers, and maxD bounds the levels', () => {
  assert.equal(chooseFrame(SIZ4096, 7, 10, 10, 'round-down').d, 7, 'round-down with no fit → smallest frame');
  assert.equal(chooseFrame(SIZ4096, 7, 9000, 9000, 'round-up').d, 0, 'round-up with no cover → largest frame');
  assert.equal(chooseFrame(SIZ4096, 3, 10, 10, 'round-down').d, 3, 'never more than maxD levels');
  assert.equal(chooseFrame(SIZ4096, 3, 1, 1, 'closest').d, 3);
  assert.equal(chooseFrame(SIZ4096, 7, 4096, 4096, 'round-down').d, 0);
});

test('frameAt and chooseFrame: image offsets (XOsiz, YOsiz) use ceil(Xsiz/2^d) - ceil(XOsiz/2^d)', () => {
  // gray1000-tiled-t256-off-pcrl: Xsiz 1037, XOsiz 37, Ysiz 723, YOsiz 23 (a 1000×700 image).
  const siz = scanFixture('gray1000-tiled-t256-off-pcrl.j2k').siz;
  assert.equal(siz.XOsiz, 37);
  assert.equal(siz.YOsiz, 23);
  // By hand: d=1: 519-19, 362-12; d=2: 260-10, 181-6; d=3: 130-5, 91-3; d=4: 65-3, 46-2; d=5: 33-2, 23-1.
  const expected: Array<[number, number]> = [
    [1000, 700],
    [500, 350],
    [250, 175],
    [125, 88],
    [62, 44],
    [31, 22],
  ];
  expected.forEach(([fx, fy], d) => assert.deepEqual(frameAt(siz, d), { d, fx, fy }, `d=${d}`));
  // Ignoring the offset (classic esajpip) would give ceil(1000/16) = 63 at d = 4: 63 must not fit.
  assert.equal(chooseFrame(siz, 5, 62, 44, 'round-down').d, 4);
  assert.equal(chooseFrame(siz, 5, 63, 44, 'round-down').d, 4);
  assert.equal(chooseFrame(siz, 5, 63, 44, 'round-up').d, 3);
  // A 3-column image at offset 1 has one column at d = 1 (canvas 1..3 → reduced columns 1..1).
  assert.deepEqual(frameAt(sizOf({ Xsiz: 4, Ysiz: 4, XOsiz: 1 }), 1), { d: 1, fx: 1, fy: 2 });
});

// ---------------------------------------------------------------- mapRegion (notes §6.2)

test('mapRegion: defaults are the whole frame, or from roff to the frame end', () => {
  const f = frameAt(SIZ4096, 2);
  assert.deepEqual(mapRegion(f, { fx: 1024, fy: 1024 }, undefined, undefined), rect(0, 0, 1024, 1024));
  assert.deepEqual(mapRegion(f, { fx: 1024, fy: 1024 }, { x: 100, y: 200 }, undefined), rect(100, 200, 1024, 1024));
  assert.deepEqual(mapRegion(f, { fx: 1024, fy: 1024 }, undefined, { x: 10, y: 20 }), rect(0, 0, 10, 20));
});

test('mapRegion: scaling to another frame floors the start and ceils the end', () => {
  const f = chooseFrame(SIZ4096, 7, 1000, 1000, 'round-down');
  assert.equal(f.fx, 512);
  // x: floor(100·512/1000) = floor(51.2) = 51, ceil(400·512/1000) = ceil(204.8) = 205
  // y: floor(333·512/1000) = floor(170.496) = 170, ceil(334·512/1000) = ceil(171.008) = 172
  assert.deepEqual(mapRegion(f, { fx: 1000, fy: 1000 }, { x: 100, y: 333 }, { x: 300, y: 1 }), rect(51, 170, 205, 172));
  // Upscaling (round-up to 1024): floor(100·1024/1000) = 102, ceil(101·1024/1000) = ceil(103.424) = 104.
  const up = chooseFrame(SIZ4096, 7, 1000, 1000, 'round-up');
  assert.deepEqual(mapRegion(up, { fx: 1000, fy: 1000 }, { x: 100, y: 0 }, { x: 1, y: 1000 }), rect(102, 0, 104, 1024));
  // Scaling a full-frame request covers the full chosen frame (axes scaled independently).
  const wide = chooseFrame(SIZ4096, 7, 2900, 100, 'round-up');
  assert.deepEqual(mapRegion(wide, { fx: 2900, fy: 100 }, undefined, undefined), rect(0, 0, 4096, 4096));
});

test('mapRegion: clips rsiz beyond the frame (JHelioviewer asks for W+1, H+1) and never rejects it', () => {
  const f = frameAt(SIZ4096, 3);
  assert.deepEqual(mapRegion(f, { fx: 512, fy: 512 }, { x: 0, y: 0 }, { x: 513, y: 513 }), rect(0, 0, 512, 512));
  assert.deepEqual(mapRegion(f, { fx: 512, fy: 512 }, { x: 500, y: 10 }, { x: 100, y: 1000 }), rect(500, 10, 512, 512));
});

test('mapRegion: empty regions (offset beyond the frame, zero size)', () => {
  const f = frameAt(SIZ4096, 3);
  const beyond = mapRegion(f, { fx: 512, fy: 512 }, { x: 600, y: 0 }, { x: 10, y: 10 });
  assert.ok(isEmpty(beyond));
  assert.ok(isEmpty(mapRegion(f, { fx: 512, fy: 512 }, { x: 600, y: 600 }, undefined)));
  assert.ok(isEmpty(mapRegion(f, { fx: 512, fy: 512 }, { x: 10, y: 10 }, { x: 0, y: 5 })));
  assert.ok(isEmpty(mapRegion(f, { fx: 512, fy: 512 }, { x: 512, y: 0 }, { x: 1, y: 1 })), 'roff at the frame edge');
  assert.ok(!isEmpty(mapRegion(f, { fx: 512, fy: 512 }, { x: 511, y: 511 }, { x: 1, y: 1 })));
});

test('frameRegionToCanvas: the whole d-reduced frame maps back onto itself (with image offsets)', () => {
  const siz = scanFixture('gray1000-tiled-t256-off-pcrl.j2k').siz;
  for (let d = 0; d <= 5; d++) {
    const f = frameAt(siz, d);
    const c = frameRegionToCanvas(siz, d, rect(0, 0, f.fx, f.fy));
    const s = 2 ** d;
    assert.ok(c.x0 >= siz.XOsiz && c.y0 >= siz.YOsiz && c.x1 <= siz.Xsiz && c.y1 <= siz.Ysiz, `inside the image at d=${d}`);
    // The canvas region, reduced by d, spans exactly the frame's reduced columns and rows (15444-1 B.5).
    assert.equal(Math.ceil(c.x0 / s), Math.ceil(siz.XOsiz / s));
    assert.equal(Math.ceil(c.x1 / s) - Math.ceil(c.x0 / s), f.fx);
    assert.equal(Math.ceil(c.y1 / s) - Math.ceil(c.y0 / s), f.fy);
  }
});

// ---------------------------------------------------------------- tilePrecinctSpans (notes §6.3–6.5)

/** Sequence numbers s of the spans' precincts, per resolution (one component). */
function sValues(tile: TileGeometry, spans: PrecinctSpan[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const sp of spans) {
    const res = tile.components[sp.c].resolutions[sp.r];
    const list = out.get(sp.r) ?? [];
    for (let py = sp.py0; py < sp.py1; py++) for (let px = sp.px0; px < sp.px1; px++) list.push(res.precinctBase + py * res.npx + px);
    out.set(sp.r, list.sort((a, b) => a - b));
  }
  return out;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The notes §6.5 table: s values per resolution for fsiz=1024, roff=256,256, rsiz=512,512, no margin. */
const NOTES_65 = new Map<number, number[]>([
  [5, [...range(41, 44), ...range(49, 52), ...range(57, 60), ...range(65, 68)]],
  [4, [12, 13, 16, 17]],
  [3, [3, 4, 5, 6]],
  [2, [2]],
  [1, [1]],
  [0, [0]],
]);

/**
 * Margin-free precinct columns/rows per notes §6.3 steps 1–3 (an independent formulation: every level
 * computed directly from the canvas region with ceil, no recursion). Returns [px0, px1) × [py0, py1).
 */
function referenceSpans(tile: TileGeometry, canvas: Rect, d: number, c: number): PrecinctSpan[] {
  const tc = tile.components[c];
  const X0 = Math.max(canvas.x0, tile.x0);
  const Y0 = Math.max(canvas.y0, tile.y0);
  const X1 = Math.min(canvas.x1, tile.x1);
  const Y1 = Math.min(canvas.y1, tile.y1);
  if (X1 <= X0 || Y1 <= Y0) return [];
  const cx0 = Math.ceil(X0 / tc.XRsiz);
  const cy0 = Math.ceil(Y0 / tc.YRsiz);
  const cx1 = Math.ceil(X1 / tc.XRsiz);
  const cy1 = Math.ceil(Y1 / tc.YRsiz);
  const NL = tc.style.NL;
  const out: PrecinctSpan[] = [];
  for (let r = 0; r <= NL - d; r++) {
    const res = tc.resolutions[r];
    if (res.npx === 0 || res.npy === 0) continue;
    const k = 2 ** (NL - r);
    const rx0 = Math.ceil(cx0 / k);
    const rx1 = Math.ceil(cx1 / k);
    const ry0 = Math.ceil(cy0 / k);
    const ry1 = Math.ceil(cy1 / k);
    if (rx1 <= rx0 || ry1 <= ry0) continue;
    const Pw = 2 ** res.PPx;
    const Ph = 2 ** res.PPy;
    const fx = Math.floor(res.x0 / Pw);
    const fy = Math.floor(res.y0 / Ph);
    const px0 = Math.max(0, Math.floor(rx0 / Pw) - fx);
    const px1 = Math.min(res.npx, Math.ceil(rx1 / Pw) - fx);
    const py0 = Math.max(0, Math.floor(ry0 / Ph) - fy);
    const py1 = Math.min(res.npy, Math.ceil(ry1 / Ph) - fy);
    if (px1 > px0 && py1 > py0) out.push({ t: tile.t, c, r, px0, px1, py0, py1 });
  }
  return out;
}

/** Set of "t/c/r/px/py" keys of spans. */
function keys(t: number, spans: PrecinctSpan[]): Set<string> {
  const out = new Set<string>();
  for (const sp of spans) for (let py = sp.py0; py < sp.py1; py++) for (let px = sp.px0; px < sp.px1; px++) out.add(`${t}/${sp.c}/${sp.r}/${px}/${py}`);
  return out;
}

test('synthesisMargin: 2 subband samples for 5-3, 4 for 9-7 (notes §6.3 step 4)', () => {
  assert.equal(synthesisMargin(1), 2);
  assert.equal(synthesisMargin(0), 4);
});

test('tilePrecinctSpans: notes §6.5 worked example on the 4096² NL=7 P128 fixture', () => {
  const cs = scanFixture('gray4096-rpcl-p128-l8.jp2');
  const tile = tileGeometry(cs, 0);
  assert.equal(tile.components[0].style.transform, 1, '5-3 fixture');
  const frame = chooseFrame(cs.siz, 7, 1024, 1024, 'round-down');
  assert.equal(frame.d, 2);
  const region = mapRegion(frame, { fx: 1024, fy: 1024 }, { x: 256, y: 256 }, { x: 512, y: 512 });
  const canvas = frameRegionToCanvas(cs.siz, frame.d, region);
  assert.deepEqual(canvas, rect(1024, 1024, 3072, 3072));
  const spans = tilePrecinctSpans(tile, canvas, frame.d, [0]);
  const got = sValues(tile, spans);
  assert.deepEqual([...got.keys()].sort(), [0, 1, 2, 3, 4, 5], 'resolutions 0..NL-d only');

  // 1. The margin-free §6.5 set (27 precincts) is contained.
  let notesCount = 0;
  for (const [r, want] of NOTES_65) {
    notesCount += want.length;
    for (const s of want) assert.ok(got.get(r)?.includes(s), `r=${r} s=${s} from notes §6.5 missing`);
  }
  assert.equal(notesCount, 27);
  // The independent margin-free reference reproduces the notes table exactly.
  assert.deepEqual(sValues(tile, referenceSpans(tile, canvas, 2, 0)), NOTES_65);

  // 2. With the 5-3 margin (2 subband samples), by hand: r5 subband [128-2, 384+2) with 64-sample
  //    precincts → columns 1..6; r4: [63-2, 193+2) → 0..3 (all 4); r3: [30-2, 98+2) → 0..1; r2..r0: one.
  const cols = (base: number, npx: number, lo: number, hi: number): number[] => {
    const out: number[] = [];
    for (let py = lo; py <= hi; py++) for (let px = lo; px <= hi; px++) out.push(base + py * npx + px);
    return out.sort((a, b) => a - b);
  };
  assert.deepEqual(got.get(5), cols(23, 8, 1, 6));
  assert.deepEqual(got.get(4), cols(7, 4, 0, 3));
  assert.deepEqual(got.get(3), [3, 4, 5, 6]);
  assert.deepEqual([got.get(2), got.get(1), got.get(0)], [[2], [1], [0]]);

  // 3. Every extra precinct is adjacent: at most one column/row outside the margin-free span.
  for (const sp of spans) {
    const ref = referenceSpans(tile, canvas, 2, 0).find((x) => x.r === sp.r);
    assert.ok(ref);
    assert.ok(sp.px0 >= ref.px0 - 1 && sp.px1 <= ref.px1 + 1 && sp.py0 >= ref.py0 - 1 && sp.py1 <= ref.py1 + 1, `r=${sp.r}`);
  }
});

test('tilePrecinctSpans: margin-free set ⊆ spans ⊆ margin-free set widened by the synthesis margin (random windows)', () => {
  const fixtures = ['gray4096-rpcl-p128-l8.jp2', 'gray1000-irrev97-rpcl-p128-l3.j2k', 'gray1000-lrcp-p64-l4.j2k'];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (const name of fixtures) {
    const cs = scanFixture(name);
    const tile = tileGeometry(cs, 0);
    const tc = tile.components[0];
    const m = synthesisMargin(tc.style.transform);
    // Accumulated widening in samples of any level: < 2m, plus one sample of rounding per level.
    const slack = 2 * m + 2 + tc.style.NL;
    for (let i = 0; i < 60; i++) {
      const d = rnd(tc.style.NL + 1);
      const f = frameAt(cs.siz, d);
      const x0 = rnd(f.fx);
      const y0 = rnd(f.fy);
      const region = rect(x0, y0, x0 + 1 + rnd(f.fx - x0), y0 + 1 + rnd(f.fy - y0));
      const canvas = frameRegionToCanvas(cs.siz, d, region);
      const spans = tilePrecinctSpans(tile, canvas, d, [0]);
      const ref = referenceSpans(tile, canvas, d, 0);
      const got = keys(0, spans);
      for (const k of keys(0, ref)) assert.ok(got.has(k), `${name} d=${d} ${JSON.stringify(region)}: ${k} missing`);
      for (const sp of spans) {
        assert.ok(sp.r <= tc.style.NL - d, 'no resolution above the frame');
        const res = tc.resolutions[sp.r];
        assert.ok(sp.px0 >= 0 && sp.px1 <= res.npx && sp.py0 >= 0 && sp.py1 <= res.npy, 'inside the precinct grid');
        // The region at this level, on the resolution grid, without margin.
        const k = 2 ** (tc.style.NL - sp.r);
        const rx0 = Math.ceil(canvas.x0 / k) - 2 * slack;
        const rx1 = Math.ceil(canvas.x1 / k) + 2 * slack;
        const ry0 = Math.ceil(canvas.y0 / k) - 2 * slack;
        const ry1 = Math.ceil(canvas.y1 / k) + 2 * slack;
        const Pw = 2 ** res.PPx;
        const Ph = 2 ** res.PPy;
        const fx = Math.floor(res.x0 / Pw);
        const fy = Math.floor(res.y0 / Ph);
        // The first and the last column (row) of the span touch the widened region.
        assert.ok((sp.px0 + fx + 1) * Pw > rx0 && (sp.px1 - 1 + fx) * Pw < rx1, `${name} r=${sp.r} columns beyond the margin`);
        assert.ok((sp.py0 + fy + 1) * Ph > ry0 && (sp.py1 - 1 + fy) * Ph < ry1, `${name} r=${sp.r} rows beyond the margin`);
      }
    }
  }
});

test('tilePrecinctSpans: the margin depends on the wavelet (5-3: 2, 9-7: 4 subband samples)', () => {
  // 1024² image, NL = 3, 128-sample precincts (64 subband samples), full resolution (d = 0), so the
  // top level r = 3 needs subband samples [floor(x0/2) - m, ceil(x1/2) + m).
  const siz = sizOf({ Xsiz: 1024, Ysiz: 1024 });
  const top = (transform: number, canvas: Rect): PrecinctSpan => {
    const spans = tilePrecinctSpans(tileGeometry(synthLayout(siz, 3, 7, transform), 0), canvas, 0, [0]);
    const s = spans.find((x) => x.r === 3);
    assert.ok(s);
    return s;
  };
  // x0 = 262: floor(262/2) = 131; 131-2 = 129 → column 2 (5-3); 131-4 = 127 → column 1 (9-7).
  assert.equal(top(1, rect(262, 512, 300, 520)).px0, 2);
  assert.equal(top(0, rect(262, 512, 300, 520)).px0, 1);
  // x1 = 252: ceil(252/2) = 126; 126+2 = 128 → last sample 127, column 1 (5-3); 130 → column 2 (9-7).
  assert.equal(top(1, rect(200, 512, 252, 520)).px1, 2);
  assert.equal(top(0, rect(200, 512, 252, 520)).px1, 3);
});

test('tilePrecinctSpans: a 769-pixel frame has precinct columns 0..6 and rsiz=769 includes column 6 (notes §6.4)', () => {
  // 1538×1538 image, NL = 1, d = 1 → the frame is resolution 0, 769 wide, 128-sample precincts; no
  // synthesis below resolution 0, so the spans are exactly the region's precincts.
  const siz = sizOf({ Xsiz: 1538, Ysiz: 1538 });
  const cs = synthLayout(siz, 1, 7, 1);
  const tile = tileGeometry(cs, 0);
  const frame = chooseFrame(siz, 1, 769, 769, 'closest');
  assert.deepEqual(frame, { d: 1, fx: 769, fy: 769 });
  assert.equal(tile.components[0].resolutions[0].npx, 7);
  const spanFor = (rsiz: number): PrecinctSpan => {
    const region = mapRegion(frame, { fx: 769, fy: 769 }, { x: 0, y: 0 }, { x: rsiz, y: rsiz });
    const spans = tilePrecinctSpans(tile, frameRegionToCanvas(siz, 1, region), 1, [0]);
    assert.equal(spans.length, 1);
    return spans[0];
  };
  assert.deepEqual([spanFor(769).px0, spanFor(769).px1], [0, 7], 'column 6 (pixel 768 only) included');
  assert.deepEqual([spanFor(770).px0, spanFor(770).px1], [0, 7], 'clipped to the frame');
  assert.deepEqual([spanFor(768).px0, spanFor(768).px1], [0, 6], 'pixels 0..767: columns 0..5');
  // Low corner at an exact precinct boundary starts at that precinct, not the one before (esajpip's error).
  const region = mapRegion(frame, { fx: 769, fy: 769 }, { x: 256, y: 640 }, { x: 129, y: 129 });
  const [s] = tilePrecinctSpans(tile, frameRegionToCanvas(siz, 1, region), 1, [0]);
  assert.deepEqual([s.px0, s.px1, s.py0, s.py1], [2, 4, 5, 7]);
});

test('tilePrecinctSpans: a whole frame selects every precinct of the resolutions it needs', () => {
  for (const name of ['gray1000-tiled-t256-off-pcrl.j2k', 'gray1000-t512-tpr-rpcl.j2k', 'rgb640-mct-pcrl-p64-l3.j2k', 'yuv420-rpcl-p32.j2k']) {
    const cs = scanFixture(name);
    const Nt = numTilesX(cs.siz) * numTilesY(cs.siz);
    const NL = cs.components[0].NL;
    const comps = Array.from({ length: cs.siz.Csiz }, (_, c) => c);
    for (const d of [0, 2]) {
      const f = frameAt(cs.siz, d);
      const canvas = frameRegionToCanvas(cs.siz, d, rect(0, 0, f.fx, f.fy));
      const tiles = tilesInRegion(cs.siz, canvas);
      assert.deepEqual(tiles, range(0, Nt - 1), `${name}: every tile`);
      for (const t of tiles) {
        const tile = tileGeometry(cs, t);
        const spans = tilePrecinctSpans(tile, canvas, d, comps);
        for (const tc of tile.components) {
          for (const res of tc.resolutions) {
            const sp = spans.find((x) => x.c === tc.c && x.r === res.r);
            if (res.r > NL - d || res.npx * res.npy === 0) {
              assert.equal(sp, undefined, `${name} t=${t} c=${tc.c} r=${res.r} must be absent`);
              continue;
            }
            assert.ok(sp, `${name} t=${t} c=${tc.c} r=${res.r} d=${d} missing`);
            assert.deepEqual([sp.px0, sp.px1, sp.py0, sp.py1], [0, res.npx, 0, res.npy]);
          }
        }
      }
    }
  }
});

test('tilesInRegion: tile grid with tile offsets (XTOsiz 10, YTOsiz 5) and image offsets', () => {
  const siz = scanFixture('gray1000-tiled-t256-off-pcrl.j2k').siz;
  assert.deepEqual([siz.XTOsiz, siz.YTOsiz, siz.XTsiz, siz.YTsiz], [10, 5, 256, 256]);
  // Tile columns start at 10, 266, 522, 778, 1034 (the last one 3 pixels wide); rows at 5, 261, 517.
  assert.deepEqual(tilesInRegion(siz, rect(37, 23, 1037, 723)), range(0, 14));
  assert.deepEqual(tilesInRegion(siz, rect(265, 260, 267, 262)), [0, 1, 5, 6]);
  assert.deepEqual(tilesInRegion(siz, rect(266, 261, 522, 517)), [6], 'half-open: exactly tile 6');
  assert.deepEqual(tilesInRegion(siz, rect(1034, 23, 1037, 24)), [4], 'the 3-pixel-wide column');
  assert.deepEqual(tilesInRegion(siz, rect(1033, 700, 1037, 723)), [13, 14]);
  assert.deepEqual(tilesInRegion(siz, rect(300, 300, 300, 400)), [], 'empty region');
});

test('tilePrecinctSpans: multi-tile windows only select precincts inside the tiles they touch', () => {
  const cs = scanFixture('gray1000-tiled-t256-off-pcrl.j2k');
  // Canvas region inside tile 6 only ([266,522) × [261,517)), away from its borders.
  const inside = rect(300, 300, 400, 400);
  assert.deepEqual(tilesInRegion(cs.siz, inside), [6]);
  assert.deepEqual(tilePrecinctSpans(tileGeometry(cs, 5), inside, 0, [0]), [], 'tile 5 not touched');
  const spans6 = tilePrecinctSpans(tileGeometry(cs, 6), inside, 0, [0]);
  assert.ok(spans6.length > 0);
  const tile6 = tileGeometry(cs, 6);
  for (const k of keys(6, referenceSpans(tile6, inside, 0, 0))) assert.ok(keys(6, spans6).has(k), k);
  // A window straddling the tile corner at (266, 261) touches four tiles, and each tile's spans
  // contain that tile's margin-free precincts of the part of the window inside it.
  const corner = rect(250, 250, 280, 270);
  const tiles = tilesInRegion(cs.siz, corner);
  assert.deepEqual(tiles, [0, 1, 5, 6]);
  for (const t of tiles) {
    const tile = tileGeometry(cs, t);
    const spans = tilePrecinctSpans(tile, corner, 1, [0]);
    assert.ok(spans.length > 0, `tile ${t}`);
    const got = keys(t, spans);
    for (const k of keys(t, referenceSpans(tile, corner, 1, 0))) assert.ok(got.has(k), `tile ${t}: ${k}`);
  }
  // The thin last tile column (3 pixels) works at every level.
  const thin = tileGeometry(cs, 4);
  assert.equal(thin.x1 - thin.x0, 3);
  for (let d = 0; d <= 5; d++) {
    const spans = tilePrecinctSpans(thin, rect(1034, 23, 1037, 100), d, [0]);
    for (const sp of spans) {
      const res = thin.components[0].resolutions[sp.r];
      assert.ok(sp.px1 <= res.npx && sp.py1 <= res.npy && sp.px0 < sp.px1);
    }
  }
});

test('tilePrecinctSpans: subsampled components (4:2:0) use the component grid', () => {
  const cs = scanFixture('yuv420-rpcl-p32.j2k');
  const tile = tileGeometry(cs, 0);
  assert.equal(tile.components[1].XRsiz, 2);
  const canvas = rect(128, 64, 192, 96);
  const spans = tilePrecinctSpans(tile, canvas, 0, [0, 1, 2]);
  for (const c of [0, 1, 2]) {
    const got = keys(0, spans.filter((s) => s.c === c));
    const ref = referenceSpans(tile, canvas, 0, c);
    assert.ok(ref.length > 0);
    for (const k of keys(0, ref)) assert.ok(got.has(k), `c=${c} ${k}`);
  }
  // Only the requested components appear.
  assert.deepEqual([...new Set(tilePrecinctSpans(tile, canvas, 0, [2]).map((s) => s.c))], [2]);
});
