import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLASS_MAIN_HEADER, CLASS_METADATA, CLASS_PRECINCT, EOR_BYTE_LIMIT, EOR_WINDOW_DONE } from '../../src/bytes/jpp.js';
import { BufferSource } from '../../src/bytes/source.js';
import { DataBinCache, type BinKey } from '../../src/client/databin-cache.js';
import { parseJppStream, type JppEvent, type JppMessage } from '../../src/client/jpp-parser.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { frameSize, precinctBinId, splitPrecinctBinId, tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { frameRegionToCanvas, tilePrecinctSpans, tilesInRegion } from '../../src/jpip/window.js';
import type { TargetLayout } from '../../src/j2k/types.js';
import { CacheModel } from '../../src/jpip/cache-model.js';
import { parseMetareq } from '../../src/jpip/metareq.js';
import { serve, type ServeRequest, type ServeResult, type TargetAccess } from '../../src/jpip/engine.js';
import { CodestreamIndex, slotCount } from '../../src/packet-index/codestream-index.js';
import { SharedPacketIndex } from '../../src/packet-index/shared-index.js';

const FIX = new URL('../fixtures/', import.meta.url);

/** A fixture opened for in-process serving, built like a front end does (shared index per codestream). */
interface Target {
  name: string;
  bytes: Uint8Array;
  layout: TargetLayout;
  access: TargetAccess;
  streams: CodestreamIndex[];
}

function openTarget(name: string): Target {
  const bytes = new Uint8Array(readFileSync(new URL(name, FIX)));
  const src = new BufferSource(bytes);
  const layout = scanTarget(src);
  const streams = layout.codestreams.map((cs) => new CodestreamIndex(cs, src, SharedPacketIndex.allocate(slotCount(cs)).sab));
  const access: TargetAccess = {
    layout,
    codestreamCount: layout.codestreams.length,
    targetSource: src,
    stream: (cs) => streams[cs],
  };
  return { name, bytes, layout, access, streams };
}

const targets = new Map<string, Target>();
const target = (name: string): Target => {
  let t = targets.get(name);
  if (!t) {
    t = openTarget(name);
    targets.set(name, t);
  }
  return t;
};

type Win = NonNullable<ServeRequest['window']>;
const win = (fx: number, fy: number, roff?: [number, number], rsiz?: [number, number]): Win => ({
  fx,
  fy,
  round: 'round-down',
  roff: roff && { x: roff[0], y: roff[1] },
  rsiz: rsiz && { x: rsiz[0], y: rsiz[1] },
});

function request(over: Partial<ServeRequest>): ServeRequest {
  return { codestreams: [0], comps: null, metadataOnly: false, ...over };
}

const messagesOf = (events: JppEvent[]): JppMessage[] => events.filter((e): e is JppMessage => e.kind === 'message');

/** Parses one response body: its messages and its single, final EOR. */
function parseResponse(r: ServeResult): { messages: JppMessage[]; eor: number } {
  const events = parseJppStream(r.body);
  assert.ok(events.length > 0);
  const last = events[events.length - 1];
  assert.equal(last.kind, 'eor', 'the EOR ends the response');
  assert.equal(events.filter((e) => e.kind === 'eor').length, 1, 'exactly one EOR');
  assert.equal(last.kind === 'eor' && last.reason, r.eor);
  return { messages: messagesOf(events), eor: r.eor };
}

/** (c) the first message of every response spells out class and codestream (indicator 3). */
function assertFirstIndicator3(r: ServeResult): void {
  if (r.body[0] !== 0x00) assert.equal(r.body[0] & 0x60, 0x60, 'first message uses indicator 3');
}

/** One response from an empty model, unlimited. */
function serveOnce(t: Target, req: ServeRequest, model = new CacheModel()): ServeResult {
  const r = serve(t.access, req, model);
  assertFirstIndicator3(r);
  return r;
}

function cacheOf(...responses: ServeResult[]): DataBinCache {
  const cache = new DataBinCache();
  for (const r of responses) for (const m of parseResponse(r).messages) cache.add(m);
  return cache;
}

const keyStr = (k: BinKey): string => `${k.cls}/${k.codestream}/${k.id}`;

