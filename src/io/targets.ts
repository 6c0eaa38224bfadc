/**
 * Opening a target in a worker thread: stat it, load its index cache file or scan the file once
 * (boxes, main header, tile-part headers, PLT positions) and write the cache file for next time.
 */
import * as fs from 'node:fs';
import { scanTarget } from '../j2k/boxes.js';
import type { TargetLayout } from '../j2k/types.js';
import type { FileCache, FileStamp } from './file-source.js';
import { loadIndex, saveIndex } from './index-cache.js';
import { resolveLinks } from './links.js';

/** A target's layout and the file version it describes. */
export interface LoadedTarget {
  layout: TargetLayout;
  stamp: FileStamp;
  /** True if the layout came from the index cache file. */
  fromCache: boolean;
}

/**
 * Loads the layout of the file at `abs` (relative name `rel`), via the cache directory when possible.
 * Links of a hyperlinked JPX are resolved against `root` on every load (the cache file stores them
 * as written, so a linked file that appears or disappears later is seen).
 */
export function loadTarget(abs: string, rel: string, root: string, cacheDir: string | null, files: FileCache): LoadedTarget {
  const st = fs.statSync(abs);
  const stamp: FileStamp = { size: st.size, mtimeMs: st.mtimeMs };
  let layout = cacheDir ? loadIndex(cacheDir, rel, stamp) : null;
  const fromCache = layout !== null;
  if (!layout) {
    layout = scanTarget(files.get(abs, stamp));
    if (cacheDir) saveIndex(cacheDir, rel, stamp, layout);
  }
  return { layout: resolveLinks(layout, root, abs, rel), stamp, fromCache };
}
