import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSource } from '../../src/bytes/source.js';
import { CLASS_MAIN_HEADER, CLASS_PRECINCT, CLASS_TILE_HEADER, JppError } from '../../src/bytes/jpp.js';
import { scanCodestream } from '../../src/j2k/codestream.js';
import { precinctBinId, tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { packetOrder } from '../../src/j2k/progression.js';
import { decodePltLengths } from '../../src/j2k/plt.js';
import type { CodestreamLayout } from '../../src/j2k/types.js';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { decodeJ2k, decodeWithOpjDecompress, type DecodedImage } from '../helpers/openjpeg.js';

const FIX = new URL('../fixtures/', import.meta.url);
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));

/** One precinct's packets read straight from the file, with where they belong. */
interface PrecinctBin {
  t: number;
  c: number;
  r: number;
  id: number;
  bytes: Uint8Array;
  /** The bin's packets, layer 0 first. */
  packets: Uint8Array[];
}

/**
 * The "perfect cache" contents of a raw codestream: main header as in the file, each tile's tile-part
 * header segments as in the file (PLT and POC included, for the reassembler to drop), and every
 * precinct's packets located by walking the PLT lengths in the file's own packet order.
 */
function binsFromFile(file: Uint8Array): { layout: CodestreamLayout; main: Uint8Array; tileHeaders: Uint8Array[]; precincts: PrecinctBin[] } {
  const layout = scanCodestream(new BufferSource(file), 0, file.length);
  const Nt = tileCount(layout.siz);
  const Nc = layout.siz.Csiz;
  const main = file.subarray(layout.mainHeader.offset, layout.mainHeader.offset + layout.mainHeader.length);
  const tileHeaders: Uint8Array[] = [];
  const precincts: PrecinctBin[] = [];
  for (let t = 0; t < Nt; t++) {
    const parts = layout.tileParts.filter((tp) => tp.Isot === t);
    tileHeaders.push(Buffer.concat(parts.flatMap((tp) => tp.segments.map((s) => file.subarray(s.offset, s.offset + s.length)))));
    const data = Buffer.concat(parts.map((tp) => file.subarray(tp.dataOffset, tp.dataEnd)));
    const lengths: number[] = [];
    for (const tp of parts) for (const p of tp.plt) decodePltLengths(file.subarray(p.offset, p.offset + p.length), (n) => void lengths.push(n));
    const g = tileGeometry(layout, t);
    const order = packetOrder(g);
    assert.equal(lengths.length, order.length, `tile ${t}: PLT lists one length per packet`);
    const byId = new Map<number, { bin: PrecinctBin; chunks: Uint8Array[] }>();
    let pos = 0;
    for (let i = 0; i < order.length; i++) {
      const c = order.component[i];
      const r = order.resolution[i];
      const s = g.components[c].resolutions[r].precinctBase + order.precinct[i];
      const id = precinctBinId(t, c, s, Nc, Nt);
      let e = byId.get(id);
      if (!e) {
        e = { bin: { t, c, r, id, bytes: new Uint8Array(0), packets: [] }, chunks: [] };
        byId.set(id, e);
      }
      assert.equal(order.layer[i], e.chunks.length, 'packets of a precinct come in layer order');
      e.chunks.push(data.subarray(pos, pos + lengths[i]));
      pos += lengths[i];
    }
    assert.equal(pos, data.length, `tile ${t}: PLT lengths cover the tile data`);
    for (const { bin, chunks } of byId.values()) precincts.push({ ...bin, bytes: Buffer.concat(chunks), packets: chunks });
  }
  return { layout, main, tileHeaders, precincts };
}

function cacheFrom(bins: ReturnType<typeof binsFromFile>, keep: (p: PrecinctBin) => boolean = () => true): DataBinCache {
  const cache = new DataBinCache();
  cache.add({ cls: CLASS_MAIN_HEADER, codestream: 0, id: 0, offset: 0, complete: true, body: bins.main });
  bins.tileHeaders.forEach((h, t) => cache.add({ cls: CLASS_TILE_HEADER, codestream: 0, id: t, offset: 0, complete: true, body: h }));
  for (const p of bins.precincts) {
    if (keep(p)) cache.add({ cls: CLASS_PRECINCT, codestream: 0, id: p.id, offset: 0, complete: true, body: p.bytes });
  }
  return cache;
}

function assertSameImage(got: DecodedImage, want: DecodedImage, what: string): void {
  assert.deepEqual(
    { w: got.width, h: got.height, c: got.components, b: got.bitsPerSample },
    { w: want.width, h: want.height, c: want.components, b: want.bitsPerSample },
    what,
  );
  assert.ok(Buffer.from(got.pixels.buffer, got.pixels.byteOffset, got.pixels.byteLength).equals(
    Buffer.from(want.pixels.buffer, want.pixels.byteOffset, want.pixels.byteLength),
  ), `${what}: pixels differ`);
}

