/**
 * Packet-header decoding (j2k/packet-header.ts) against the PLT lists the encoder wrote: for every
 * packet of every tile of every committed fixture with PLT, the length found by decoding packet
 * headers equals PLT's. The fixtures cover the five progressions, POC, tiles with offsets,
 * tile-parts, EPH, 9/7, several components and subsampling; a file without PLT is indexed to the
 * same records as the same image with PLT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BufferSource } from '../../src/bytes/source.js';
import { JpipdError } from '../../src/errors.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { BitReader, TagTree, TilePacketHeaders, precinctCodeBlocks } from '../../src/j2k/packet-header.js';
import { decodePltLengths, encodePltLengths } from '../../src/j2k/plt.js';
import { LengthsFile } from '../../src/io/lengths-cache.js';
import { packetOrder } from '../../src/j2k/progression.js';
import type { CodestreamLayout } from '../../src/j2k/types.js';
import { buildLevels } from '../../src/packet-index/builder.js';
import { buildDirectory } from '../../src/packet-index/directory.js';

const FIX = new URL('../fixtures/', import.meta.url);
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));
const BROKEN = new Set(['gray257-truncated.j2k', 'corrupt-boxlen.jp2', 'two-jp2c.jp2']);
const ALL = readdirSync(FIX).filter((f) => /\.(j2k|jp2|jpx)$/.test(f) && !BROKEN.has(f) && !/-pp[mt]\./.test(f)).sort();
const WITHOUT_PLT = ALL.filter((f) => /noplt|htj2k/.test(f));
const WITH_PLT = ALL.filter((f) => !WITHOUT_PLT.includes(f));

/** Lengths of tile t's packets from its PLT lists, in codestream order. */
function pltLengths(src: BufferSource, cs: CodestreamLayout, t: number): number[] {
  const out: number[] = [];
  for (const tp of cs.tileParts) if (tp.Isot === t) for (const plt of tp.plt) decodePltLengths(src.read(plt.offset, plt.length), (len) => void out.push(len));
  return out;
}

/** Lengths of tile t's packets found by decoding their headers, in codestream order. */
function headerLengths(src: BufferSource, cs: CodestreamLayout, t: number): number[] {
  const tile = tileGeometry(cs, t);
  const order = packetOrder(tile);
  const headers = new TilePacketHeaders(tile, cs.tiles[t]?.cod ?? cs.cod, src);
  const out: number[] = [];
  let n = 0;
  for (const tp of cs.tileParts) {
    if (tp.Isot !== t) continue;
    let pos = tp.dataOffset;
    while (pos < tp.dataEnd) {
      assert.ok(n < order.length, `more packets in tile ${t} than its progression has`);
      const len = headers.packetLength(pos, tp.dataEnd, order.layer[n], order.resolution[n], order.component[n], order.precinct[n]);
      out.push(len);
      pos += len;
      n++;
    }
    assert.equal(pos, tp.dataEnd, `tile ${t} part ${tp.TPsot}: packets end where the tile-part ends`);
  }
  assert.equal(headers.open, 0, 'every precinct reached its last layer');
  return out;
}

test('packet lengths from packet headers equal the PLT lists, packet for packet, in every fixture', () => {
  assert.ok(WITH_PLT.length >= 20, `expected the committed fixtures, found ${WITH_PLT.length}`);
  let packets = 0;
  for (const name of WITH_PLT) {
    const bytes = load(name);
    const src = new BufferSource(bytes);
    for (const [i, cs] of scanTarget(src).codestreams.entries()) {
      for (let t = 0; t < tileCount(cs.siz); t++) {
        const want = pltLengths(src, cs, t);
        const got = headerLengths(src, cs, t);
        assert.deepEqual(got, want, `${name} codestream ${i} tile ${t}`);
        packets += want.length;
      }
    }
  }
  assert.ok(packets > 10_000, `compared ${packets} packets`);
});

test('every fixture without PLT (five progressions, POC, tiles, tile-parts, SOP, EPH, bypass, RGB, HTJ2K): its packets cover each tile-part exactly', () => {
  assert.ok(WITHOUT_PLT.length >= 10, `found ${WITHOUT_PLT.length}`);
  for (const name of WITHOUT_PLT) {
    const src = new BufferSource(load(name));
    for (const cs of scanTarget(src).codestreams) {
      assert.ok(cs.tileParts.every((tp) => tp.plt.length === 0), `${name} has no PLT`);
      for (let t = 0; t < tileCount(cs.siz); t++) {
        const lens = headerLengths(src, cs, t);
        assert.equal(lens.length, packetOrder(tileGeometry(cs, t)).length, `${name} tile ${t}: one length per packet`);
      }
    }
  }
});

