/**
 * The files of the browser viewer (server/viewer-route.ts serves them): its bundle, the wasm decoder
 * from its package (the image listing is io/image-files.ts).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The viewer bundle: next to the built server (dist/app → dist/viewer) or, from the sources, in dist/viewer. */
export function readViewerBundle(): Uint8Array | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const p of [path.join(here, '../viewer/viewer.js'), path.join(here, '../../dist/viewer/viewer.js')]) {
    try {
      return fs.readFileSync(p);
    } catch {
      // try the next place
    }
  }
  return null;
}

/** The decoder's script and wasm from its package (a dependency). */
export function readViewerDecoder(file: string): Uint8Array | null {
  try {
    const js = createRequire(import.meta.url).resolve('@cornerstonejs/codec-openjpeg/decodewasmjs');
    return fs.readFileSync(path.join(path.dirname(js), file));
  } catch {
    return null;
  }
}