const FIXTURES = [
  'gray1000-rpcl-p64-l4.j2k',
  'gray1000-lrcp-p64-l4.j2k',
  'gray1000-pcrl-p64-l4.j2k',
  'gray1000-rlcp-p64-l4.j2k',
  'gray1000-cprl-p64-l4.j2k',
  'gray1000-tiled-t256-off-pcrl.j2k',
  'gray1000-t512-tpr-rpcl.j2k',
  'gray1000-poc-rpcl-lrcp.j2k',
  'rgb640-mct-pcrl-p64-l3.j2k',
  'gray1000-irrev97-rpcl-p128-l3.j2k',
  'gray257-eph-tlm.j2k',
  'gray257-n6-defprec-l2.j2k',
  'yuv420-rpcl-p32.j2k',
  'yuv420-cprl-p32.j2k',
];

for (const name of FIXTURES) {
  test(`perfect cache of ${name} reassembles to the same pixels`, async () => {
    const file = load(name);
    const bins = binsFromFile(file);
    const rebuilt = reassembleCodestream(cacheFrom(bins), 0);
    assertSameImage(await decodeJ2k(rebuilt), await decodeJ2k(file), name);
  });

  test(`${name} without its highest resolution decodes like the original at reduce=1`, async () => {
    const file = load(name);
    const bins = binsFromFile(file);
    const NL = (p: PrecinctBin): number => tileGeometry(bins.layout, p.t).components[p.c].resolutions.length - 1;
    const dropped = bins.precincts.filter((p) => p.r === NL(p)).length;
    assert.ok(dropped > 0);
    const rebuilt = reassembleCodestream(cacheFrom(bins, (p) => p.r < NL(p)), 0);
    assertSameImage(await decodeJ2k(rebuilt, 1), await decodeJ2k(file, 1), `${name} reduce=1`);
  });
}

/**
 * A minimal independent walk of a codestream's markers (15444-1 A.4): main-header marker codes, the
 * SGcod progression byte of each COD, and each tile-part's SOT fields, header codes and data range.
 * (scanCodestream cannot be used: the rebuilt codestream deliberately has no PLT.)
 */
function walk(cs: Uint8Array) {
  const u16 = (p: number): number => cs[p] * 256 + cs[p + 1];
  const u32 = (p: number): number => u16(p) * 65536 + u16(p + 2);
  assert.equal(u16(0), 0xff4f); // SOC
  const mainCodes: number[] = [];
  const progressions: number[] = [];
  let pos = 2;
  while (u16(pos) !== 0xff90) {
    mainCodes.push(u16(pos));
    if (u16(pos) === 0xff52) progressions.push(cs[pos + 5]); // COD
    pos += 2 + u16(pos + 2);
  }
  const tileParts: Array<{ Isot: number; TPsot: number; TNsot: number; Lsot: number; codes: number[]; data: Uint8Array }> = [];
  while (u16(pos) === 0xff90) {
    const Psot = u32(pos + 6);
    const codes: number[] = [];
    let p = pos + 12;
    while (u16(p) !== 0xff93) {
      codes.push(u16(p));
      if (u16(p) === 0xff52) progressions.push(cs[p + 5]);
      p += 2 + u16(p + 2);
    }
    tileParts.push({ Isot: u16(pos + 4), TPsot: cs[pos + 10], TNsot: cs[pos + 11], Lsot: u16(pos + 2), codes, data: cs.subarray(p + 2, pos + Psot) });
    pos += Psot;
  }
  assert.equal(u16(pos), 0xffd9); // EOC
  assert.equal(pos + 2, cs.length);
  return { mainCodes, progressions, tileParts };
}

test('the reassembled codestream is RPCL, one tile-part per tile, no TLM/PLT/POC, ends with EOC', () => {
  for (const name of ['gray1000-poc-rpcl-lrcp.j2k', 'gray1000-t512-tpr-rpcl.j2k', 'gray1000-tiled-t256-off-pcrl.j2k']) {
    const bins = binsFromFile(load(name));
    const w = walk(reassembleCodestream(cacheFrom(bins), 0));
    assert.ok(w.progressions.length > 0 && w.progressions.every((p) => p === 2), `${name}: RPCL`);
    assert.equal(w.tileParts.length, tileCount(bins.layout.siz));
    w.tileParts.forEach((tp, t) => {
      assert.deepEqual([tp.Isot, tp.TPsot, tp.TNsot, tp.Lsot], [t, 0, 1, 10]);
      for (const dropped of [0xff58, 0xff5f]) assert.ok(!tp.codes.includes(dropped), `${name}: PLT/POC dropped`);
    });
    for (const dropped of [0xff55, 0xff57, 0xff5f]) assert.ok(!w.mainCodes.includes(dropped), `${name}: TLM/PLM/POC dropped`);
  }
  // the POC fixture really had a POC and PLTs to drop
  const poc = binsFromFile(load('gray1000-poc-rpcl-lrcp.j2k'));
  assert.ok(poc.layout.tileParts.some((tp) => tp.segments.some((s) => s.code === 0xff5f)));
});

