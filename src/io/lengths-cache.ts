/**
 * Packet lengths learnt by decoding packet headers (files without PLT), kept beside the index cache
 * file so a restart does not decode them again: per codestream, per tile, one PLT-coded list
 * (15444-1 A.7.3 Iplt) per tile-part. What is read back is trusted no more than a PLT list: the index
 * builder checks it against the tile-parts exactly as it checks PLT.
 */
import * as fs from 'node:fs';
import type { FileStamp } from './file-source.js';
import { indexPath, writeCacheFile } from './index-cache.js';

export const LENGTHS_FORMAT = 'jpipd-lengths';
export const LENGTHS_VERSION = 2;
/** Largest lengths file read back (a 4096² image with 32² code-blocks and 16 layers stays far below). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

interface LengthsJson {
  format: string;
  version: number;
  key: string;
  size: number;
  mtimeMs: number;
  cs: number;
  tiles: Record<string, string[]>;
}

/** Learnt lengths of codestream `cs` of image `rel` (version `stamp`) in `cacheDir` (packet-index's LearntLengths). */
export class LengthsFile {
  private tiles: Map<number, Uint8Array[]> | null = null;
  private dirty = false;
  private readonly path: string;

  /** `key` is the image's real path (as for the index cache file). */
  constructor(private readonly cacheDir: string, private readonly key: string, private readonly stamp: FileStamp, private readonly cs: number) {
    this.path = indexPath(cacheDir, key).replace(/\.idx\.json$/, `.cs${cs}.len.json`);
  }

  private load(): Map<number, Uint8Array[]> {
    if (this.tiles) return this.tiles;
    this.tiles = new Map();
    try {
      if (fs.statSync(this.path).size > MAX_FILE_BYTES) return this.tiles;
      const f = JSON.parse(fs.readFileSync(this.path, 'utf8')) as LengthsJson;
      const same = f.format === LENGTHS_FORMAT && f.version === LENGTHS_VERSION && f.key === this.key && f.cs === this.cs && f.size === this.stamp.size && f.mtimeMs === this.stamp.mtimeMs;
      if (same && f.tiles && typeof f.tiles === 'object') {
        for (const [k, parts] of Object.entries(f.tiles)) {
          const t = Number(k);
          if (!Number.isSafeInteger(t) || t < 0 || !Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) continue;
          this.tiles.set(t, parts.map((p) => new Uint8Array(Buffer.from(p, 'base64'))));
        }
      }
    } catch {
      // absent or unreadable: nothing learnt yet
    }
    return this.tiles;
  }

  get(t: number): Uint8Array[] | null {
    return this.load().get(t) ?? null;
  }

  /** Records tile t's lengths (written by flush(), once per build however many tiles it learnt). */
  put(t: number, parts: Uint8Array[]): void {
    this.load().set(t, parts);
    this.dirty = true;
  }

  /** Writes what was learnt since the last flush (atomically: temp file + rename; failures ignored). */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const tiles = this.load();
    const file: LengthsJson = { format: LENGTHS_FORMAT, version: LENGTHS_VERSION, key: this.key, size: this.stamp.size, mtimeMs: this.stamp.mtimeMs, cs: this.cs, tiles: {} };
    for (const [k, v] of tiles) file.tiles[k] = v.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64'));
    writeCacheFile(this.cacheDir, this.path, JSON.stringify(file));
  }
}
