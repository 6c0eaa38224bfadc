#!/usr/bin/env node
/**
 * Writes deterministic synthetic source images (8-bit PGM P5 / PPM P6) into the folder given as
 * argv[2], for scripts/make-fixtures.sh to compress with opj_compress. Every image mixes a smooth
 * gradient, discs with sharp edges, a sine texture and seeded noise, so that wavelet coefficients
 * are non-zero in every region and every subband (bit-exact decode tests need detail everywhere).
 * Usage: node scripts/make-source-images.mjs <out-dir>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The images made: name, width, height, channels (1 = PGM, 3 = PPM), PRNG seed. */
const IMAGES = [
  { name: 'gray4096.pgm', width: 4096, height: 4096, channels: 1, seed: 0x4096 },
  { name: 'gray1000x700.pgm', width: 1000, height: 700, channels: 1, seed: 1000700 },
  { name: 'rgb640x480.ppm', width: 640, height: 480, channels: 3, seed: 640480 },
  { name: 'gray257x129.pgm', width: 257, height: 129, channels: 1, seed: 257129 },
  { name: 'rgb96x64.ppm', width: 96, height: 64, channels: 3, seed: 9664 },
  { name: 'gray128a.pgm', width: 128, height: 128, channels: 1, seed: 11 },
  { name: 'gray128b.pgm', width: 128, height: 128, channels: 1, seed: 22 },
  { name: 'gray128c.pgm', width: 128, height: 128, channels: 1, seed: 33 },
];

/** mulberry32: a small seeded 32-bit PRNG returning floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Renders one channel: gradient + discs + texture + noise, clamped to 0..255. */
function renderChannel(width, height, rand, channel) {
  const out = new Uint8Array(width * height);
  const discs = [];
  const nDiscs = 6 + Math.floor(rand() * 10);
  for (let i = 0; i < nDiscs; i++) {
    discs.push({
      cx: rand() * width,
      cy: rand() * height,
      r: (0.04 + rand() * 0.2) * Math.min(width, height),
      v: (rand() - 0.5) * 120,
    });
  }
  const gx = (rand() - 0.5) * 160;
  const gy = (rand() - 0.5) * 160;
  const fx = (2 + rand() * 20) / width;
  const fy = (2 + rand() * 20) / height;
  const phase = rand() * Math.PI * 2 + channel;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 128 + gx * (x / width - 0.5) + gy * (y / height - 0.5);
      v += 18 * Math.sin(2 * Math.PI * (x * fx + y * fy) + phase);
      v += 10 * Math.sin(2 * Math.PI * x * fy * 3.1) * Math.cos(2 * Math.PI * y * fx * 2.7);
      for (const d of discs) {
        const dx = x - d.cx;
        const dy = y - d.cy;
        if (dx * dx + dy * dy < d.r * d.r) v += d.v;
      }
      v += (rand() - 0.5) * 24;
      out[y * width + x] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

/** Builds the PNM file bytes (P5 for 1 channel, P6 for 3 interleaved channels). */
function renderImage({ width, height, channels, seed }) {
  const rand = mulberry32(seed);
  const planes = [];
  for (let c = 0; c < channels; c++) planes.push(renderChannel(width, height, rand, c));
  const header = Buffer.from(`${channels === 1 ? 'P5' : 'P6'}\n${width} ${height}\n255\n`, 'ascii');
  const body = Buffer.alloc(width * height * channels);
  for (let i = 0, n = width * height; i < n; i++) {
    for (let c = 0; c < channels; c++) body[i * channels + c] = planes[c][i];
  }
  return Buffer.concat([header, body]);
}

/** Planar 8-bit 4:2:0 raw (Y full size, then Cb and Cr at half size), for opj_compress -F ...@1x1:2x2:2x2. */
function renderYuv420(width, height, seed) {
  const rand = mulberry32(seed);
  const y = renderChannel(width, height, rand, 0);
  const u = renderChannel(width / 2, height / 2, rand, 1);
  const v = renderChannel(width / 2, height / 2, rand, 2);
  return Buffer.concat([y, u, v]);
}

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: make-source-images.mjs <out-dir>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
for (const img of IMAGES) writeFileSync(join(outDir, img.name), renderImage(img));
writeFileSync(join(outDir, 'yuv420-256x160.raw'), renderYuv420(256, 160, 420));
