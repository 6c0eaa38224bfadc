/**
 * The on-disk index cache (the ESA paper's "little cache file"): per image, a small versioned JSON
 * file with the positions of the boxes, main header, tile-part headers and PLT lists, keyed on the
 * image's relative path, size and mtime so that a changed file is re-indexed. Packet offsets are
 * never stored: they are derived from the PLT lists on demand (packet-index/).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TargetLayout } from '../j2k/types.js';
import type { FileStamp } from './file-source.js';

/** Format name and version written in every cache file; bump the version when TargetLayout changes. */
export const INDEX_FORMAT = 'jpipd-index';
export const INDEX_VERSION = 3;

/** Contents of one cache file. */
interface IndexFile {
  format: string;
  version: number;
  rel: string;
  size: number;
  mtimeMs: number;
  layout: TargetLayout;
}

/** Cache file path of an image (a digest of its relative path: no image path appears in file names). */
export function indexPath(cacheDir: string, rel: string): string {
  return path.join(cacheDir, process.getBuiltinModule('node:crypto').createHash('sha256').update(rel).digest('hex').slice(0, 32) + '.idx.json');
}

/** Loads a valid cache entry for (rel, stamp), or null when absent, stale or unreadable. */
export function loadIndex(cacheDir: string, rel: string, stamp: FileStamp): TargetLayout | null {
  let text: string;
  try {
    text = fs.readFileSync(indexPath(cacheDir, rel), 'utf8');
  } catch {
    return null;
  }
  try {
    const f = JSON.parse(text) as IndexFile;
    if (f.format !== INDEX_FORMAT || f.version !== INDEX_VERSION || f.rel !== rel) return null;
    if (f.size !== stamp.size || f.mtimeMs !== stamp.mtimeMs) return null;
    if (!f.layout || !Array.isArray(f.layout.codestreams)) return null;
    return f.layout;
  } catch {
    return null;
  }
}

/** Writes a cache entry atomically (temp file + rename); failures are ignored (the cache is optional). */
export function saveIndex(cacheDir: string, rel: string, stamp: FileStamp, layout: TargetLayout): boolean {
  const file: IndexFile = { format: INDEX_FORMAT, version: INDEX_VERSION, rel, size: stamp.size, mtimeMs: stamp.mtimeMs, layout };
  const dest = indexPath(cacheDir, rel);
  const tmp = `${dest}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(file));
    fs.renameSync(tmp, dest);
    return true;
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    return false;
  }
}