/** Repeats `req` with budget `len` on one model (updated by each response), until the window is done. */
function continuation(t: Target, req: ServeRequest, len: number): { responses: ServeResult[]; cache: DataBinCache; model: CacheModel } {
  const model = new CacheModel();
  const cache = new DataBinCache();
  const responses: ServeResult[] = [];
  for (let round = 0; round < 200_000; round++) {
    const r = serve(t.access, { ...req, len }, model);
    assertFirstIndicator3(r);
    const before = cache.stats();
    const { messages } = parseResponse(r);
    for (const m of messages) cache.add(m);
    const after = cache.stats();
    responses.push(r);
    if (r.eor !== 4) return { responses, cache, model };
    // Every byte-limited response makes progress: new bytes, or a bin newly known complete.
    assert.ok(after.bytes > before.bytes || after.completeBins > before.completeBins || after.bins > before.bins, `no progress in response ${round} (len=${len})`);
    // The budget holds, except for the one message a tiny budget is allowed to force (notes §7.2).
    if (len >= 100) assert.ok(r.body.length - 3 <= len, `response of ${r.body.length - 3} bytes over len=${len}`);
    else assert.ok(r.body.length - 3 <= len + 80, `response of ${r.body.length - 3} bytes far over len=${len}`);
  }
  assert.fail('the window never completed');
}

/** Bin id → (t, c, r, p) using the tile geometry (15444-9 A.3.2.1). */
function locatePrecinct(t: Target, cs: number, id: number): { t: number; c: number; r: number; p: number } {
  const layout = t.layout.codestreams[cs];
  const { t: tile, c, s } = splitPrecinctBinId(id, layout.siz.Csiz, tileCount(layout.siz));
  const tc = t.streams[cs].tile(tile).components[c];
  for (const res of tc.resolutions) {
    if (s >= res.precinctBase && s < res.precinctBase + res.npx * res.npy) return { t: tile, c, r: res.r, p: s - res.precinctBase };
  }
  throw new Error(`precinct id ${id} has no precinct`);
}

/** File offsets and lengths of every layer's packet of one precinct, from the packet index. */
function packetsOf(t: Target, cs: number, id: number): { offsets: number[]; lengths: number[]; r: number; c: number } {
  const loc = locatePrecinct(t, cs, id);
  const s = t.streams[cs];
  const L = s.tile(loc.t).layers;
  const dir = s.directory;
  const base = dir.base[(loc.t * dir.Nc + loc.c) * dir.levels + loc.r];
  const slots = Int32Array.from({ length: L }, (_, l) => base + loc.p * L + l);
  const offsets = new Float64Array(L);
  const lengths = new Uint32Array(L);
  s.readPackets(loc.r, slots, L, offsets, lengths);
  return { offsets: [...offsets], lengths: [...lengths], r: loc.r, c: loc.c };
}

// ---------------------------------------------------------------- (a) len continuation

interface Case {
  file: string;
  req: Partial<ServeRequest>;
  lens: number[];
  wholeTarget?: boolean;
}

const CASES: Case[] = [
  { file: 'gray1000-lrcp-p64-l4.j2k', req: { window: win(125, 88) }, lens: [1, 7, 100, 1000, 5000] },
  { file: 'gray1000-lrcp-p64-l4.j2k', req: { window: win(1000, 700, [300, 200], [100, 80]) }, lens: [7, 100, 1000, 5000] },
  { file: 'gray1000-lrcp-p64-l4.j2k', req: { window: win(1000, 700) }, lens: [100, 1000, 5000], wholeTarget: true },
  { file: 'rgb96.jp2', req: { window: win(96, 64) }, lens: [1, 7, 100, 1000, 5000], wholeTarget: true },
  { file: 'frames3-128.jpx', req: { codestreams: [2, 0], window: win(64, 64, [10, 20], [30, 30]) }, lens: [7, 100, 1000] },
  { file: 'gray1000-tiled-t256-off-pcrl.j2k', req: { window: win(500, 350, [100, 100], [200, 120]) }, lens: [7, 100, 1000, 5000] },
  { file: 'gray1000-tiled-t256-off-pcrl.j2k', req: { window: win(1000, 700, [200, 100], [400, 300]), layers: 2 }, lens: [100, 5000] },
];

