import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { BufferSource, be, put, type ByteSource } from '../../src/bytes/source.js';
import { JpipdError, type ErrorCode } from '../../src/errors.js';
import { scanCodestream } from '../../src/j2k/codestream.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { decodePltLengths } from '../../src/j2k/plt.js';
import { tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { packetOrder } from '../../src/j2k/progression.js';
import { concatBytes } from '../../src/j2k/box-writer.js';
import { Progression, type CodestreamLayout } from '../../src/j2k/types.js';
import { buildLevels } from '../../src/packet-index/builder.js';
import { buildDirectory, PACKED_PIECES } from '../../src/packet-index/directory.js';

const FIX = new URL('../fixtures/', import.meta.url);
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));
const fails = (code: ErrorCode) => (e: unknown) => e instanceof JpipdError && e.code === code;
const scanRaw = (bytes: Uint8Array): CodestreamLayout => scanCodestream(new BufferSource(bytes), 0, bytes.length);

/** Fixtures that must scan, and those that must be refused. */
const PACKED = ['gray1000-t512-tpr-ppt.j2k', 'gray1000-t512-tpr-ppm.j2k', 'gray257-sop-eph-ppm.j2k'];
const REFUSED = new Set([...PACKED, 'gray257-truncated.j2k', 'corrupt-boxlen.jp2', 'two-jp2c.jp2']);
const GOOD = readdirSync(FIX).filter((f) => /\.(j2k|jp2|jpx)$/.test(f) && !REFUSED.has(f)).sort();

/** Wraps a ByteSource and records the reads made through it. */
class CountingSource implements ByteSource {
  reads = 0;
  bytes = 0;
  largest = 0;
  constructor(private readonly inner: ByteSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Uint8Array {
    this.reads++;
    this.bytes += length;
    this.largest = Math.max(this.largest, length);
    return this.inner.read(offset, length);
  }
  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    dest.set(this.read(offset, length), at);
  }
}

test('every fixture: PLT lengths cover each tile-part exactly and match the geometry packet count', () => {
  assert.ok(GOOD.length >= 20, `expected the committed fixtures, found ${GOOD.length}`);
  for (const name of GOOD.filter((n) => !/noplt|htj2k/.test(n))) {
    const bytes = load(name);
    const src = new BufferSource(bytes);
    const target = scanTarget(src);
    for (const cs of target.codestreams) {
      const perTile = new Array<number>(tileCount(cs.siz)).fill(0);
      for (const tp of cs.tileParts) {
        let sum = 0;
        for (const plt of tp.plt) {
          decodePltLengths(src.read(plt.offset, plt.length), (len) => {
            sum += len;
            perTile[tp.Isot]++;
          });
        }
        assert.equal(sum, tp.dataEnd - tp.dataOffset, `${name}: tile ${tp.Isot} part ${tp.TPsot}`);
        assert.equal(be.u16(bytes, tp.dataOffset - 2), 0xff93, `${name}: SOD precedes the data`);
        assert.equal(be.u16(bytes, tp.sotOffset), 0xff90, `${name}: SOT at sotOffset`);
      }
      perTile.forEach((n, t) => {
        const expected = packetOrder(tileGeometry(cs, t)).length;
        assert.equal(n, expected, `${name}: tile ${t} has ${n} PLT lengths, geometry says ${expected}`);
      });
    }
  }
});

test('main header and tile-part ranges line up with the bytes', () => {
  for (const name of GOOD) {
    const bytes = load(name);
    for (const cs of scanTarget(new BufferSource(bytes)).codestreams) {
      assert.equal(be.u16(bytes, cs.offset), 0xff4f, name);
      assert.equal(cs.mainHeader.offset, cs.offset);
      assert.equal(be.u16(bytes, cs.offset + cs.mainHeader.length), 0xff90, `${name}: first SOT ends the main header`);
      let pos = cs.offset;
      for (const s of cs.mainSegments) {
        assert.equal(s.offset, pos, `${name}: main segments are contiguous`);
        pos += s.length;
      }
      assert.equal(pos, cs.offset + cs.mainHeader.length);
      assert.equal(be.u16(bytes, cs.end - 2), 0xffd9, `${name}: EOC at the end`);
      for (const tp of cs.tileParts) {
        let p = tp.sotOffset + 12;
        for (const s of tp.segments) {
          assert.equal(s.offset, p);
          p += s.length;
        }
        assert.equal(p + 2, tp.dataOffset, `${name}: segments run up to SOD`);
      }
    }
  }
});

