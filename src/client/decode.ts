/**
 * Decoding what a JPIP client reassembled, in Node: loads the WebAssembly OpenJPEG of
 * @cornerstonejs/codec-openjpeg (reads HTJ2K too) once and decodes with decode-core.ts. Used by
 * `jpipd get` and the tests; the browser viewer loads the same module with a script tag.
 */
import { createRequire } from 'node:module';
import { decodeWith, type DecodedImage, type OpenJpegModule } from './decode-core.js';

export { cropPixels, cropWindow, type DecodedImage } from './decode-core.js';

let modulePromise: Promise<OpenJpegModule> | null = null;

function openjpeg(): Promise<OpenJpegModule> {
  if (modulePromise === null) {
    const require = createRequire(import.meta.url);
    const factory = require('@cornerstonejs/codec-openjpeg/decodewasmjs') as (o: object) => Promise<OpenJpegModule>;
    modulePromise = factory({ print: () => {}, printErr: () => {} });
  }
  return modulePromise;
}

/** Decodes a raw codestream (or JP2) at `reduce` discarded levels (`layers` > 0: only that many layers). */
export async function decodeJ2k(bytes: Uint8Array, reduce = 0, layers = 0): Promise<DecodedImage> {
  return decodeWith(await openjpeg(), bytes, reduce, layers);
}