for (const c of CASES) {
  test(`(a) len continuation equals one unlimited response: ${c.file} ${JSON.stringify(c.req)}`, () => {
    const t = target(c.file);
    const req = request(c.req);
    const whole = serveOnce(t, req);
    const finalEor = c.wholeTarget ? 1 : 2;
    assert.equal(whole.eor, finalEor);
    const ref = cacheOf(whole);
    assert.ok(ref.stats().bytes > 0);
    for (const len of c.lens) {
      const { responses, cache, model } = continuation(t, req, len);
      assert.ok(responses.length > 1, `len=${len} cut the window`);
      responses.slice(0, -1).forEach((r) => assert.equal(r.eor, 4, `len=${len}: non-final responses end with EOR 4`));
      assert.equal(responses[responses.length - 1].eor, finalEor, `len=${len}: the last one with EOR ${finalEor}`);
      assert.deepEqual(cache.keys().map(keyStr).sort(), ref.keys().map(keyStr).sort(), `len=${len}: same data-bins`);
      for (const k of ref.keys()) {
        assert.deepEqual(cache.get(k), ref.get(k), `len=${len}: bytes of ${keyStr(k)}`);
        assert.equal(cache.ranges(k).length, ref.ranges(k).length, `len=${len}: no gap in ${keyStr(k)}`);
        assert.equal(cache.isComplete(k), ref.isComplete(k), `len=${len}: completeness of ${keyStr(k)}`);
      }
      const s = cache.stats();
      assert.equal(s.duplicateMessages, 0, `len=${len}: duplicate messages`);
      assert.equal(s.redundantBytes, 0, `len=${len}: redundant bytes`);
      assert.equal(s.bytes, ref.stats().bytes);
      // (d) the completed request asked again: a bare EOR.
      const again = serve(t.access, { ...req, len }, model);
      assert.deepEqual([...again.body], [0x00, finalEor, 0x00], `len=${len}: repeated completed request`);
      assert.equal(again.changes, 0);
    }
  });
}

// ---------------------------------------------------------------- (b), (d)

test('(b) len=0 → the body is exactly an EOR, and nothing is recorded', () => {
  for (const name of ['rgb96.jp2', 'gray1000-lrcp-p64-l4.j2k']) {
    const t = target(name);
    const r = serve(t.access, request({ window: win(100, 100), len: 0 }), new CacheModel());
    assert.deepEqual([...r.body], [0x00, 0x04, 0x00]);
    assert.equal(r.changes, 0);
    assert.equal(r.messages, 0);
  }
});

test('(d) a repeated completed request returns exactly 00 02 00 (unlimited requests too)', () => {
  const t = target('gray1000-rpcl-p64-l4.j2k');
  const req = request({ window: win(1000, 700, [10, 10], [300, 300]) });
  const model = new CacheModel();
  const first = serve(t.access, req, model);
  assert.equal(first.eor, 2);
  const again = serve(t.access, req, model);
  assert.deepEqual([...again.body], [0x00, 0x02, 0x00]);
  // A sub-window of a completed window is also done.
  const sub = serve(t.access, request({ window: win(1000, 700, [100, 100], [50, 50]) }), model);
  assert.deepEqual([...sub.body], [0x00, 0x02, 0x00]);
});

// ---------------------------------------------------------------- (e) metadata-bin 0 and placeholders

/** Top-level boxes of a box file, walked here independently of src/j2k (15444-1 I.4). */
function walkBoxes(bytes: Uint8Array): Array<{ type: string; offset: number; headerLength: number; length: number }> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    let length = dv.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    let headerLength = 8;
    if (length === 1) {
      length = Number(dv.getBigUint64(at + 8));
      headerLength = 16;
    } else if (length === 0) {
      length = bytes.length - at;
    }
    out.push({ type, offset: at, headerLength, length });
    at += length;
  }
  return out;
}

/**
 * A placeholder (notes §3.5, §4.4): LBox, 'phld', Flags, OrigID, OrigBH, EquivID 0, EquivBH 0, CSID.
 * Flags 4 = codestream CSID; flags 1 = the original box's contents are in metadata-bin OrigID.
 */
function expectedPhld(origHeader: Uint8Array, flags: number, origId: number, csid: number): Uint8Array {
  const n = 44 + origHeader.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n);
  out.set([0x70, 0x68, 0x6c, 0x64], 4);
  dv.setUint32(8, flags);
  dv.setBigUint64(12, BigInt(origId));
  out.set(origHeader, 20);
  dv.setBigUint64(n - 8, BigInt(csid));
  return out;
}