test('gray1000 progression set: parameters passed to opj_compress', () => {
  const orders: Array<[string, Progression]> = [
    ['lrcp', Progression.LRCP],
    ['rlcp', Progression.RLCP],
    ['rpcl', Progression.RPCL],
    ['pcrl', Progression.PCRL],
    ['cprl', Progression.CPRL],
  ];
  for (const [name, prog] of orders) {
    const cs = scanRaw(load(`gray1000-${name}-p64-l4.j2k`));
    assert.deepEqual(
      [cs.siz.Xsiz, cs.siz.Ysiz, cs.siz.XOsiz, cs.siz.YOsiz, cs.siz.XTsiz, cs.siz.YTsiz, cs.siz.Csiz],
      [1000, 700, 0, 0, 1000, 700, 1],
    );
    assert.deepEqual(cs.siz.components, [{ precision: 8, signed: false, XRsiz: 1, YRsiz: 1 }]);
    assert.deepEqual(cs.cod, { sop: false, eph: false, progression: prog, layers: 4, mct: 0 });
    const s = cs.components[0];
    assert.equal(s.NL, 5);
    assert.equal(s.xcb, 6);
    assert.equal(s.ycb, 6);
    assert.equal(s.transform, 1);
    assert.equal(s.userPrecincts, true);
    // -c [64,64],[64,64],[32,32]: r5 = 64, r4 = 64, r3 = 32, then halved by OpenJPEG.
    assert.deepEqual(s.precincts.map((p) => [p.PPx, p.PPy]), [[2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [6, 6]]);
    assert.equal(cs.tileParts.length, 1);
    assert.deepEqual(cs.pocs, []);
  }
});

test('variants: irreversible, default precincts, EPH + TLM, MCT, subsampling, NL = 7', () => {
  const irr = scanRaw(load('gray1000-irrev97-rpcl-p128-l3.j2k'));
  assert.equal(irr.components[0].transform, 0);
  assert.equal(irr.cod.layers, 3);
  assert.deepEqual(irr.components[0].precincts.map((p) => p.PPx), [2, 3, 4, 5, 6, 7]);

  const def = scanRaw(load('gray257-n6-defprec-l2.j2k'));
  assert.equal(def.components[0].userPrecincts, false);
  assert.deepEqual(def.components[0].precincts, Array.from({ length: 6 }, () => ({ PPx: 15, PPy: 15 })));
  assert.equal(def.siz.Xsiz, 257);
  assert.equal(def.siz.Ysiz, 129);

  const eph = scanRaw(load('gray257-eph-tlm.j2k'));
  assert.equal(eph.cod.eph, true);
  assert.equal(eph.cod.progression, Progression.RLCP);
  assert.ok(eph.mainSegments.some((s) => s.code === 0xff55), 'TLM located in the main header');

  const rgb = scanRaw(load('rgb640-mct-pcrl-p64-l3.j2k'));
  assert.equal(rgb.siz.Csiz, 3);
  assert.equal(rgb.cod.mct, 1);
  assert.equal(rgb.cod.layers, 3);
  assert.equal(rgb.components.length, 3);

  const yuv = scanRaw(load('yuv420-cprl-p32.j2k'));
  assert.deepEqual(yuv.siz.components.map((c) => [c.XRsiz, c.YRsiz]), [[1, 1], [2, 2], [2, 2]]);
  assert.equal(yuv.cod.mct, 0);

  const big = scanTarget(new BufferSource(load('gray4096-rpcl-p128-l8.jp2'))).codestreams[0];
  assert.equal(big.siz.Xsiz, 4096);
  assert.equal(big.components[0].NL, 7);
  assert.equal(big.cod.layers, 8);
  assert.equal(big.cod.progression, Progression.RPCL);
  assert.deepEqual(big.components[0].precincts.map((p) => [p.PPx, p.PPy]), Array.from({ length: 8 }, () => [7, 7]));
});

test('tiled fixture with image and tile offsets: 5 x 3 tiles, one tile-part each', () => {
  const cs = scanRaw(load('gray1000-tiled-t256-off-pcrl.j2k'));
  const { siz } = cs;
  assert.deepEqual([siz.XOsiz, siz.YOsiz, siz.Xsiz, siz.Ysiz], [37, 23, 1037, 723]);
  assert.deepEqual([siz.XTOsiz, siz.YTOsiz, siz.XTsiz, siz.YTsiz], [10, 5, 256, 256]);
  assert.equal(tileCount(siz), 15);
  assert.deepEqual(cs.tileParts.map((tp) => tp.Isot), Array.from({ length: 15 }, (_, i) => i));
  assert.equal(cs.tiles.length, 15);
});

test('tile-parts split by resolution: 4 tiles x 6 parts, TPsot in order', () => {
  const cs = scanRaw(load('gray1000-t512-tpr-rpcl.j2k'));
  assert.equal(cs.tileParts.length, 24);
  for (let t = 0; t < 4; t++) {
    const parts = cs.tileParts.filter((tp) => tp.Isot === t);
    assert.deepEqual(parts.map((tp) => tp.TPsot), [0, 1, 2, 3, 4, 5]);
    assert.ok(parts.every((tp) => tp.TNsot === 6));
  }
});

test('POC in a tile-part header becomes the tile override', () => {
  const cs = scanRaw(load('gray1000-poc-rpcl-lrcp.j2k'));
  assert.deepEqual(cs.pocs, []);
  assert.deepEqual(cs.tiles[0].pocs, [
    { RSpoc: 0, CSpoc: 0, LYEpoc: 4, REpoc: 3, CEpoc: 1, Ppoc: Progression.RPCL },
    { RSpoc: 3, CSpoc: 0, LYEpoc: 4, REpoc: 6, CEpoc: 1, Ppoc: Progression.LRCP },
  ]);
  assert.ok(cs.tileParts[0].segments.some((s) => s.code === 0xff5f));
  assert.deepEqual(tileGeometry(cs, 0).pocs, cs.tiles[0].pocs);
});

test('scanning reads headers only, in bounded pieces', () => {
  const bytes = load('gray4096-rpcl-p128-l8.jp2');
  const src = new CountingSource(new BufferSource(bytes));
  scanTarget(src);
  assert.ok(src.largest <= 65535, `largest read ${src.largest}`);
  assert.ok(src.bytes < bytes.length / 20, `read ${src.bytes} of ${bytes.length} bytes`);
});

test('packed packet headers (PPT, PPM): every packet, header then body, equals the in-line original byte for byte', () => {
  const pairs: Array<[string, string]> = [
    ['gray1000-t512-tpr-noplt.j2k', 'gray1000-t512-tpr-ppt.j2k'],
    ['gray1000-t512-tpr-noplt.j2k', 'gray1000-t512-tpr-ppm.j2k'],
    ['gray257-sop-eph-lrcp-noplt.j2k', 'gray257-sop-eph-ppm.j2k'],
  ];
  for (const [plainName, packedName] of pairs) {
    const plainBytes = load(plainName);
    const packedBytes = load(packedName);
    const plain = scanRaw(plainBytes);
    const packed = scanRaw(packedBytes);
    const Nt = tileCount(plain.siz);
    const d1 = buildDirectory(Nt, plain.siz.Csiz, (t) => tileGeometry(plain, t));
    const d2 = buildDirectory(Nt, packed.siz.Csiz, (t) => tileGeometry(packed, t), PACKED_PIECES);
    assert.equal(d2.slotCount, d1.slotCount * PACKED_PIECES);
    const r1 = buildLevels(new BufferSource(plainBytes), plain, d1, (t) => tileGeometry(plain, t), 0, d1.levels - 1);
    const r2 = buildLevels(new BufferSource(packedBytes), packed, d2, (t) => tileGeometry(packed, t), 0, d2.levels - 1);
    let split = 0;
    for (let s = 0; s < d1.slotCount; s++) {
      const want = plainBytes.subarray(r1.offsets[s], r1.offsets[s] + r1.lengths[s]);
      const parts: Uint8Array[] = [];
      for (let k = 0; k < PACKED_PIECES; k++) {
        const j = s * PACKED_PIECES + k;
        parts.push(packedBytes.subarray(r2.offsets[j], r2.offsets[j] + r2.lengths[j]));
      }
      if (parts[1].length > 0) split++;
      assert.deepEqual(concatBytes(...parts), want, `${packedName}: packet slot ${s}`);
    }
    assert.ok(d1.slotCount > 50, `${packedName}: ${d1.slotCount} packets compared`);
    void split;
  }
});

/**
 * The PPM fixture with its Ippm stream re-cut into segments of `n` bytes (runs and Nppm fields then
 * straddle segments). `sameZ`: every Zppm 0 — past 256 segments; equal indices keep file order.
 */
function resplitPpm(n: number, sameZ = false): Uint8Array {
  const bytes = load('gray1000-t512-tpr-ppm.j2k');
  const cs = scanRaw(bytes);
  const ppm = cs.mainSegments.filter((x) => x.code === 0xff60);
  const data = concatBytes(...ppm.map((x) => bytes.subarray(x.offset + 5, x.offset + x.length)));
  const segs: Uint8Array[] = [];
  for (let at = 0, z = 0; at < data.length; at += n, z++) segs.push(seg(0xff60, [sameZ ? 0 : z, ...data.subarray(at, at + n)]));
  assert.ok(sameZ || segs.length <= 256);
  const kept = cs.mainSegments.filter((x) => x.code !== 0xff60).map((x) => bytes.subarray(x.offset, x.offset + x.length));
  return concatBytes(...kept, ...segs, bytes.subarray(cs.mainHeader.offset + cs.mainHeader.length));
}

test('packed packet headers: a header straddling two PPM segments is served from both; more is refused', () => {
  const plainBytes = load('gray1000-t512-tpr-noplt.j2k');
  const plain = scanRaw(plainBytes);
  const d1 = buildDirectory(tileCount(plain.siz), plain.siz.Csiz, (t) => tileGeometry(plain, t));
  const r1 = buildLevels(new BufferSource(plainBytes), plain, d1, (t) => tileGeometry(plain, t), 0, d1.levels - 1);
  const build = (b: Uint8Array) => {
    const l = scanRaw(b);
    const d = buildDirectory(tileCount(l.siz), l.siz.Csiz, (t) => tileGeometry(l, t), PACKED_PIECES);
    return buildLevels(new BufferSource(b), l, d, (t) => tileGeometry(l, t), 0, d.levels - 1);
  };
  const bytes = resplitPpm(211);
  const r2 = build(bytes);
  let straddling = 0;
  for (let s = 0; s < d1.slotCount; s++) {
    const parts = [0, 1, 2].map((k) => bytes.subarray(r2.offsets[3 * s + k], r2.offsets[3 * s + k] + r2.lengths[3 * s + k]));
    if (parts[1].length > 0) straddling++;
    assert.deepEqual(concatBytes(...parts), plainBytes.subarray(r1.offsets[s], r1.offsets[s] + r1.lengths[s]), `packet slot ${s}`);
  }
  assert.ok(straddling > 5, `${straddling} headers straddle two segments`);
  // Segments of 4 bytes: headers span three or more of them.
  assert.throws(() => build(resplitPpm(4, true)), fails('ERR_IMAGE_UNSUPPORTED'));
});

test('packed packet headers: a PPM run per tile-part, never both PPM and PPT', () => {
  const bytes = load('gray1000-t512-tpr-ppm.j2k');
  const cs = scanRaw(bytes);
  const dir = buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t), PACKED_PIECES);
  const build = (b: Uint8Array): unknown => {
    const l = scanRaw(b);
    return buildLevels(new BufferSource(b), l, dir, (t) => tileGeometry(l, t), 0, dir.levels - 1);
  };
  build(bytes);
  // Nppm of the first tile-part one byte too long: the runs no longer fit the tile-parts.
  const ppm = cs.mainSegments.find((s) => s.code === 0xff60)!;
  const longer = bytes.slice();
  put.u32(longer, ppm.offset + 5, be.u32(bytes, ppm.offset + 5) + 1);
  assert.throws(() => build(longer), fails('ERR_IMAGE_CORRUPT'));
});