test('a file without PLT is indexed to the records of the same image with PLT', () => {
  const withPlt = load('gray1000-rpcl-p64-l4.j2k');
  const without = load('gray1000-noplt.j2k');
  const a = scanTarget(new BufferSource(withPlt)).codestreams[0];
  const b = scanTarget(new BufferSource(without)).codestreams[0];
  assert.equal(b.tileParts[0].plt.length, 0, 'the fixture really has no PLT');
  const index = (bytes: Uint8Array, cs: CodestreamLayout) => {
    const dir = buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t));
    const recs = buildLevels(new BufferSource(bytes), cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1);
    // Offsets relative to the tile data, as the two files' headers differ in length.
    const base = cs.tileParts[0].dataOffset;
    return { offsets: Array.from(recs.offsets, (o) => o - base), lengths: Array.from(recs.lengths) };
  };
  const x = index(withPlt, a);
  const y = index(without, b);
  assert.deepEqual(y.lengths, x.lengths);
  assert.deepEqual(y.offsets, x.offsets);
  // And the packet bytes are the same bytes.
  const da = withPlt.subarray(a.tileParts[0].dataOffset, a.tileParts[0].dataEnd);
  const db = without.subarray(b.tileParts[0].dataOffset, b.tileParts[0].dataEnd);
  assert.deepEqual(Buffer.from(db), Buffer.from(da));
});

test('a low resolution of a resolution-major file without PLT reads only the headers it needs', () => {
  const bytes = load('gray1000-noplt.j2k');
  let read = 0;
  const inner = new BufferSource(bytes);
  const src = { size: inner.size, read: (o: number, n: number) => ((read += n), inner.read(o, n)), readInto: inner.readInto.bind(inner) };
  const cs = scanTarget(inner).codestreams[0];
  const dir = buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t));
  const recs = buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, 1);
  assert.ok(recs.lengths.every((n) => n > 0));
  // The RPCL file's resolutions 0 and 1 are its first packets: a few hundred bytes, read in one chunk.
  assert.ok(read <= 70_000, `read ${read} bytes`);
  const all = buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1);
  assert.equal(all.lengths.length, dir.slotCount);
});

