/**
 * File byte sources for worker threads: synchronous positional reads (workers may block; the
 * uWebSockets.js thread never calls these). Open descriptors are kept in a small per-thread LRU.
 */
import * as fs from 'node:fs';
import { checkRange, type ByteSource } from '../bytes/source.js';
import { JpipdError } from '../errors.js';

/** Largest single read (a packet or a header); bigger requests are a corrupt-length symptom. */
export const MAX_READ = 256 * 1024 * 1024;

/** A ByteSource over an open file descriptor. */
export class FileSource implements ByteSource {
  constructor(
    readonly fd: number,
    readonly size: number,
    /** Names this file version for the shared block cache (see fileVersionId); absent: not cached. */
    readonly cacheId?: readonly [number, number],
  ) {}

  read(offset: number, length: number): Uint8Array {
    checkRange(this.size, offset, length);
    if (length > MAX_READ) throw new JpipdError('ERR_IMAGE_LIMIT', `a single read of ${length} bytes exceeds the limit`);
    const out = Buffer.allocUnsafe(length);
    this.fill(out, 0, offset, length);
    return new Uint8Array(out.buffer, out.byteOffset, length);
  }

  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    checkRange(this.size, offset, length);
    this.fill(dest, at, offset, length);
  }

  /** pread(2) until `length` bytes are in `dest[at..)`; a short file is ERR_IO (it shrank after indexing). */
  private fill(dest: Uint8Array, at: number, offset: number, length: number): void {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, dest, at + done, length - done, offset + done);
      if (n === 0) throw new JpipdError('ERR_IO', 'the image is shorter than when it was indexed');
      done += n;
    }
  }
}

/**
 * Two Int32 words naming a file version process-wide, whichever thread opened it: the file (device,
 * inode) and its version (size, modification time in µs), mixed. Different versions or files
 * collide with a probability of about 2^-64.
 */
export function fileVersionId(st: { dev: number; ino: number; size: number; mtimeMs: number }): [number, number] {
  const mix = (a: number, b: number, c: number): number => {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ 0x27d4eb2f, 0xc2b2ae35) ^ Math.imul(c ^ 0x165667b1, 0x27d4eb2f);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return (h ^ (h >>> 12)) | 0;
  };
  const split = (v: number): [number, number] => [Math.floor(v / 0x100000000) | 0, v % 0x100000000 | 0];
  const [inoHi, inoLo] = split(st.ino);
  const [sizeHi, sizeLo] = split(st.size);
  const [mtHi, mtLo] = split(Math.floor(st.mtimeMs * 1000));
  return [mix(st.dev | 0, inoHi, inoLo), mix(mix(sizeHi, sizeLo, mtHi), mtLo, inoLo)];
}

/** Identity of a file version: a changed size or mtime means a changed file. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** Per-thread cache of open files keyed by absolute path and stamp, bounded, least recently used closed first. */
export class FileCache {
  private readonly open = new Map<string, { src: FileSource; stamp: FileStamp }>();
  constructor(private readonly max = 64) {}

  /** A source for `abs`; throws ERR_IO if the file no longer matches `stamp`. */
  get(abs: string, stamp: FileStamp): FileSource {
    const hit = this.open.get(abs);
    if (hit && hit.stamp.size === stamp.size && hit.stamp.mtimeMs === stamp.mtimeMs) {
      // The file may have been rewritten in place since it was opened: one fstat per use catches it.
      const st = fs.fstatSync(hit.src.fd);
      if (st.size === stamp.size && st.mtimeMs === stamp.mtimeMs) {
        this.open.delete(abs);
        this.open.set(abs, hit);
        return hit.src;
      }
    }
    if (hit) this.drop(abs);
    const fd = fs.openSync(abs, 'r');
    const st = fs.fstatSync(fd);
    if (st.size !== stamp.size || st.mtimeMs !== stamp.mtimeMs) {
      fs.closeSync(fd);
      throw new JpipdError('ERR_TARGET_CHANGED', 'the image changed since this channel opened it');
    }
    const src = new FileSource(fd, st.size);
    this.open.set(abs, { src, stamp });
    while (this.open.size > this.max) this.drop(this.open.keys().next().value as string);
    return src;
  }

  private drop(abs: string): void {
    const e = this.open.get(abs);
    if (!e) return;
    this.open.delete(abs);
    try {
      fs.closeSync(e.src.fd);
    } catch {
      // already closed: nothing to release
    }
  }

  /** Closes every descriptor. */
  closeAll(): void {
    for (const abs of [...this.open.keys()]) this.drop(abs);
  }
}