test('refused fixtures: truncation is corrupt; files without PLT and with SOP scan', () => {
  assert.equal(scanRaw(load('gray1000-noplt.j2k')).tileParts[0].plt.length, 0);
  assert.equal(scanRaw(load('gray257-sop.j2k')).cod.sop, true);
  assert.throws(() => scanRaw(load('gray257-truncated.j2k')), fails('ERR_IMAGE_CORRUPT'));
});

/** A single-tile codestream split into pieces so tests can rebuild variants of it. */
interface Parts {
  main: Uint8Array;
  sot: Uint8Array;
  segs: Uint8Array[];
  data: Uint8Array;
}

function split(bytes: Uint8Array): Parts {
  const cs = scanRaw(bytes);
  const tp = cs.tileParts[0];
  return {
    main: bytes.slice(0, cs.mainHeader.length),
    sot: bytes.slice(tp.sotOffset, tp.sotOffset + 12),
    segs: tp.segments.map((s) => bytes.slice(s.offset, s.offset + s.length)),
    data: bytes.slice(tp.dataOffset, tp.dataEnd),
  };
}

/** One tile-part: SOT (Psot recomputed unless psot is given), segments, SOD, data. */
function tilePart(p: Parts, segs: Uint8Array[], data: Uint8Array, opts: { TPsot?: number; TNsot?: number; psot?: number } = {}): Uint8Array {
  const sot = p.sot.slice();
  const body = concatBytes(...segs, Uint8Array.of(0xff, 0x93), data);
  put.u32(sot, 6, opts.psot ?? 12 + body.length);
  if (opts.TPsot !== undefined) sot[10] = opts.TPsot;
  if (opts.TNsot !== undefined) sot[11] = opts.TNsot;
  return concatBytes(sot, body);
}