test('the bit reader skips the stuffed bit after 0xFF and the stuffed byte at the end of a header', () => {
  // 0xFF then 0x7F: 8 ones, then 7 bits of 0x7F (the stuffed MSB is not data).
  const b = new BitReader(new BufferSource(new Uint8Array([0xff, 0x7f, 0x00, 0xaa])));
  b.start(0, 4);
  assert.equal(b.bits(8), 0xff);
  assert.equal(b.bits(7), 0x7f);
  assert.equal(b.align(), 2);
  const c = new BitReader(new BufferSource(new Uint8Array([0xff, 0x00, 0x55])));
  c.start(0, 3);
  c.bits(3);
  assert.equal(c.align(), 2, 'a header ending in 0xFF is followed by a stuffed byte');
  const d = new BitReader(new BufferSource(new Uint8Array([0x80])));
  d.start(0, 1);
  d.bits(8);
  assert.throws(() => d.bit(), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_CORRUPT');
});

test('tag trees decode what a plain B.10.2 encoder writes', () => {
  // The leaves of Figure B.13 of 15444-1 (3×2), coded by the reference encoder below.
  const values = [1, 3, 2, 2, 2, 1];
  const bits: number[] = [];
  const tree = buildReference(3, 2, values);
  for (let i = 0; i < values.length; i++) tree.encode(i, 99, bits);
  const bytes = packBits(bits);
  const r = new BitReader(new BufferSource(bytes));
  r.start(0, bytes.length);
  const t = new TagTree(3, 2);
  for (let i = 0; i < values.length; i++) assert.equal(t.decodeValue(r, i, 98), values[i], `leaf ${i}`);
});

test('precinct code-block grids follow the subband and precinct partition (B.6, B.7)', () => {
  const cs = scanTarget(new BufferSource(load('gray1000-rpcl-p64-l4.j2k'))).codestreams[0];
  const tc = tileGeometry(cs, 0).components[0];
  // 1000×700, NL 5, 64² code-blocks; resolution 5 has 64² precincts = 32² in each subband: one code-block.
  assert.deepEqual(precinctCodeBlocks(tc, 5, 0), [{ w: 1, h: 1 }, { w: 1, h: 1 }, { w: 1, h: 1 }]);
  // Resolution 0 (LL of 32×22 samples) with 4² precincts: one 4×4 code-block each.
  assert.deepEqual(precinctCodeBlocks(tc, 0, 0), [{ w: 1, h: 1 }]);
});

/** A plain tag-tree encoder (15444-1 B.10.2) for the test: values known, emitted against a threshold. */
function buildReference(w: number, h: number, leaves: number[]) {
  const levels: number[][] = [leaves.slice()];
  const dims: Array<[number, number]> = [[w, h]];
  while (dims[dims.length - 1][0] > 1 || dims[dims.length - 1][1] > 1) {
    const [a, b] = dims[dims.length - 1];
    const na = Math.ceil(a / 2);
    const nb = Math.ceil(b / 2);
    const up = new Array<number>(na * nb).fill(Infinity);
    const below = levels[levels.length - 1];
    for (let y = 0; y < b; y++) for (let x = 0; x < a; x++) up[(y >> 1) * na + (x >> 1)] = Math.min(up[(y >> 1) * na + (x >> 1)], below[y * a + x]);
    levels.push(up);
    dims.push([na, nb]);
  }
  const known = levels.map((l) => new Array<number>(l.length).fill(0)); // lower bound already sent
  const done = levels.map((l) => new Array<boolean>(l.length).fill(false));
  return {
    encode(leaf: number, threshold: number, out: number[]): void {
      const path: Array<[number, number]> = [];
      let x = leaf % w;
      let y = Math.floor(leaf / w);
      for (let k = 0; k < levels.length; k++) {
        path.push([k, y * dims[k][0] + x]);
        x >>= 1;
        y >>= 1;
      }
      let low = 0;
      for (let i = path.length - 1; i >= 0; i--) {
        const [k, n] = path[i];
        if (low > known[k][n]) known[k][n] = low;
        else low = known[k][n];
        while (low < threshold && !done[k][n]) {
          if (low >= levels[k][n]) {
            out.push(1);
            done[k][n] = true;
          } else {
            out.push(0);
            low++;
          }
        }
        known[k][n] = low;
      }
    },
  };
}

/** Packs bits MSB first with JPEG 2000 bit stuffing (a 0 bit after every 0xFF byte). */
function packBits(bits: number[]): Uint8Array {
  const out: number[] = [];
  let cur = 0;
  let n = 0;
  let room = 8;
  for (const b of bits) {
    cur = (cur << 1) | b;
    n++;
    if (n === room) {
      out.push(cur);
      room = cur === 0xff ? 7 : 8;
      cur = 0;
      n = 0;
    }
  }
  if (n > 0) out.push(cur << (room - n));
  out.push(0, 0, 0, 0);
  return new Uint8Array(out);
}

test('lengths learnt from packet headers are kept in the cache folder and used instead of decoding again', () => {
  const bytes = load('gray1000-noplt.j2k');
  const inner = new BufferSource(bytes);
  let read = 0;
  const src = { size: inner.size, read: (o: number, n: number) => ((read += n), inner.read(o, n)), readInto: inner.readInto.bind(inner) };
  const cs = scanTarget(inner).codestreams[0];
  const dir = buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t));
  const tmp = mkdtempSync(path.join(tmpdir(), 'jpipd-lengths-'));
  try {
    const stamp = { size: bytes.length, mtimeMs: 1234 };
    const first = buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1, new LengthsFile(tmp, 'a/b.j2k', stamp, 0));
    assert.ok(read > 0);
    assert.equal(readdirSync(tmp).filter((f) => f.endsWith('.len.json')).length, 1, 'one lengths file');
    // A new process (a fresh LengthsFile): the lengths come from the file, the image is not read.
    read = 0;
    const again = buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1, new LengthsFile(tmp, 'a/b.j2k', stamp, 0));
    assert.equal(read, 0, 'no packet header decoded again');
    assert.deepEqual(again.lengths, first.lengths);
    assert.deepEqual(again.offsets, first.offsets);
    // Another version of the file (mtime) does not use them.
    read = 0;
    buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1, new LengthsFile(tmp, 'a/b.j2k', { ...stamp, mtimeMs: 99 }, 0));
    assert.ok(read > 0);
    // Damaged lengths (one length off) are not trusted: the headers are decoded again, same records.
    const file = path.join(tmp, readdirSync(tmp).find((f) => f.endsWith('.len.json')) as string);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    const list = Buffer.from(json.tiles['0'][0], 'base64');
    list[list.length - 1] ^= 1;
    json.tiles['0'][0] = list.toString('base64');
    writeFileSync(file, JSON.stringify(json));
    read = 0;
    const repaired = buildLevels(src, cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1, new LengthsFile(tmp, 'a/b.j2k', stamp, 0));
    assert.ok(read > 0, 'decoded again');
    assert.deepEqual(repaired.lengths, first.lengths);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('PLT-coded length lists round-trip', () => {
  const lens = [0, 1, 127, 128, 16383, 16384, 2 ** 32 - 1];
  const out: number[] = [];
  decodePltLengths(encodePltLengths(lens), (n) => void out.push(n));
  assert.deepEqual(out, lens);
});

test('the header state held at once is bounded (layer-major orders open every precinct)', () => {
  const src = new BufferSource(load('gray1000-lrcp-noplt.j2k'));
  const cs = scanTarget(src).codestreams[0];
  const tile = tileGeometry(cs, 0);
  const order = packetOrder(tile);
  const walk = (max: number): void => {
    const h = new TilePacketHeaders(tile, cs.cod, src, max);
    let pos = cs.tileParts[0].dataOffset;
    for (let n = 0; n < order.length; n++) pos += h.packetLength(pos, cs.tileParts[0].dataEnd, order.layer[n], order.resolution[n], order.component[n], order.precinct[n]);
  };
  walk(1 << 22);
  assert.throws(() => walk(100), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_IMAGE_LIMIT' && /code-blocks at once/.test(e.message));
});
