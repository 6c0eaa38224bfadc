import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BufferSource } from '../../src/bytes/source.js';
import { JpipdError } from '../../src/errors.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { numTilesX, numTilesY, tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { decodePltLengths } from '../../src/j2k/plt.js';
import { packetOrder } from '../../src/j2k/progression.js';
import { Progression, type CodestreamLayout, type ComponentCodingStyle, type PacketOrder, type Poc, type Siz } from '../../src/j2k/types.js';

const FIX = new URL('../fixtures/', import.meta.url);

type Packet = [l: number, r: number, c: number, p: number];
const list = (o: PacketOrder): Packet[] =>
  Array.from({ length: o.length }, (_, i) => [o.layer[i], o.resolution[i], o.component[i], o.precinct[i]] as Packet);

/** mulberry32, for reproducible random geometries. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Spec {
  siz: Siz;
  styles: ComponentCodingStyle[];
  layers: number;
  progression: Progression;
  pocs: Poc[];
}

function toLayout(s: Spec): CodestreamLayout {
  return {
    offset: 0,
    end: 0,
    mainHeader: { offset: 0, length: 0 },
    mainSegments: [],
    siz: s.siz,
    cod: { sop: false, eph: false, progression: s.progression, layers: s.layers, mct: 0 },
    components: s.styles,
    pocs: s.pocs,
    tileParts: [],
    tiles: Array.from({ length: numTilesX(s.siz) * numTilesY(s.siz) }, () => ({})),
  };
}

/**
 * Reference packet sequence written directly from 15444-1 B.12 with its own geometry (B.3, B.5, B.6):
 * position-driven orders visit EVERY canvas position of the tile and apply the standard's
 * divisibility tests; POC volumes skip packets already emitted; leftovers follow in the last order.
 */