const EOC = Uint8Array.of(0xff, 0xd9);
const seg = (code: number, body: number[]): Uint8Array => {
  const out = new Uint8Array(4 + body.length);
  put.u16(out, 0, code);
  put.u16(out, 2, 2 + body.length);
  out.set(body, 4);
  return out;
};

test('rebuilt variants: Psot = 0, missing EOC, tile COD/COC overrides', () => {
  const p = split(load('gray257-n6-defprec-l2.j2k'));
  const base = scanRaw(concatBytes(p.main, tilePart(p, p.segs, p.data), EOC));

  const zero = concatBytes(p.main, tilePart(p, p.segs, p.data, { psot: 0 }), EOC);
  const z = scanRaw(zero);
  assert.equal(z.tileParts[0].dataEnd, zero.length - 2);
  assert.equal(z.end, zero.length);

  const noEoc = concatBytes(p.main, tilePart(p, p.segs, p.data));
  const n = scanRaw(noEoc);
  assert.equal(n.end, noEoc.length);
  assert.equal(n.tileParts[0].dataEnd, noEoc.length);

  // tile COD: RPCL, 2 layers, NL 3, precincts 2^4 everywhere; tile COC for component 0: NL 2, default precincts.
  const cod = seg(0xff52, [0x01, 0x02, 0x00, 0x02, 0x00, 3, 4, 4, 0, 1, 0x44, 0x44, 0x44, 0x44]);
  const withCod = scanRaw(concatBytes(p.main, tilePart(p, [cod, ...p.segs], p.data), EOC));
  assert.deepEqual(withCod.tiles[0].cod, { sop: false, eph: false, progression: Progression.RPCL, layers: 2, mct: 0 });
  assert.equal(withCod.tiles[0].components![0].NL, 3);
  assert.deepEqual(withCod.tiles[0].components![0].precincts[3], { PPx: 4, PPy: 4 });
  assert.deepEqual(withCod.components, base.components, 'main-header styles unchanged');
  const g = tileGeometry(withCod, 0);
  assert.equal(g.progression, Progression.RPCL);
  assert.equal(g.components[0].resolutions.length, 4);

  // reserved bare markers 0xff30..0xff3f have no segment and are skipped (15444-1 A.1.4)
  const bare = Uint8Array.of(0xff, 0x30);
  const withBare = scanRaw(concatBytes(p.main.subarray(0, 59), bare, p.main.subarray(59), tilePart(p, [bare, ...p.segs], p.data), EOC));
  assert.deepEqual(withBare.mainSegments[3], { code: 0xff30, offset: 59, length: 2 });
  assert.equal(withBare.tileParts[0].segments[0].code, 0xff30);
  assert.equal(withBare.tileParts[0].plt.length, 1);

  const coc = seg(0xff53, [0, 0x00, 2, 4, 4, 0, 1]);
  const withCoc = scanRaw(concatBytes(p.main, tilePart(p, [cod, coc, ...p.segs], p.data), EOC));
  assert.equal(withCoc.tiles[0].components![0].NL, 2, 'tile COC beats tile COD');
  assert.equal(withCoc.tiles[0].components![0].userPrecincts, false);
});

