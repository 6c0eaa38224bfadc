/**
 * The on-disk index cache (the ESA paper's "little cache file"): per image, a small versioned JSON
 * file with the positions of the boxes, main header, tile-part headers and PLT lists. It is keyed on
 * the image's real path, size and mtime, and carries a fingerprint of the file's first 64 KiB (boxes
 * and main header): an entry is used only when all four match and its layout is plausible for the
 * file (every range inside it). The folder must be private (owned by this user, not writable by
 * others; the default one is created 0700): cache files are trusted no further than that. Packet
 * offsets are never stored: they are derived from PLT lists or packet headers on demand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ByteSource } from '../bytes/source.js';
import type { TargetLayout } from '../j2k/types.js';
import type { FileStamp } from './file-source.js';

/** Format name and version written in every cache file; bump the version when TargetLayout changes. */
export const INDEX_FORMAT = 'jpipd-index';
// 5: codestreams with PPM/PPT are served (a cached layout may carry the old refusal as `broken`).
export const INDEX_VERSION = 5;
/** Bytes at the start of a file that its fingerprint covers. */
export const FINGERPRINT_BYTES = 64 * 1024;

/** Contents of one cache file. */
interface IndexFile {
  format: string;
  version: number;
  /** The image's real path. */
  key: string;
  size: number;
  mtimeMs: number;
  fingerprint: string;
  layout: TargetLayout;
}

/** Cache file path of an image (a digest of its real path: no image path appears in file names). */
export function indexPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, process.getBuiltinModule('node:crypto').createHash('sha256').update(key).digest('hex').slice(0, 32) + '.idx.json');
}

/** Fingerprint of a file's content: SHA-256 of its first FINGERPRINT_BYTES (boxes, main header). */
export function fingerprint(src: ByteSource): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(src.read(0, Math.min(src.size, FINGERPRINT_BYTES))).digest('hex');
}

/**
 * `dir` made ready as a private cache folder: created 0700 when missing; refused (null) when it is a
 * symbolic link, not a directory, owned by another user or writable by group or others — a folder
 * someone else can write could feed this server forged layouts.
 */
export function privateCacheDir(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) return null;
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return null;
    if ((st.mode & 0o022) !== 0) return null;
    return dir;
  } catch {
    return null;
  }
}

/** True when every range of `layout` lies inside a file of `size` bytes (a cheap check of what is read back). */
export function plausibleLayout(layout: TargetLayout, size: number): boolean {
  const inside = (o: unknown, n: unknown, end = size): boolean => Number.isSafeInteger(o) && Number.isSafeInteger(n) && (o as number) >= 0 && (n as number) >= 0 && (o as number) + (n as number) <= end;
  if (layout.size !== size || !Array.isArray(layout.codestreams) || !Array.isArray(layout.boxes)) return false;
  for (const b of layout.boxes) if (!inside(b.offset, b.length)) return false;
  for (const cs of layout.codestreams) {
    if (cs.broken) continue;
    if (!inside(cs.offset, cs.end - cs.offset) || !inside(cs.mainHeader.offset, cs.mainHeader.length, cs.end)) return false;
    if (!Array.isArray(cs.tileParts)) return false;
    for (const tp of cs.tileParts) {
      if (!(cs.offset <= tp.sotOffset && tp.sotOffset < tp.dataOffset && tp.dataOffset <= tp.dataEnd && tp.dataEnd <= cs.end)) return false;
      for (const p of tp.plt) if (!inside(p.offset, p.length, tp.dataOffset)) return false;
    }
  }
  return true;
}

/**
 * Loads a valid cache entry for the file `key` (its real path) at version `stamp` whose content has
 * fingerprint `print`, or null when absent, stale, for other content, implausible or unreadable.
 */
export function loadIndex(cacheDir: string, key: string, stamp: FileStamp, print: string): TargetLayout | null {
  let text: string;
  try {
    text = fs.readFileSync(indexPath(cacheDir, key), 'utf8');
  } catch {
    return null;
  }
  try {
    const f = JSON.parse(text) as IndexFile;
    if (f.format !== INDEX_FORMAT || f.version !== INDEX_VERSION || f.key !== key) return null;
    if (f.size !== stamp.size || f.mtimeMs !== stamp.mtimeMs || f.fingerprint !== print) return null;
    if (!f.layout || !plausibleLayout(f.layout, stamp.size)) return null;
    return f.layout;
  } catch {
    return null;
  }
}

/** Writes a cache entry atomically (writeCacheFile); returns false when it could not be written. */
export function saveIndex(cacheDir: string, key: string, stamp: FileStamp, print: string, layout: TargetLayout): boolean {
  const file: IndexFile = { format: INDEX_FORMAT, version: INDEX_VERSION, key, size: stamp.size, mtimeMs: stamp.mtimeMs, fingerprint: print, layout };
  return writeCacheFile(cacheDir, indexPath(cacheDir, key), JSON.stringify(file));
}

/**
 * Writes `text` to `dest` in the cache folder atomically (a temp file renamed over it, so a reader
 * never sees half a file); failures are ignored (the cache is optional) and reported as false.
 */
export function writeCacheFile(cacheDir: string, dest: string, text: string): boolean {
  const tmp = `${dest}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(tmp, text);
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