test('TLM is dropped from the main header; EPH empty packets carry the EPH marker', () => {
  const file = load('gray257-eph-tlm.j2k');
  const bins = binsFromFile(file);
  assert.ok(bins.layout.mainSegments.some((s) => s.code === 0xff55));
  const w = walk(reassembleCodestream(cacheFrom(bins, () => false), 0));
  assert.ok(!w.mainCodes.includes(0xff55));
  const data = w.tileParts[0].data;
  const packets = packetOrder(tileGeometry(bins.layout, 0)).length;
  assert.equal(data.length, 3 * packets);
  for (let i = 0; i < data.length; i += 3) assert.deepEqual([...data.subarray(i, i + 3)], [0x00, 0xff, 0x92]);
});

test('incomplete precinct bins give their whole packets: the image of the layers that arrived', async () => {
  // Every precinct holds its first two of four layers, plus a few bytes of the third (a cut by `len`).
  const file = load('gray1000-lrcp-p64-l4.j2k');
  const bins = binsFromFile(file);
  const partial = cacheFrom(bins, () => false);
  const exact = cacheFrom(bins, () => false);
  for (const p of bins.precincts) {
    const two = Buffer.concat(p.packets.slice(0, 2));
    const cut = Buffer.concat([two, p.packets[2].subarray(0, Math.min(3, p.packets[2].length - 1))]);
    partial.add({ cls: CLASS_PRECINCT, codestream: 0, id: p.id, offset: 0, complete: false, body: cut });
    exact.add({ cls: CLASS_PRECINCT, codestream: 0, id: p.id, offset: 0, complete: false, body: two });
  }
  const rebuilt = reassembleCodestream(partial, 0);
  assert.deepEqual(rebuilt, reassembleCodestream(exact, 0), 'the cut bytes of the third packet are left out');
  // OpenJPEG decoding the original with two layers sees exactly the same coefficients.
  assertSameImage(await decodeJ2k(rebuilt), await decodeJ2k(file, 0, 2), 'two layers');
  // And a bin with only part of its first packet contributes nothing, like an absent one.
  const first = cacheFrom(bins, () => false);
  for (const p of bins.precincts) first.add({ cls: CLASS_PRECINCT, codestream: 0, id: p.id, offset: 0, complete: false, body: p.packets[0].subarray(0, p.packets[0].length - 1) });
  assert.deepEqual(reassembleCodestream(first, 0), reassembleCodestream(cacheFrom(bins, () => false), 0));
});

test('an empty cache for a codestream is refused; missing tile headers still give a decodable image', async () => {
  assert.throws(() => reassembleCodestream(new DataBinCache(), 0), (e: unknown) => e instanceof JppError && e.code === 'ERR_JPP_MISSING');
  const file = load('gray1000-tiled-t256-off-pcrl.j2k');
  const bins = binsFromFile(file);
  const cache = cacheFrom(bins);
  cache.delete({ cls: CLASS_TILE_HEADER, codestream: 0, id: 3 });
  const img = await decodeJ2k(reassembleCodestream(cache, 0));
  assert.equal(img.width, bins.layout.siz.Xsiz - bins.layout.siz.XOsiz);
});

test('opj_decompress agrees on a reassembled codestream (skipped when not installed)', async (t) => {
  const name = 'rgb640-mct-pcrl-p64-l3.j2k';
  const dir = mkdtempSync(join(tmpdir(), 'jpipd-reasm-'));
  try {
    const rebuilt = reassembleCodestream(cacheFrom(binsFromFile(load(name))), 0);
    const out = join(dir, 'rebuilt.j2k');
    writeFileSync(out, rebuilt);
    const got = await decodeWithOpjDecompress(out, 1);
    if (got === null) return t.skip('opj_decompress not installed');
    const want = await decodeWithOpjDecompress(new URL(name, FIX).pathname, 1);
    assertSameImage(got, want as DecodedImage, 'opj_decompress -r 1');
    assertSameImage(got, await decodeJ2k(rebuilt, 1), 'opj_decompress vs wasm');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