/** Top-level boxes whose contents jpipd moves to metadata-bins 1, 2, … (docs/jpip-support.md). */
const CONTENT = new Set(['xml ', 'asoc', 'uuid', 'uinf']);

/**
 * Expected metadata-bins: bin 0 = every top-level box verbatim, each jp2c replaced by a codestream
 * placeholder and each content box by a placeholder naming the bin (1, 2, …) that holds its body.
 */
function expectedBins(bytes: Uint8Array): { bin: Uint8Array; phlds: Array<{ at: number; length: number; flags: number }>; bins: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  const phlds: Array<{ at: number; length: number; flags: number }> = [];
  const bins: Uint8Array[] = [];
  let at = 0;
  let cs = 0;
  for (const b of walkBoxes(bytes)) {
    const header = bytes.subarray(b.offset, b.offset + b.headerLength);
    let part: Uint8Array;
    if (b.type === 'jp2c') part = expectedPhld(header, 4, 0, cs++);
    else if (CONTENT.has(b.type)) {
      bins.push(bytes.subarray(b.offset + b.headerLength, b.offset + b.length));
      part = expectedPhld(header, 1, bins.length, 0);
    } else part = bytes.subarray(b.offset, b.offset + b.length);
    if (b.type === 'jp2c' || CONTENT.has(b.type)) phlds.push({ at, length: part.length, flags: b.type === 'jp2c' ? 4 : 1 });
    parts.push(part);
    at += part.length;
  }
  return { bin: new Uint8Array(Buffer.concat(parts)), phlds, bins };
}

const BIN0: BinKey = { cls: CLASS_METADATA, codestream: 0, id: 0 };

test('(e) JP2 metadata-bin 0 = boxes before jp2c + a 52-byte phld with the notes §3.5 layout', () => {
  const t = target('rgb96.jp2');
  const boxes = walkBoxes(t.bytes);
  const jp2c = boxes.find((b) => b.type === 'jp2c');
  assert.ok(jp2c);
  assert.deepEqual(boxes.slice(boxes.indexOf(jp2c) + 1), [], 'OpenJPEG writes jp2c last');
  const cache = cacheOf(serveOnce(t, request({ window: win(96, 64) })));
  const bin = cache.get(BIN0);
  assert.ok(cache.isComplete(BIN0));
  assert.equal(bin.length, jp2c.offset + 52);
  assert.deepEqual(bin.subarray(0, jp2c.offset), t.bytes.subarray(0, jp2c.offset));
  const phld = bin.subarray(jp2c.offset);
  const hex = Buffer.from(phld).toString('hex');
  const origBH = Buffer.from(t.bytes.subarray(jp2c.offset, jp2c.offset + 8)).toString('hex');
  assert.equal(hex.slice(0, 8 * 2), '00000034' + '70686c64', 'LBox 52, phld');
  assert.equal(hex.slice(16, 24), '00000004', 'Flags: codestream');
  assert.equal(hex.slice(24, 40), '0'.repeat(16), 'OrigID');
  assert.equal(hex.slice(40, 56), origBH, 'OrigBH = the original jp2c header');
  assert.equal(hex.slice(56, 104), '0'.repeat(48), 'EquivID, EquivBH');
  assert.equal(hex.slice(88, 104), '0'.repeat(16), 'CSID 0');
  assert.equal(origBH.slice(8), Buffer.from('jp2c').toString('hex'));
});

test('(e) an XLBox jp2c gets a 60-byte placeholder carrying the 16-byte header', () => {
  const t = target('rgb96-xlbox.jp2');
  const { bin, phlds } = expectedBins(t.bytes);
  assert.deepEqual(phlds.map((p) => p.length), [60]);
  const cache = cacheOf(serveOnce(t, request({ metadataOnly: true })));
  assert.deepEqual(cache.get(BIN0), bin);
  assert.ok(cache.isComplete(BIN0));
});

