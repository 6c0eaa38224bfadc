/**
 * Test decoders: the WebAssembly OpenJPEG of @cornerstonejs/codec-openjpeg (always available; the
 * product's own, src/client/decode.ts) and Debian's /usr/bin/opj_decompress (optional; null when
 * absent so tests can skip that variant). Both return interleaved samples (component fastest) of the
 * image at a reduced resolution.
 */
import assert from 'node:assert/strict';
import type { DecodedImage } from '../../src/client/decode.js';
export { cropPixels, decodeJ2k, type DecodedImage } from '../../src/client/decode.js';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const OPJ_DECOMPRESS = '/usr/bin/opj_decompress';

/** Parses a binary PGM (P5) or PPM (P6) as written by opj_decompress; maxval > 255 means 16-bit big-endian. */
function parsePnm(data: Uint8Array): DecodedImage {
  let pos = 0;
  const fields: string[] = [];
  while (fields.length < 4) {
    while (pos < data.length && /\s/.test(String.fromCharCode(data[pos]))) pos++;
    if (data[pos] === 0x23) {
      while (pos < data.length && data[pos] !== 0x0a) pos++;
      continue;
    }
    let tok = '';
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos]))) tok += String.fromCharCode(data[pos++]);
    fields.push(tok);
  }
  pos++;
  const [magic, w, h, max] = fields;
  const components = magic === 'P6' ? 3 : magic === 'P5' ? 1 : 0;
  if (components === 0) throw new Error(`not a binary PNM: ${magic}`);
  const width = Number(w);
  const height = Number(h);
  const maxval = Number(max);
  const n = width * height * components;
  const bitsPerSample = Math.ceil(Math.log2(maxval + 1));
  if (maxval < 256) return { width, height, components, bitsPerSample, signed: false, pixels: data.slice(pos, pos + n) };
  const pixels = new Uint16Array(n);
  for (let i = 0; i < n; i++) pixels[i] = data[pos + 2 * i] * 256 + data[pos + 2 * i + 1];
  return { width, height, components, bitsPerSample, signed: false, pixels };
}

/**
 * Decodes `file` (.j2k/.j2c/.jp2/.jpx, chosen by extension) with /usr/bin/opj_decompress at `reduce`
 * discarded levels through a temporary PNM; null when opj_decompress is not installed.
 * 1- and 3-component images only; signed images come back as opj_decompress writes them.
 */
export async function decodeWithOpjDecompress(file: string, reduce = 0): Promise<DecodedImage | null> {
  if (!existsSync(OPJ_DECOMPRESS)) return null;
  const dir = await mkdtemp(join(tmpdir(), 'jpipd-opj-'));
  try {
    const out = join(dir, 'out.pnm');
    await promisify(execFile)(OPJ_DECOMPRESS, ['-i', file, '-o', out, '-r', String(reduce)], { maxBuffer: 1 << 24 });
    return parsePnm(new Uint8Array(await readFile(out)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts two decoded images have the same size, components and samples (counting the samples that differ). */
export function assertSamePixels(got: DecodedImage, want: DecodedImage, what: string): void {
  assert.equal(got.width, want.width, `${what}: width`);
  assert.equal(got.height, want.height, `${what}: height`);
  assert.equal(got.components, want.components, `${what}: components`);
  let diff = 0;
  for (let i = 0; i < want.pixels.length; i++) if (got.pixels[i] !== want.pixels[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} of ${want.pixels.length} samples differ`);
}