function reference(s: Spec, t: number): Packet[] {
  const { siz } = s;
  const nx = Math.ceil((siz.Xsiz - siz.XTOsiz) / siz.XTsiz);
  const p = t % nx;
  const q = Math.floor(t / nx);
  const tx0 = Math.max(siz.XTOsiz + p * siz.XTsiz, siz.XOsiz);
  const ty0 = Math.max(siz.YTOsiz + q * siz.YTsiz, siz.YOsiz);
  const tx1 = Math.min(siz.XTOsiz + (p + 1) * siz.XTsiz, siz.Xsiz);
  const ty1 = Math.min(siz.YTOsiz + (q + 1) * siz.YTsiz, siz.Ysiz);
  const C = siz.Csiz;
  const res = (c: number, r: number) => {
    const { XRsiz: XR, YRsiz: YR } = siz.components[c];
    const st = s.styles[c];
    const n = st.NL - r;
    const d = 2 ** n;
    const trx0 = Math.ceil(Math.ceil(tx0 / XR) / d);
    const try0 = Math.ceil(Math.ceil(ty0 / YR) / d);
    const trx1 = Math.ceil(Math.ceil(tx1 / XR) / d);
    const try1 = Math.ceil(Math.ceil(ty1 / YR) / d);
    const { PPx, PPy } = st.precincts[r];
    const empty = trx1 <= trx0 || try1 <= try0;
    const npx = empty ? 0 : Math.ceil(trx1 / 2 ** PPx) - Math.floor(trx0 / 2 ** PPx);
    const npy = empty ? 0 : Math.ceil(try1 / 2 ** PPy) - Math.floor(try0 / 2 ** PPy);
    return { XR, YR, n, trx0, try0, PPx, PPy, npx, npy };
  };
  const maxR = Math.max(...s.styles.map((st) => st.NL)) + 1;
  const seen = new Set<string>();
  const out: Packet[] = [];
  const emit = (l: number, r: number, c: number, k: number) => {
    const key = `${l}/${r}/${c}/${k}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push([l, r, c, k]);
  };
  /** The precinct of (c, r) that the standard's test selects at canvas (x, y), or -1. */
  const at = (c: number, r: number, x: number, y: number): number => {
    if (r > s.styles[c].NL) return -1;
    const g = res(c, r);
    if (g.npx === 0 || g.npy === 0) return -1;
    const okX = x % (g.XR * 2 ** (g.PPx + g.n)) === 0 || (x === tx0 && (g.trx0 * 2 ** g.n) % 2 ** (g.PPx + g.n) !== 0);
    const okY = y % (g.YR * 2 ** (g.PPy + g.n)) === 0 || (y === ty0 && (g.try0 * 2 ** g.n) % 2 ** (g.PPy + g.n) !== 0);
    if (!okX || !okY) return -1;
    const px = Math.floor(Math.ceil(x / (g.XR * 2 ** g.n)) / 2 ** g.PPx) - Math.floor(g.trx0 / 2 ** g.PPx);
    const py = Math.floor(Math.ceil(y / (g.YR * 2 ** g.n)) / 2 ** g.PPy) - Math.floor(g.try0 / 2 ** g.PPy);
    assert.ok(px >= 0 && px < g.npx && py >= 0 && py < g.npy, 'reference: precinct inside the resolution');
    return px + g.npx * py;
  };
  const volume = (LYE: number, RS: number, RE: number, CS: number, CE: number, order: Progression) => {
    const allP = (l: number, r: number, c: number) => {
      if (r > s.styles[c].NL) return;
      const g = res(c, r);
      for (let k = 0; k < g.npx * g.npy; k++) emit(l, r, c, k);
    };
    if (order === Progression.LRCP) {
      for (let l = 0; l < LYE; l++) for (let r = RS; r < RE; r++) for (let c = CS; c < CE; c++) allP(l, r, c);
    } else if (order === Progression.RLCP) {
      for (let r = RS; r < RE; r++) for (let l = 0; l < LYE; l++) for (let c = CS; c < CE; c++) allP(l, r, c);
    } else if (order === Progression.RPCL) {
      for (let r = RS; r < RE; r++)
        for (let y = ty0; y < ty1; y++)
          for (let x = tx0; x < tx1; x++)
            for (let c = CS; c < CE; c++) {
              const k = at(c, r, x, y);
              if (k >= 0) for (let l = 0; l < LYE; l++) emit(l, r, c, k);
            }
    } else if (order === Progression.PCRL) {
      for (let y = ty0; y < ty1; y++)
        for (let x = tx0; x < tx1; x++)
          for (let c = CS; c < CE; c++)
            for (let r = RS; r < RE; r++) {
              const k = at(c, r, x, y);
              if (k >= 0) for (let l = 0; l < LYE; l++) emit(l, r, c, k);
            }
    } else {
      for (let c = CS; c < CE; c++)
        for (let y = ty0; y < ty1; y++)
          for (let x = tx0; x < tx1; x++)
            for (let r = RS; r < RE; r++) {
              const k = at(c, r, x, y);
              if (k >= 0) for (let l = 0; l < LYE; l++) emit(l, r, c, k);
            }
    }
  };
  if (s.pocs.length === 0) {
    volume(s.layers, 0, maxR, 0, C, s.progression);
  } else {
    for (const v of s.pocs) volume(Math.min(v.LYEpoc, s.layers), v.RSpoc, Math.min(v.REpoc, maxR), v.CSpoc, Math.min(v.CEpoc, C), v.Ppoc);
    volume(s.layers, 0, maxR, 0, C, s.pocs[s.pocs.length - 1].Ppoc);
  }
  return out;
}

/** A random small geometry: offsets, tiles, subsampling 1..3, per-component NL, per-resolution precincts. */
function randomSpec(seed: number): Spec {
  const R = rng(seed);
  const XOsiz = R(6);
  const YOsiz = R(6);
  const Xsiz = XOsiz + 1 + R(40);
  const Ysiz = YOsiz + 1 + R(32);
  const tiled = R(3) === 0;
  const XTOsiz = tiled ? R(XOsiz + 1) : 0;
  const YTOsiz = tiled ? R(YOsiz + 1) : 0;
  const XTsiz = tiled ? XOsiz - XTOsiz + 1 + R(20) : Xsiz;
  const YTsiz = tiled ? YOsiz - YTOsiz + 1 + R(20) : Ysiz;
  const Csiz = 1 + R(3);
  const components = Array.from({ length: Csiz }, () => ({ precision: 8, signed: false, XRsiz: 1 + R(3), YRsiz: 1 + R(3) }));
  const styles = Array.from({ length: Csiz }, () => {
    const NL = R(4);
    return {
      userPrecincts: true,
      NL,
      xcb: 6,
      ycb: 6,
      cbStyle: 0,
      transform: 1,
      precincts: Array.from({ length: NL + 1 }, (_, r) => ({ PPx: (r === 0 ? 0 : 1) + R(3), PPy: (r === 0 ? 0 : 1) + R(3) })),
    };
  });
  const layers = 1 + R(3);
  const pocs: Poc[] = [];
  const nPoc = R(4) === 0 ? 1 + R(3) : 0;
  for (let i = 0; i < nPoc; i++) {
    const RSpoc = R(3);
    const CSpoc = R(Csiz);
    pocs.push({ RSpoc, CSpoc, LYEpoc: 1 + R(layers + 1), REpoc: RSpoc + 1 + R(4), CEpoc: CSpoc + 1 + R(3), Ppoc: R(5) as Progression });
  }
  const siz: Siz = { Rsiz: 0, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, components };
  return { siz, styles, layers, progression: R(5) as Progression, pocs };
}

test('packetOrder equals a literal 15444-1 B.12 reference on 400 random geometries', () => {
  let packets = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const spec = randomSpec(seed);
    const lay = toLayout(spec);
    for (let t = 0; t < tileCount(spec.siz); t++) {
      const got = list(packetOrder(tileGeometry(lay, t)));
      const want = reference(spec, t);
      assert.deepEqual(got, want, `seed ${seed} tile ${t} ${JSON.stringify(spec)}`);
      packets += got.length;
    }
  }
  assert.ok(packets > 10000, `only ${packets} packets compared`);
});

test('every packet appears exactly once, for every order and with POC', () => {
  for (let seed = 1000; seed < 1200; seed++) {
    const spec = randomSpec(seed);
    const lay = toLayout(spec);
    for (let t = 0; t < tileCount(spec.siz); t++) {
      const g = tileGeometry(lay, t);
      const o = packetOrder(g);
      const expected = g.layers * g.components.reduce((a, tc) => a + tc.precinctCount, 0);
      assert.equal(o.length, expected);
      const keys = new Set(list(o).map((k) => k.join('/')));
      assert.equal(keys.size, expected);
      for (const [l, r, c, p] of list(o)) {
        const res = g.components[c].resolutions[r];
        assert.ok(l < g.layers && p < res.npx * res.npy);
      }
    }
  }
});

/** A single-tile, single-geometry spec for order-semantics checks. */
function simple(progression: Progression, Csiz = 2, layers = 3): Spec {
  const st: ComponentCodingStyle = {
    userPrecincts: true,
    NL: 3,
    xcb: 6,
    ycb: 6,
    cbStyle: 0,
    transform: 1,
    precincts: [{ PPx: 1, PPy: 1 }, { PPx: 2, PPy: 2 }, { PPx: 2, PPy: 2 }, { PPx: 3, PPy: 2 }],
  };
  const siz: Siz = {
    Rsiz: 0, Xsiz: 40, Ysiz: 24, XOsiz: 0, YOsiz: 0, XTsiz: 40, YTsiz: 24, XTOsiz: 0, YTOsiz: 0, Csiz,
    components: Array.from({ length: Csiz }, () => ({ precision: 8, signed: false, XRsiz: 1, YRsiz: 1 })),
  };
  return { siz, styles: Array.from({ length: Csiz }, () => st), layers, progression, pocs: [] };
}

const nonDecreasing = (xs: number[]) => xs.every((v, i) => i === 0 || xs[i - 1] <= v);

test('order semantics by construction', () => {
  const run = (p: Progression) => list(packetOrder(tileGeometry(toLayout(simple(p)), 0)));
  const lrcp = run(Progression.LRCP);
  assert.ok(nonDecreasing(lrcp.map(([l]) => l)), 'LRCP: layer outermost');
  assert.ok(nonDecreasing(lrcp.map(([l, r]) => l * 100 + r)), 'LRCP: then resolution');
  const rlcp = run(Progression.RLCP);
  assert.ok(nonDecreasing(rlcp.map(([l, r]) => r * 100 + l)), 'RLCP: resolution, then layer');
  const rpcl = run(Progression.RPCL);
  assert.ok(nonDecreasing(rpcl.map(([, r]) => r)), 'RPCL: resolution outermost');
  // RPCL: layers of one precinct are adjacent and in order
  for (let i = 0; i < rpcl.length; i += 3) assert.deepEqual(rpcl.slice(i, i + 3).map(([l]) => l), [0, 1, 2]);
  const cprl = run(Progression.CPRL);
  assert.ok(nonDecreasing(cprl.map(([, , c]) => c)), 'CPRL: component outermost');
  const pcrl = run(Progression.PCRL);
  assert.ok(!nonDecreasing(pcrl.map(([, , c]) => c)), 'PCRL: components interleave by position');
  // LRCP layer 0 is RLCP restricted to layer 0
  assert.deepEqual(lrcp.filter(([l]) => l === 0), rlcp.filter(([l]) => l === 0));
});

test('hand-worked PCRL with two components of different subsampling', () => {
  // Canvas 8 x 4, one tile. Component 0 at 1x1 (8 x 4), component 1 at 2x2 (4 x 2); NL = 1; one layer.
  // c0 r0: 4 x 2 samples, 2x2 precincts -> 2 precincts, canvas step 1*2^(1+1) = 4 -> reached at x = 0, 4
  // c0 r1: 8 x 4 samples, 4x4 precincts -> 2 precincts, canvas step 4 -> x = 0, 4
  // c1 r0: 2 x 1 samples, 2x2 precincts -> 1 precinct, canvas step 2*2^(1+1) = 8 -> x = 0
  // c1 r1: 4 x 2 samples, 2x2 precincts -> 2 precincts, canvas step 2*2^1 = 4 -> x = 0, 4
  // PCRL visits (y=0, x=0): c0 r0, c0 r1, c1 r0, c1 r1; then (y=0, x=4): c0 r0, c0 r1, c1 r1.
  const mk = (PP: number[][]): ComponentCodingStyle => ({
    userPrecincts: true, NL: 1, xcb: 6, ycb: 6, cbStyle: 0, transform: 1,
    precincts: PP.map(([PPx, PPy]) => ({ PPx, PPy })),
  });
  const spec: Spec = {
    siz: {
      Rsiz: 0, Xsiz: 8, Ysiz: 4, XOsiz: 0, YOsiz: 0, XTsiz: 8, YTsiz: 4, XTOsiz: 0, YTOsiz: 0, Csiz: 2,
      components: [{ precision: 8, signed: false, XRsiz: 1, YRsiz: 1 }, { precision: 8, signed: false, XRsiz: 2, YRsiz: 2 }],
    },
    styles: [mk([[1, 1], [2, 2]]), mk([[1, 1], [1, 1]])],
    layers: 1,
    progression: Progression.PCRL,
    pocs: [],
  };
  const got = list(packetOrder(tileGeometry(toLayout(spec), 0)));
  assert.deepEqual(got, [
    [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 1, 0],
    [0, 0, 0, 1], [0, 1, 0, 1], [0, 1, 1, 1],
  ]);
  // CPRL on the same geometry: all of component 0 first, by position, resolution innermost.
  spec.progression = Progression.CPRL;
  assert.deepEqual(list(packetOrder(tileGeometry(toLayout(spec), 0))), [
    [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 1, 0, 1],
    [0, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1],
  ]);
});

test('POC: overlapping volumes skip packets already emitted; leftovers follow the last order', () => {
  const spec = simple(Progression.LRCP, 1, 2);
  // volume 1: layer 0 of resolutions 0..1 in RPCL; volume 2: layers 0..1 of resolutions 0..2 in LRCP
  spec.pocs = [
    { RSpoc: 0, CSpoc: 0, LYEpoc: 1, REpoc: 2, CEpoc: 1, Ppoc: Progression.RPCL },
    { RSpoc: 0, CSpoc: 0, LYEpoc: 2, REpoc: 3, CEpoc: 1, Ppoc: Progression.LRCP },
  ];
  const g = tileGeometry(toLayout(spec), 0);
  const np = g.components[0].resolutions.map((r) => r.npx * r.npy);
  const got = list(packetOrder(g));
  const v1 = np[0] + np[1];
  assert.ok(got.slice(0, v1).every(([l, r]) => l === 0 && r <= 1));
  // volume 2 starts with layer 0 of resolution 2 (layer 0 of r0, r1 already sent), then layer 1 of r0..r2
  assert.deepEqual(got[v1], [0, 2, 0, 0]);
  assert.deepEqual(got[v1 + np[2]], [1, 0, 0, 0]);
  const v2end = v1 + np[2] + np[0] + np[1] + np[2];
  // leftovers: resolution 3 in LRCP, layer 0 then layer 1
  assert.ok(got.slice(v2end).every(([, r]) => r === 3));
  assert.ok(nonDecreasing(got.slice(v2end).map(([l]) => l)));
  assert.equal(got.length, 2 * np.reduce((a, b) => a + b, 0));
});

test('oversized tiles are refused before allocating', () => {
  const spec = simple(Progression.LRCP, 1, 65535);
  spec.siz = { ...spec.siz, Xsiz: 4096, Ysiz: 4096, XTsiz: 4096, YTsiz: 4096 };
  spec.styles = [{ ...spec.styles[0], NL: 0, precincts: [{ PPx: 2, PPy: 2 }] }];
  assert.throws(() => packetOrder(tileGeometry(toLayout(spec), 0)), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_LIMIT');
});

/**
 * Packet lengths keyed by (t, l, r, c, p), assigned by walking the PLT lists in packetOrder. OpenJPEG's
 * packets do not depend on the progression, so files that differ only in progression must give the
 * same map: any ordering error would attach lengths to the wrong packets.
 */
function lengthsByPacket(name: string): Map<string, number> {
  const bytes = new Uint8Array(readFileSync(new URL(name, FIX)));
  const src = new BufferSource(bytes);
  const cs = scanTarget(src).codestreams[0];
  const out = new Map<string, number>();
  for (let t = 0; t < tileCount(cs.siz); t++) {
    const o = packetOrder(tileGeometry(cs, t));
    let n = 0;
    for (const tp of cs.tileParts.filter((x) => x.Isot === t)) {
      for (const plt of tp.plt) {
        decodePltLengths(src.read(plt.offset, plt.length), (len) => {
          out.set(`${t}/${o.layer[n]}/${o.resolution[n]}/${o.component[n]}/${o.precinct[n]}`, len);
          n++;
        });
      }
    }
    assert.equal(n, o.length, `${name} tile ${t}`);
  }
  return out;
}

test('OpenJPEG fixtures agree packet by packet across progressions (and with POC)', () => {
  const base = lengthsByPacket('gray1000-lrcp-p64-l4.j2k');
  assert.equal(base.size, 1664);
  assert.ok(new Set(base.values()).size > 100, 'packet lengths vary enough to detect misordering');
  for (const name of ['gray1000-rlcp-p64-l4.j2k', 'gray1000-rpcl-p64-l4.j2k', 'gray1000-pcrl-p64-l4.j2k', 'gray1000-cprl-p64-l4.j2k', 'gray1000-poc-rpcl-lrcp.j2k']) {
    assert.deepEqual(lengthsByPacket(name), base, name);
  }
  const yuv = lengthsByPacket('yuv420-rpcl-p32.j2k');
  assert.equal(yuv.size, 768);
  assert.deepEqual(lengthsByPacket('yuv420-pcrl-p32.j2k'), yuv);
  assert.deepEqual(lengthsByPacket('yuv420-cprl-p32.j2k'), yuv);
});
