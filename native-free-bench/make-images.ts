/**
 * Writes the benchmark image folder (outside the repository; nothing here is committed):
 *   gray4096.jp2  a copy of samples/gray4096-rpcl-p128-l8.jp2 (4096², NL=7, 128² precincts, 8 layers, RPCL, PLT)
 *   movie.jpx     a JPX with `--frames` embedded 4096² codestreams coded like the sample (jpch + jplh + jp2c per
 *                 frame, as JHelioviewer movies and the paper's flash-crowd test use); `--distinct` different
 *                 frames are encoded with opj_compress and repeated in turn to reach `--frames`.
 *   img0..4.jp2   five different 4096² JP2 images (the distinct frames, then the sample) for the `images` scenario.
 *   linked5.jpx   a hyperlinked JPX (Helioviewer's movie format: absolute file URLs, which esajpip needs; made by
 *                 `jpipd movie --absolute`) of five frames, frames/f0..4.jp2, for the `linked` scenario.
 * Usage: node --import tsx native-free-bench/make-images.ts --out /tmp/jpipd-bench/images [--frames 60] [--distinct 4]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BufferSource } from '../src/bytes/source.js';
import { listBoxes } from '../src/j2k/boxes.js';
import { box, colrBox, concatBytes, ftypBox, ihdrBox, rreqBox, signatureBox, xmlBox } from '../src/j2k/box-writer.js';
import { Writable } from 'node:stream';
import { movieCommand } from '../src/cli/movie-command.js';
import { prng } from './lib/scenarios.js';

const GREY = 17;
const SIDE = 4096;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}


/** A 4096² 8-bit PGM: a bright disc ("the Sun") with seeded blobs and noise that move from frame to frame. */
function sunPgm(frame: number): Uint8Array {
  const rand = prng(0x5d0 + frame * 7919);
  const head = new TextEncoder().encode(`P5\n${SIDE} ${SIDE}\n255\n`);
  const out = new Uint8Array(head.length + SIDE * SIDE);
  out.set(head, 0);
  const blobs = Array.from({ length: 24 }, () => ({ x: rand() * SIDE, y: rand() * SIDE, r: 40 + rand() * 300, v: 40 + rand() * 80 }));
  const c = SIDE / 2;
  const R = SIDE * 0.4;
  let p = head.length;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const d = Math.hypot(x - c, y - c);
      let v = d < R ? 90 + 40 * Math.sqrt(1 - (d * d) / (R * R)) : 10 + 2000 / (d - R + 40);
      for (const b of blobs) {
        const q = (x - b.x) * (x - b.x) + (y - b.y) * (y - b.y);
        if (q < b.r * b.r) v += b.v * (1 - q / (b.r * b.r));
      }
      v += 12 * Math.sin(x * 0.05 + frame) * Math.cos(y * 0.043) + (rand() - 0.5) * 16;
      out[p++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** The raw codestream inside a JP2's jp2c box. */
function codestreamOf(jp2: Uint8Array): Uint8Array {
  const b = listBoxes(new BufferSource(jp2), 0, jp2.length).find((x) => x.type === 'jp2c');
  if (!b) throw new Error('no jp2c box');
  return jp2.subarray(b.offset + b.headerLength, b.offset + b.length);
}

const out = resolve(arg('out', '/tmp/jpipd-bench/images'));
if (out.startsWith(REPO)) throw new Error('write benchmark images outside the repository');
const frames = Number(arg('frames', '60'));
const distinct = Number(arg('distinct', '4'));
mkdirSync(out, { recursive: true });
copyFileSync(join(REPO, 'samples/gray4096-rpcl-p128-l8.jp2'), join(out, 'gray4096.jp2'));

const tmp = mkdtempSync(join(tmpdir(), 'jpipd-frames-'));
const P128 = Array.from({ length: 8 }, () => '[128,128]').join(',');
const codestreams: Uint8Array[] = [];
try {
  for (let f = 0; f < distinct; f++) {
    const pgm = join(tmp, `f${f}.pgm`);
    const j2k = join(tmp, `f${f}.j2k`);
    writeFileSync(pgm, sunPgm(f));
    execFileSync('opj_compress', ['-i', pgm, '-o', j2k, '-PLT', '-n', '8', '-p', 'RPCL', '-c', P128, '-r', '1024,512,256,128,64,32,16,10'], { stdio: 'ignore' });
    codestreams.push(new Uint8Array(readFileSync(j2k)));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (codestreams.length === 0) codestreams.push(codestreamOf(new Uint8Array(readFileSync(join(out, 'gray4096.jp2')))));

const parts: Uint8Array[] = [
  signatureBox(),
  ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
  rreqBox(),
  box('jp2h', ihdrBox(SIDE, SIDE, 1, 8), colrBox(GREY)),
  xmlBox(`<?xml version="1.0"?><movie frames="${frames}"><note>jpipd benchmark movie</note></movie>`),
];
for (let i = 0; i < frames; i++) {
  parts.push(box('jpch', ihdrBox(SIDE, SIDE, 1, 8)));
  parts.push(box('jplh', box('cgrp', colrBox(GREY))));
  parts.push(box('jp2c', codestreams[i % codestreams.length]));
}
const jpx = concatBytes(...parts);
writeFileSync(join(out, 'movie.jpx'), jpx);

/** A JP2 file around one codestream (15444-1 Annex I). */
const jp2 = (cs: Uint8Array): Uint8Array =>
  concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(SIDE, SIDE, 1, 8), colrBox(GREY)), box('jp2c', cs));
const sample = codestreamOf(new Uint8Array(readFileSync(join(out, 'gray4096.jp2'))));
const five = [...codestreams, sample, sample].slice(0, 5);
mkdirSync(join(out, 'frames'), { recursive: true });
five.forEach((cs, i) => {
  writeFileSync(join(out, `img${i}.jp2`), jp2(cs));
  writeFileSync(join(out, 'frames', `f${i}.jp2`), jp2(cs));
});
const sink = new Writable({ write: (_c, _e, done) => done() }) as unknown as NodeJS.WriteStream;
const frameFiles = five.map((_, i) => join(out, 'frames', `f${i}.jp2`));
if ((await movieCommand(['--out', join(out, 'linked5.jpx'), '--absolute', '--force', ...frameFiles], sink)) !== 0) throw new Error('jpipd movie failed');
console.log(`${out}: gray4096.jp2, movie.jpx (${frames} frames, ${distinct} distinct, ${(jpx.length / 1e6).toFixed(1)} MB), img0..4.jp2, linked5.jpx + frames/`);