test('(e) JPX: one codestream placeholder per jp2c with CSID 0, 1, 2; xml boxes in bins of their own', () => {
  const t = target('frames3-128.jpx');
  const { bin, phlds, bins } = expectedBins(t.bytes);
  assert.equal(phlds.filter((p) => p.flags === 4).length, 3);
  assert.equal(bins.length, 2, 'the fixture has two top-level xml boxes');
  const r = serveOnce(t, request({ codestreams: [1], window: win(128, 128), metareq: parseMetareq('[*]') }));
  const cache = cacheOf(r);
  const got = cache.get(BIN0);
  assert.deepEqual(got, bin);
  assert.ok(cache.isComplete(BIN0));
  const csids = phlds
    .filter((p) => p.flags === 4)
    .map((p) => {
      const box = got.subarray(p.at, p.at + p.length);
      assert.equal(Buffer.from(box.subarray(4, 8)).toString('latin1'), 'phld');
      return Number(new DataView(box.buffer, box.byteOffset + box.length - 8, 8).getBigUint64(0));
    });
  assert.deepEqual(csids, [0, 1, 2]);
  bins.forEach((body, i) => {
    const key = { cls: CLASS_METADATA, codestream: 0, id: i + 1 };
    assert.deepEqual(cache.get(key), new Uint8Array(body), `metadata-bin ${i + 1} = the xml box body`);
    assert.ok(cache.isComplete(key));
  });
  // Only codestream 1's headers: never data of another codestream in a stream=1 response (notes §4.4).
  const streams = new Set(parseResponse(r).messages.filter((m) => m.cls !== CLASS_METADATA).map((m) => m.codestream));
  assert.deepEqual([...streams], [1]);
});

test('(e) placeholders are never split across responses, even with tiny len', () => {
  for (const name of ['rgb96.jp2', 'rgb96-xlbox.jp2', 'frames3-128.jpx']) {
    const t = target(name);
    const { bin, phlds } = expectedBins(t.bytes);
    assert.ok(phlds.length > 0);
    for (const len of [1, 7, 30, 52, 53, 61, 100, 200]) {
      const { responses, cache } = continuation(t, request({ metadataOnly: true, codestreams: [0] }), len);
      assert.deepEqual(cache.get(BIN0), bin, `${name} len=${len}`);
      for (const r of responses) {
        for (const m of parseResponse(r).messages) {
          if (m.cls !== CLASS_METADATA || m.id !== 0) continue;
          for (const p of phlds) {
            const overlaps = m.offset < p.at + p.length && m.offset + m.length > p.at;
            if (overlaps) assert.deepEqual([m.offset, m.length], [p.at, p.length], `${name} len=${len}: placeholder sent whole, alone`);
          }
        }
      }
    }
  }
});

// ---------------------------------------------------------------- (f) layers, (g) comps, (h) TLM

test('(f) layers=2 stops every precinct bin after layer 1: bins hold layers 0-1 and are not complete', () => {
  const t = target('gray1000-lrcp-p64-l4.j2k');
  assert.equal(t.layout.codestreams[0].cod.layers, 4);
  const window = win(1000, 700, [400, 300], [200, 150]);
  const r = serveOnce(t, request({ window, layers: 2 }));
  assert.equal(r.eor, 2);
  assert.equal(r.served?.layers, 2);
  const msgs = parseResponse(r).messages.filter((m) => m.cls === CLASS_PRECINCT);
  assert.ok(msgs.length > 0);
  assert.ok(msgs.every((m) => !m.complete), 'no precinct bin marked complete');
  const cache = cacheOf(r);
  const full = cacheOf(serveOnce(t, request({ window })));
  const ids = [...new Set(msgs.map((m) => m.id))];
  for (const id of ids) {
    const { offsets, lengths } = packetsOf(t, 0, id);
    const expected = Buffer.concat([0, 1].map((l) => t.bytes.subarray(offsets[l], offsets[l] + lengths[l])));
    const key = { cls: CLASS_PRECINCT, codestream: 0, id };
    assert.deepEqual(cache.get(key), new Uint8Array(expected), `precinct ${id}: layers 0 and 1 from the file`);
    assert.equal(cache.isComplete(key), false);
    const whole = full.get(key);
    assert.ok(whole.length > expected.length && full.isComplete(key), `precinct ${id} has more layers`);
  }
  assert.deepEqual(
    ids.sort((a, b) => a - b),
    full.keys().filter((k) => k.cls === CLASS_PRECINCT).map((k) => k.id).sort((a, b) => a - b),
    'same precincts as without the layer limit',
  );
});

