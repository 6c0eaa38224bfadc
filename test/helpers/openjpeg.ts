/**
 * Test decoders: the WebAssembly OpenJPEG of @cornerstonejs/codec-openjpeg (always available) and
 * Debian's /usr/bin/opj_decompress (optional; null when absent so tests can skip that variant).
 * Both return interleaved samples (component fastest) of the image at a reduced resolution.
 */
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** A decoded image: samples interleaved per pixel (c fastest), row-major. */
export interface DecodedImage {
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  signed: boolean;
  pixels: Uint8Array | Int8Array | Uint16Array | Int16Array;
}

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

interface J2KDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  readHeader(): void;
  decode(): void;
  decodeSubResolution(decodeLevel: number, decodeLayer: number): void;
  calculateSizeAtDecompositionLevel(level: number): { width: number; height: number };
  getFrameInfo(): FrameInfo;
  delete(): void;
}

interface OpenJpegModule {
  J2KDecoder: new () => J2KDecoder;
}

let modulePromise: Promise<OpenJpegModule> | null = null;

function openjpeg(): Promise<OpenJpegModule> {
  if (modulePromise === null) {
    const require = createRequire(import.meta.url);
    const factory = require('@cornerstonejs/codec-openjpeg/decodewasmjs') as (o: object) => Promise<OpenJpegModule>;
    modulePromise = factory({ print: () => {}, printErr: () => {} });
  }
  return modulePromise;
}

function typed(bytes: Uint8Array, bits: number, signed: boolean): DecodedImage['pixels'] {
  const own = new Uint8Array(bytes);
  if (bits <= 8) return signed ? new Int8Array(own.buffer) : own;
  const n = own.length / 2;
  return signed ? new Int16Array(own.buffer, 0, n) : new Uint16Array(own.buffer, 0, n);
}

/**
 * Decodes a raw codestream (or JP2) with the wasm OpenJPEG; `reduce` discards that many resolution
 * levels and `layers` > 0 decodes only that many quality layers (decodeSubResolution(level, layers);
 * 0 = all). Samples > 8 bits are little-endian 16-bit.
 */
export async function decodeJ2k(bytes: Uint8Array, reduce = 0, layers = 0): Promise<DecodedImage> {
  const m = await openjpeg();
  const d = new m.J2KDecoder();
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    if (reduce > 0 || layers > 0) d.decodeSubResolution(reduce, layers);
    else d.decode();
    const info = d.getFrameInfo();
    const { width, height } = reduce > 0 ? d.calculateSizeAtDecompositionLevel(reduce) : info;
    const out = d.getDecodedBuffer();
    const bytesPerSample = info.bitsPerSample <= 8 ? 1 : 2;
    if (width === 0 || height === 0 || out.length !== width * height * info.componentCount * bytesPerSample) {
      throw new Error(`wasm OpenJPEG could not decode (${width}x${height}x${info.componentCount}, ${out.length} bytes)`);
    }
    return {
      width,
      height,
      components: info.componentCount,
      bitsPerSample: info.bitsPerSample,
      signed: info.isSigned,
      pixels: typed(out, info.bitsPerSample, info.isSigned),
    };
  } finally {
    d.delete();
  }
}

/** The w×h rectangle at (x, y) of `img` (clipped to the image), as a new image. */
export function cropPixels(img: DecodedImage, x: number, y: number, w: number, h: number): DecodedImage {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(img.width, x + w);
  const y1 = Math.min(img.height, y + h);
  const cw = Math.max(0, x1 - x0);
  const ch = Math.max(0, y1 - y0);
  const nc = img.components;
  const Ctor = img.pixels.constructor as new (n: number) => DecodedImage['pixels'];
  const pixels = new Ctor(cw * ch * nc);
  for (let row = 0; row < ch; row++) {
    const from = ((y0 + row) * img.width + x0) * nc;
    pixels.set(img.pixels.subarray(from, from + cw * nc), row * cw * nc);
  }
  return { ...img, width: cw, height: ch, pixels };
}

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
