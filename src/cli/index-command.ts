/**
 * `jpipd index DIR`: builds the index cache file of every image ahead of time, with a progress bar.
 * A broken image is reported and skipped; the others are indexed.
 */
import * as path from 'node:path';
import { toErrorData } from '../errors.js';
import { FileCache } from '../io/file-source.js';
import { loadTarget } from '../io/targets.js';
import { progress } from './progress.js';

/** Outcome of indexing a folder. */
export interface IndexOutcome {
  images: number;
  indexed: number;
  cached: number;
  failed: number;
  failures: Array<{ image: string; code: string; message: string }>;
}

/** Indexes `images` (paths relative to `root`) into `cacheDir`. */
export function indexFolder(root: string, images: string[], cacheDir: string, out: NodeJS.WriteStream): IndexOutcome {
  const files = new FileCache(8);
  const result: IndexOutcome = { images: images.length, indexed: 0, cached: 0, failed: 0, failures: [] };
  const bar = progress(out);
  images.forEach((rel, i) => {
    try {
      const loaded = loadTarget(path.join(root, rel), rel, root, cacheDir, files);
      if (loaded.fromCache) result.cached++;
      else result.indexed++;
    } catch (e) {
      const d = toErrorData(e);
      result.failed++;
      result.failures.push({ image: rel, code: d.code, message: d.message });
    }
    bar.update(i + 1, images.length, rel);
  });
  bar.stop();
  files.closeAll();
  return result;
}
