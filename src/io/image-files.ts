/**
 * The image files under a folder: one walk for the viewer's listing, the start-up hints and
 * `jpipd index`. Relative '/'-separated paths in name order (depth first); dot-files and symbolic
 * links are not followed, unreadable folders are skipped, and both the count and the depth are bounded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The most images a listing names by default, and how deep it looks. */
export const MAX_LISTED = 10_000;
export const MAX_DEPTH = 16;
/** File names served as JPEG 2000 (JP2/JPX/JPF files, raw and HTJ2K codestreams). */
export const IMAGE_FILE = /\.(jp2|jpx|jpf|j2k|j2c|jpc|jph|jhc)$/i;

/** Image files under `root`, at most `max` of them, at most `maxDepth` folders down. */
export function listImages(root: string, max = MAX_LISTED, maxDepth = MAX_DEPTH): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > maxDepth || out.length >= max) return;
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
      else if (e.isFile() && IMAGE_FILE.test(e.name)) out.push(r);
    }
  };
  walk(root, '', 0);
  return out;
}
