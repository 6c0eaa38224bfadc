/**
 * `jpipd index DIR`: builds the cache files of every image ahead of time, in parallel on the worker
 * pool, with a progress bar: the layout (index cache file) and, for codestreams without PLT, the
 * packet lengths learnt by decoding every packet header once — the slow part of a first request on
 * such an image. A broken image is reported and skipped; the others are indexed.
 *
 * Resumable: each cache file is written atomically (temp file, rename) the moment its image is done,
 * and an image whose cache file is current is only read back, so a run that was interrupted (Ctrl-C,
 * a crash, a reboot) and started again redoes at most the images that were in progress.
 */
import * as path from 'node:path';
import { WorkerPool } from '../pool/pool.js';
import { progress } from './progress.js';

/** Outcome of indexing a folder. */
export interface IndexOutcome {
  images: number;
  indexed: number;
  cached: number;
  failed: number;
  failures: Array<{ image: string; code: string; message: string }>;
  /** Codestreams without PLT whose packet lengths are now kept (decoded by this run or an earlier one). */
  withoutPlt: number;
  /** Worker threads used. */
  threads: number;
  seconds: number;
  /** Images (indexed, cached or failed) per second. */
  perSecond: number;
  /** Stopped early (SIGINT/SIGTERM): the rest is done by the next run. */
  interrupted: boolean;
}

/** Images handed to the pool ahead of those being indexed, per thread (keeps every thread fed). */
const AHEAD_PER_THREAD = 4;

/**
 * Indexes `images` (paths relative to `root`, its realpath) into `cacheDir` on `threads` pool threads.
 * `stop()` returning true ends the run after the images in progress.
 */
export async function indexFolder(root: string, images: string[], cacheDir: string, out: NodeJS.WriteStream, threads: number, stop: () => boolean = () => false): Promise<IndexOutcome> {
  const pool = new WorkerPool({ threads, retries: 1 });
  const result: IndexOutcome = { images: images.length, indexed: 0, cached: 0, failed: 0, failures: [], withoutPlt: 0, threads, seconds: 0, perSecond: 0, interrupted: false };
  const bar = progress(out);
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const one = async (rel: string): Promise<void> => {
    try {
      const r = await pool.warm({ kind: 'warm', abs: path.join(root, rel), rel, root, cacheDir });
      if (!r.ok) {
        result.failed++;
        result.failures.push({ image: rel, code: r.error.code, message: r.error.message });
      } else {
        if (r.fromCache) result.cached++;
        else result.indexed++;
        result.withoutPlt += r.learnt;
      }
    } catch (e) {
      result.failed++;
      result.failures.push({ image: rel, code: 'ERR_INTERNAL', message: (e as Error).message.split('\n')[0] });
    }
    bar.update(++done, images.length, rel);
  };
  // A fixed number of runners, each taking the next image when its last one is done.
  const runner = async (): Promise<void> => {
    while (next < images.length) {
      if (stop()) {
        result.interrupted = true;
        return;
      }
      await one(images[next++]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(images.length, threads * AHEAD_PER_THREAD) }, runner));
  } finally {
    bar.stop();
    await pool.close();
  }
  result.failures.sort((a, b) => (a.image < b.image ? -1 : 1));
  result.seconds = (performance.now() - t0) / 1000;
  result.perSecond = result.seconds > 0 ? done / result.seconds : 0;
  return result;
}