test('(g) comps=0 on the RGB fixture sends precincts of component 0 only', () => {
  const t = target('rgb640-mct-pcrl-p64-l3.j2k');
  const siz = t.layout.codestreams[0].siz;
  assert.equal(siz.Csiz, 3);
  const window = win(640, 480, [100, 100], [200, 120]);
  const comp0 = parseResponse(serveOnce(t, request({ window, comps: [{ from: 0, to: 0 }] }))).messages.filter((m) => m.cls === CLASS_PRECINCT);
  const all = parseResponse(serveOnce(t, request({ window }))).messages.filter((m) => m.cls === CLASS_PRECINCT);
  assert.ok(comp0.length > 0);
  const compOf = (id: number): number => splitPrecinctBinId(id, siz.Csiz, tileCount(siz)).c;
  assert.deepEqual([...new Set(comp0.map((m) => compOf(m.id)))], [0]);
  assert.deepEqual([...new Set(all.map((m) => compOf(m.id)))].sort(), [0, 1, 2]);
  const ids = (ms: JppMessage[]): number[] => [...new Set(ms.map((m) => m.id))].sort((a, b) => a - b);
  assert.deepEqual(ids(comp0), ids(all.filter((m) => compOf(m.id) === 0)));
  // comps=1-2 likewise.
  const comp12 = parseResponse(serveOnce(t, request({ window, comps: [{ from: 1, to: null }] }))).messages.filter((m) => m.cls === CLASS_PRECINCT);
  assert.deepEqual([...new Set(comp12.map((m) => compOf(m.id)))].sort(), [1, 2]);
});

test('(h) the main header bin excludes TLM (gray257-eph-tlm.j2k)', () => {
  const t = target('gray257-eph-tlm.j2k');
  const b = t.bytes;
  const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
  // The file's main header, walked here: SOC, then marker segments until the first SOT (15444-1 A.4).
  assert.equal(u16(0), 0xff4f); // SOC
  const segments: Array<{ code: number; at: number; n: number }> = [];
  let at = 2;
  while (u16(at) !== 0xff90 /* SOT */) {
    const n = 2 + u16(at + 2);
    segments.push({ code: u16(at), at, n });
    at += n;
  }
  assert.ok(segments.some((s) => s.code === 0xff55 /* TLM */), 'the fixture has a TLM');
  const expected = Buffer.concat([b.subarray(0, 2), ...segments.filter((s) => s.code !== 0xff55).map((s) => b.subarray(s.at, s.at + s.n))]);
  const cache = cacheOf(serveOnce(t, request({ window: win(257, 129) })));
  const key = { cls: CLASS_MAIN_HEADER, codestream: 0, id: 0 };
  const got = cache.get(key);
  assert.ok(cache.isComplete(key));
  assert.deepEqual(got, new Uint8Array(expected));
  // Walk the bin itself: SOC, then segments ending exactly at the bin's end, none of them TLM.
  let p = 2;
  const codes: number[] = [];
  while (p < got.length) {
    codes.push((got[p] << 8) | got[p + 1]);
    p += 2 + ((got[p + 2] << 8) | got[p + 3]);
  }
  assert.equal(p, got.length);
  assert.ok(!codes.includes(0xff55));
  assert.ok(codes.includes(0xff51) && codes.includes(0xff52), 'SIZ and COD kept');
});

// ---------------------------------------------------------------- (i) LRCP order inside the window

const ORDER_WINDOWS = [
  ['gray1000-lrcp-p64-l4.j2k', win(1000, 700, [300, 200], [300, 200])],
  ['gray1000-rpcl-p64-l4.j2k', win(500, 350, [50, 60], [300, 200])],
  ['gray1000-t512-tpr-rpcl.j2k', win(1000, 700, [400, 400], [300, 250])],
  ['rgb640-mct-pcrl-p64-l3.j2k', win(320, 240, [100, 100], [60, 60])],
] as const;

/** Packet bytes of the window's precincts (all layers): a budget below it cannot hold the window. */
function windowDataBytes(t: Target, r: ServeResult): number {
  const ids = new Set(parseResponse(r).messages.filter((m) => m.cls === CLASS_PRECINCT).map((m) => m.id));
  let n = 0;
  for (const id of ids) n += packetsOf(t, 0, id).lengths.reduce((a, b) => a + b, 0);
  return n;
}

