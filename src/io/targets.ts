/**
 * Loading a target's layout: from its index cache file, or by scanning the file once (boxes, main
 * header, tile-part headers, PLT positions) and writing the cache file for next time; links of a
 * hyperlinked JPX are resolved against the image root. A front-end thread loads small targets
 * itself within a budget (`maxReads`, `maxLinks`, `maxCacheFileBytes`); past it, ScanBudgetExceeded
 * tells it to hand the work to a pool worker.
 */
import * as fs from 'node:fs';
import { BufferedSource, ScanBudgetExceeded } from '../bytes/buffered-source.js';
import type { ByteSource } from '../bytes/source.js';
import { scanTarget } from '../j2k/boxes.js';
import type { TargetLayout } from '../j2k/types.js';
import type { FileCache, FileStamp } from './file-source.js';
import { fingerprint, indexPath, loadIndex, saveIndex } from './index-cache.js';
import { resolveLinks } from './links.js';

export { ScanBudgetExceeded } from '../bytes/buffered-source.js';

/** A target's layout and the file version it describes. */
export interface LoadedTarget {
  layout: TargetLayout;
  stamp: FileStamp;
  /** True if the layout came from the index cache file. */
  fromCache: boolean;
}

/** Bounds on loading a layout inline (all unbounded by default, as in a pool worker). */
export interface LoadBudget {
  /** Reads the header scan may issue (through a 64 KiB read-ahead window). */
  maxReads?: number;
  /** Links of a hyperlinked JPX resolved (each costs a realpath and a stat). */
  maxLinks?: number;
  /** Size of an index cache file parsed. */
  maxCacheFileBytes?: number;
}

/**
 * Loads the layout of the file `src` (version `stamp`, at `abs`, named `rel` under `root`), via the
 * cache directory when possible. Throws ScanBudgetExceeded past `budget`, JpipdError for bad images.
 */
export function loadLayout(src: ByteSource, stamp: FileStamp, abs: string, rel: string, root: string, cacheDir: string | null, budget: LoadBudget = {}): LoadedTarget {
  let layout: TargetLayout | null = null;
  if (cacheDir) {
    if (budget.maxCacheFileBytes !== undefined) {
      let size = -1;
      try {
        size = fs.statSync(indexPath(cacheDir, abs)).size;
      } catch {
        // no cache file: scan below
      }
      if (size > budget.maxCacheFileBytes) throw new ScanBudgetExceeded();
    }
  }
  // Keyed on the real path, checked against the content's first bytes (index-cache.ts).
  const print = cacheDir ? fingerprint(src) : '';
  if (cacheDir) layout = loadIndex(cacheDir, abs, stamp, print);
  const fromCache = layout !== null;
  if (!layout) {
    layout = scanTarget(new BufferedSource(src, budget.maxReads));
    if (cacheDir) saveIndex(cacheDir, abs, stamp, print, layout);
  }
  if ((layout.links?.length ?? 0) > (budget.maxLinks ?? Infinity)) throw new ScanBudgetExceeded();
  return { layout: resolveLinks(layout, root, abs, rel), stamp, fromCache };
}

/** The version stamp (size, mtime) of the file at `abs` now. */
export function stampOf(abs: string): FileStamp {
  const st = fs.statSync(abs);
  return { size: st.size, mtimeMs: st.mtimeMs };
}

/** Stats and opens `abs` through `files`, then loads its layout without bounds (pool workers, CLI). */
export function loadTarget(abs: string, rel: string, root: string, cacheDir: string | null, files: FileCache): LoadedTarget {
  const st = fs.statSync(abs);
  const stamp: FileStamp = { size: st.size, mtimeMs: st.mtimeMs };
  return loadLayout(files.get(abs, stamp), stamp, abs, rel, root, cacheDir);
}
