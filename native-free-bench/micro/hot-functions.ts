/**
 * Micro-benchmarks of jpipd's hot pure functions on the 4096² sample (NL=7, 128² precincts, 8 layers,
 * RPCL, one tile): VBAS encode, JPP message-header write, PLT decode, packetOrder, tile geometry and
 * window → precincts.
 * Usage: node --import tsx native-free-bench/micro/hot-functions.ts [path/to/image.jp2]
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BufferSource } from '../../src/bytes/source.js';
import { writeVbas } from '../../src/bytes/vbas.js';
import { CLASS_PRECINCT, writeMessageHeader, type MessageHeader } from '../../src/bytes/jpp.js';
import { listBoxes } from '../../src/j2k/boxes.js';
import { scanCodestream } from '../../src/j2k/codestream.js';
import { tileGeometry } from '../../src/j2k/geometry.js';
import { decodePltLengths } from '../../src/j2k/plt.js';
import { packetOrder } from '../../src/j2k/progression.js';
import { chooseFrame, frameRegionToCanvas, mapRegion, tilePrecinctSpans } from '../../src/jpip/window.js';
import { bench, consume, printTable, type MicroResult } from './bench.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const file = process.argv[2] ?? join(repo, 'samples/gray4096-rpcl-p128-l8.jp2');
const bytes = new Uint8Array(readFileSync(file));
const src = new BufferSource(bytes);
const jp2c = listBoxes(src, 0, bytes.length).find((b) => b.type === 'jp2c');
const csStart = jp2c ? jp2c.offset + jp2c.headerLength : 0;
const csEnd = jp2c ? jp2c.offset + jp2c.length : bytes.length;
const layout = scanCodestream(src, csStart, csEnd);
const plts = layout.tileParts.flatMap((tp) => tp.plt).map((p) => bytes.subarray(p.offset, p.offset + p.length));
const pltBytes = plts.reduce((s, p) => s + p.length, 0);
const tile = tileGeometry(layout, 0);
const results: MicroResult[] = [];

// VBAS: a spread of values as they occur in headers (bin ids, offsets, lengths up to tens of MB).
const values = Float64Array.from({ length: 1024 }, (_, i) => Math.floor(Math.pow(2, (i % 40) * 0.8)));
const out = new Uint8Array(16 * 1024);
results.push(
  bench('writeVbas ×1024 values (0..2^31)', () => {
    let p = 0;
    for (let i = 0; i < values.length; i++) p = writeVbas(out, p, values[i]);
    return p;
  }),
);

// JPP message headers: a precinct run as the engine writes them (indicator elision after the first).
const headers: MessageHeader[] = Array.from({ length: 1024 }, (_, i) => ({
  cls: CLASS_PRECINCT,
  codestream: 0,
  id: i * 3 + 1,
  offset: (i % 8) * 700,
  length: 100 + (i % 500),
  complete: i % 8 === 7,
}));
results.push(
  bench('writeMessageHeader ×1024 precinct messages', () => {
    let p = 0;
    let prev: MessageHeader | null = null;
    for (const h of headers) {
      p = writeMessageHeader(out, p, h, prev);
      prev = h;
    }
    return p;
  }),
);

let packets = 0;
results.push(
  bench(`decodePltLengths, all PLT of the codestream (${plts.length} segments, ${pltBytes} B)`, () => {
    let n = 0;
    for (const p of plts) n += decodePltLengths(p, (len) => consume(len));
    packets = n;
    return n;
  }),
);
results.push(bench(`tileGeometry (tile 0)`, () => tileGeometry(layout, 0)));
results.push(bench(`packetOrder (${packets} packets, ${['LRCP', 'RLCP', 'RPCL', 'PCRL', 'CPRL'][tile.progression] ?? tile.progression})`, () => packetOrder(tile).length));

// Window → precincts: the paper's zoom WOIs and a 1024² whole-frame view.
const size = layout.siz.Xsiz;
const windows: Array<[string, number, number, number, number, number]> = [
  ['1024² frame (d=2)', 0, 0, 1024, 1024, 2],
  ['(0,0,512,512,3)', 0, 0, 512, 512, 3],
  ['(512,512,512,512,2)', 512, 512, 512, 512, 2],
  ['(1024,1024,512,512,1)', 1024, 1024, 512, 512, 1],
  ['256² at d=0', 1800, 2100, 256, 256, 0],
];
for (const [label, x, y, w, h, d] of windows) {
  const f = size >> d;
  let n = 0;
  results.push(
    bench(`window → precincts ${label}`, () => {
      const frame = chooseFrame(layout.siz, tile.components[0].style.NL, f, f, 'closest');
      const region = mapRegion(frame, { fx: f, fy: f }, { x, y }, { x: w, y: h });
      const canvas = frameRegionToCanvas(layout.siz, frame.d, region);
      const spans = tilePrecinctSpans(tile, canvas, frame.d, [0]);
      n = spans.reduce((s, sp) => s + (sp.px1 - sp.px0) * (sp.py1 - sp.py0), 0);
      return n;
    }),
  );
  results[results.length - 1].name += ` (${n} precincts)`;
}

console.log(`# hot functions on ${file} (${layout.siz.Xsiz}×${layout.siz.Ysiz}, ${packets} packets), node ${process.version}\n`);
printTable(results);
