/**
 * The files of the browser viewer (server/viewer-route.ts serves them): its bundle, the wasm decoder
 * from its package, and the listing of the images under the root.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The most images the listing names, and how deep it looks. */
export const MAX_LISTED = 10_000;
const MAX_DEPTH = 16;
const IMAGE = /\.(jp2|jpx|jpf|j2k|j2c|jph|jhc)$/i;

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

/** Image files under `root`, relative, '/'-separated, sorted; symbolic links and dot-files are not followed. */
export function listImages(root: string, max = MAX_LISTED): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > MAX_DEPTH || out.length >= max) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= max) return;
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r, depth + 1);
      else if (e.isFile() && IMAGE.test(e.name)) out.push(r);
    }
  };
  walk(root, '', 0);
  return out;
}