test('rebuilt variants that must be refused', () => {
  const p = split(load('gray257-n6-defprec-l2.j2k'));
  const corruptCase = (bytes: Uint8Array) => assert.throws(() => scanRaw(bytes), fails('ERR_IMAGE_CORRUPT'));
  const unsupportedCase = (bytes: Uint8Array) => assert.throws(() => scanRaw(bytes), fails('ERR_IMAGE_UNSUPPORTED'));
  const half = Math.floor(p.data.length / 2);
  const d1 = p.data.subarray(0, half);
  const d2 = p.data.subarray(half);
  const [plt] = p.segs;

  // PPT or PPM whose packed headers do not match the packet data, and both at once: they scan (the
  // headers are only decoded when indexing), then indexing refuses them.
  const indexCase = (bytes: Uint8Array): void => {
    const l = scanRaw(bytes);
    const d = buildDirectory(1, l.siz.Csiz, (t) => tileGeometry(l, t), PACKED_PIECES);
    assert.throws(() => buildLevels(new BufferSource(bytes), l, d, (t) => tileGeometry(l, t), 0, d.levels - 1), fails('ERR_IMAGE_CORRUPT'));
  };
  indexCase(concatBytes(p.main, tilePart(p, [seg(0xff61, [0, 1, 2]), ...p.segs], p.data), EOC));
  indexCase(concatBytes(p.main, seg(0xff60, [0, 1, 2]), tilePart(p, p.segs, p.data), EOC));
  indexCase(concatBytes(p.main, seg(0xff60, [0, 0, 0, 0, 0]), tilePart(p, [seg(0xff61, [0, 0]), ...p.segs], p.data), EOC));
  void unsupportedCase;
  // a second tile-part without PLT, the split cutting a packet: scans, but indexing finds the cut
  const cutBytes = concatBytes(p.main, tilePart(p, [plt], d1, { TNsot: 2 }), tilePart(p, [], d2, { TPsot: 1, TNsot: 2 }), EOC);
  const cut = scanRaw(cutBytes);
  assert.equal(cut.tileParts[1].plt.length, 0);
  const dir = buildDirectory(1, cut.siz.Csiz, (t) => tileGeometry(cut, t));
  assert.throws(() => buildLevels(new BufferSource(cutBytes), cut, dir, (t) => tileGeometry(cut, t), 0, dir.levels - 1), fails('ERR_IMAGE_CORRUPT'));
  // tile-parts out of order
  corruptCase(concatBytes(p.main, tilePart(p, [plt], d1, { TPsot: 1 }), tilePart(p, [plt], d2, { TPsot: 0 }), EOC));
  // COD in a later tile-part
  const cod = seg(0xff52, [0x00, 0x00, 0x00, 0x02, 0x00, 5, 4, 4, 0, 1]);
  corruptCase(concatBytes(p.main, tilePart(p, [plt], d1), tilePart(p, [cod, plt], d2, { TPsot: 1 }), EOC));
  // Psot shorter than SOT + SOD, and Psot past the end
  corruptCase(concatBytes(p.main, tilePart(p, p.segs, p.data, { psot: 13 }), EOC));
  corruptCase(concatBytes(p.main, tilePart(p, p.segs, p.data, { psot: 12 + p.data.length + 200 }), EOC));
  // Isot beyond the tile count
  const badTile = concatBytes(p.main, tilePart(p, p.segs, p.data), EOC);
  put.u16(badTile, p.main.length + 4, 1);
  corruptCase(badTile);
  // a segment length running past the data
  const longSeg = concatBytes(p.main, tilePart(p, p.segs, p.data), EOC);
  put.u16(longSeg, p.main.length + 14, 0xfff0);
  corruptCase(longSeg);
  // garbage instead of a marker in the main header
  const garbage = concatBytes(p.main.subarray(0, 45), Uint8Array.of(0x12, 0x34, 0, 4), p.main.subarray(45), tilePart(p, p.segs, p.data), EOC);
  corruptCase(garbage);
  // SOC not followed by SIZ (COD first)
  corruptCase(concatBytes(p.main.subarray(0, 2), p.main.subarray(45), tilePart(p, p.segs, p.data), EOC));
  // main header without COD
  corruptCase(concatBytes(p.main.subarray(0, 45), p.main.subarray(59), tilePart(p, p.segs, p.data), EOC));
  // a tile without any tile-part (SIZ rewritten to 2 tiles across)
  const twoTiles = concatBytes(p.main, tilePart(p, p.segs, p.data), EOC);
  put.u32(twoTiles, 24, 200); // SIZ XTsiz (SOC 2 + marker 2 + Lsiz 2 + Rsiz 2 + 4 x 4) = 200 < Xsiz = 257
  corruptCase(twoTiles);
});