for (const [name, window] of ORDER_WINDOWS) {
  test(`(i) LRCP inside the window when the budget cuts it: the window's precincts layer by layer, then the margin's (${name})`, () => {
    const t = target(name);
    // One byte less than the window's packets: the response must stop before the window is done.
    const unlimited = serveOnce(t, request({ window }));
    const len = windowDataBytes(t, unlimited) - 1;
    const r = serveOnce(t, request({ window, len }));
    const all = new Set(parseResponse(unlimited).messages.filter((m) => m.cls === CLASS_PRECINCT).map((m) => m.id));
    const parsed = parseResponse(r);
    assert.equal(parsed.eor, EOR_BYTE_LIMIT);
    const msgs = parsed.messages.filter((m) => m.cls === CLASS_PRECINCT);
    assert.ok(msgs.length > 0);
    const seen = new Map<number, number>();
    let prev = { l: -1, r: -1, g: 0 };
    const layerCount = new Map<string, number>();
    const core = corePrecincts(t, r.served);
    assert.ok(core.size > 0 && core.size < all.size, 'the window has a margin');
    let maxLayer = 0;
    msgs.forEach((m, i) => {
      const { offsets, lengths, r: res } = packetsOf(t, 0, m.id);
      // Which layer this message carries: the packet starting at its bin offset.
      let start = 0;
      let l = 0;
      while (start < m.offset) start += lengths[l++];
      assert.equal(start, m.offset, `precinct ${m.id}: message starts on a packet boundary`);
      // Only the last message may stop inside its packet (where the budget ran out).
      const cut = i === msgs.length - 1 && m.length < lengths[l];
      assert.equal(m.length, cut ? m.length : lengths[l], 'one packet per message');
      assert.deepEqual(m.body, t.bytes.subarray(offsets[l], offsets[l] + m.length), 'the packet bytes from the file');
      assert.equal(m.complete, !cut && l === lengths.length - 1);
      assert.equal(seen.get(m.id) ?? -1, l - 1, `precinct ${m.id}: layers in order`);
      seen.set(m.id, l);
      // The precincts the window itself falls in, layer by layer (each layer in resolution order), then
      // those only the synthesis margin needs, layer by layer again.
      const g = core.has(m.id) ? 0 : 1;
      const after = g > prev.g || (g === prev.g && (l > prev.l || (l === prev.l && res >= prev.r)));
      assert.ok(after, `group ${g} layer ${l} r ${res} after group ${prev.g} layer ${prev.l} r ${prev.r}`);
      prev = { l, r: res, g };
      layerCount.set(`${g}/${l}`, (layerCount.get(`${g}/${l}`) ?? 0) + 1);
      maxLayer = Math.max(maxLayer, l);
    });
    // Every layer before the one the budget cut carries every precinct of its group (the window's own
    // precincts are all complete before the margin starts).
    const coreLayers = prev.g === 0 ? prev.l : maxLayer + 1;
    assert.ok(coreLayers > 0);
    for (let l = 0; l < coreLayers; l++) assert.equal(layerCount.get(`0/${l}`), core.size, `core layer ${l} has every core precinct`);
    for (let l = 0; prev.g === 1 && l < prev.l; l++) assert.equal(layerCount.get(`1/${l}`), all.size - core.size, `margin layer ${l} has every margin precinct`);
  });

  test(`(i) when all the window lacks fits the budget: precinct by precinct, contiguous layers in one message, same bins (${name})`, () => {
    const t = target(name);
    const r = serveOnce(t, request({ window }));
    const parsed = parseResponse(r);
    assert.equal(parsed.eor, EOR_WINDOW_DONE);
    const msgs = parsed.messages.filter((m) => m.cls === CLASS_PRECINCT);
    const core = corePrecincts(t, r.served);
    let group = 0;
    const done = new Set<number>();
    let last = -1;
    let prevRes = -1;
    for (const m of msgs) {
      const { offsets, lengths, r: res } = packetsOf(t, 0, m.id);
      // A precinct's messages are consecutive: once another precinct starts, it never comes back.
      if (m.id !== last) {
        assert.ok(!done.has(m.id), `precinct ${m.id} is sent in one stretch`);
        if (last >= 0) done.add(last);
        const g = core.has(m.id) ? 0 : 1;
        assert.ok(g >= group, 'the window\'s own precincts before the margin');
        if (g > group) prevRes = -1;
        group = g;
        assert.ok(res >= prevRes, 'resolution order inside each group');
        prevRes = res;
        last = m.id;
      }
      // Each message is a run of whole packets contiguous in the file, as long as the file allows.
      let start = 0;
      let l = 0;
      while (start < m.offset) start += lengths[l++];
      assert.equal(start, m.offset);
      let n = 0;
      let k = l;
      while (n < m.length) n += lengths[k++];
      assert.equal(n, m.length, 'whole packets');
      for (let j = l + 1; j < k; j++) assert.equal(offsets[j], offsets[j - 1] + lengths[j - 1], 'contiguous in the file');
      if (k < lengths.length) assert.notEqual(offsets[k], offsets[k - 1] + lengths[k - 1], 'no shorter than the contiguous run');
      assert.deepEqual(m.body, t.bytes.subarray(offsets[l], offsets[l] + m.length));
      assert.equal(m.complete, k === lengths.length);
    }
    // The same bins, byte for byte, as layer-major responses cut by a budget and continued.
    const model = new CacheModel();
    const parts: ServeResult[] = [];
    for (let i = 0; i < 1000; i++) {
      const p = serveOnce(t, request({ window, len: 700 }), model);
      parts.push(p);
      if (parseResponse(p).eor !== EOR_BYTE_LIMIT) break;
    }
    assert.ok(parts.length > 2);
    const whole = cacheOf(r);
    const pieces = cacheOf(...parts);
    for (const k of whole.keys()) assert.deepEqual(pieces.get(k), whole.get(k));
    assert.equal(pieces.keys().length, whole.keys().length);
  });
}

