/**
 * Decoding with OpenJPEG compiled to WebAssembly (@cornerstonejs/codec-openjpeg), given its loaded
 * module: pure code shared by Node (decode.ts loads the module with require) and the browser viewer
 * (which loads it with a script tag). Returns interleaved samples (component fastest) of the image at
 * a reduced resolution, and crops a window out of it.
 */
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

export interface OpenJpegModule {
  J2KDecoder: new () => J2KDecoder;
}

function typed(bytes: Uint8Array, bits: number, signed: boolean): DecodedImage['pixels'] {
  const own = new Uint8Array(bytes);
  if (bits <= 8) return signed ? new Int8Array(own.buffer) : own;
  const n = own.length / 2;
  return signed ? new Int16Array(own.buffer, 0, n) : new Uint16Array(own.buffer, 0, n);
}

/**
 * Decodes a raw codestream (or JP2) with the wasm OpenJPEG module `m`; `reduce` discards that many resolution
 * levels and `layers` > 0 decodes only that many quality layers (decodeSubResolution(level, layers);
 * 0 = all). Samples > 8 bits are little-endian 16-bit.
 */
export function decodeWith(m: OpenJpegModule, bytes: Uint8Array, reduce = 0, layers = 0): DecodedImage {
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

/**
 * The window (x, y, w, h) of a frame fx × fy out of the decoded image of that frame. OpenJPEG's output
 * may start at the canvas origin rather than at the image offset, so it can be larger than the frame
 * by the offset at that level: the window is shifted by the difference.
 */
export function cropWindow(img: DecodedImage, fx: number, fy: number, x: number, y: number, w: number, h: number): DecodedImage {
  return cropPixels(img, x + Math.max(0, img.width - fx), y + Math.max(0, img.height - fy), w, h);
}