/** Bin ids of the precincts the served window's own samples fall in (no synthesis margin). */
function corePrecincts(t: Target, served: ServeResult['served']): Set<number> {
  assert.ok(served);
  const layout = t.layout.codestreams[0];
  const { siz } = layout;
  let d = 0;
  while (frameSize(siz, d).width !== served.fsiz[0]) d++;
  const canvas = frameRegionToCanvas(siz, d, { x0: served.roff[0], y0: served.roff[1], x1: served.roff[0] + served.rsiz[0], y1: served.roff[1] + served.rsiz[1] });
  const ids = new Set<number>();
  const Nt = tileCount(siz);
  for (const tt of tilesInRegion(siz, canvas)) {
    const tile = tileGeometry(layout, tt);
    const comps = tile.components.map((c) => c.c);
    for (const sp of tilePrecinctSpans(tile, canvas, d, comps, 0)) {
      const res = tile.components[sp.c].resolutions[sp.r];
      for (let py = sp.py0; py < sp.py1; py++) for (let px = sp.px0; px < sp.px1; px++) ids.add(precinctBinId(tt, sp.c, res.precinctBase + py * res.npx + px, siz.Csiz, Nt));
    }
  }
  return ids;
}

// ---------------------------------------------------------------- notes §6.5 through the engine

test('notes §6.5 window on the 4096² fixture: the served precincts contain the 27 of the table', () => {
  const t = target('gray4096-rpcl-p128-l8.jp2');
  const r = serveOnce(t, request({ window: win(1024, 1024, [256, 256], [512, 512]), layers: 1 }));
  assert.deepEqual(r.served, { fsiz: [1024, 1024], roff: [256, 256], rsiz: [512, 512], layers: 1 });
  const ids = new Set(parseResponse(r).messages.filter((m) => m.cls === CLASS_PRECINCT).map((m) => m.id));
  const notes = [0, 1, 2, 3, 4, 5, 6, 12, 13, 16, 17];
  for (let py = 2; py <= 5; py++) for (let px = 2; px <= 5; px++) notes.push(23 + 8 * py + px);
  assert.equal(notes.length, 27);
  for (const s of notes) assert.ok(ids.has(s), `precinct ${s}`);
  // With the 5-3 synthesis margin: 36 at r5 (columns/rows 1..6), all 16 at r4, 4 + 1 + 1 + 1 below.
  assert.equal(ids.size, 36 + 16 + 4 + 3);
  for (const id of ids) assert.ok(id < 87, 'nothing above resolution 5');
});
