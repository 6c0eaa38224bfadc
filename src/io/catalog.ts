/**
 * A thread's catalog of opened images: request targets resolved under the image root (cached for a
 * short while, so a request costs no realpath), and per image file its current version — layout,
 * open descriptor, file stamp — revalidated with one stat at most every `revalidateMs`. Opening is
 * synchronous and bounded (`budget`); a file past the bound makes `open` throw ScanBudgetExceeded and
 * the caller has a pool worker load the layout, then `install`s it. Files in use are never closed;
 * idle ones are closed least recently used first beyond `maxOpenFiles`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isImageFault, JpipdError } from '../errors.js';
import type { TargetLayout } from '../j2k/types.js';
import { FileSource, fileVersionId, type FileStamp } from './file-source.js';
import { resolveTarget, type ResolvedTarget } from './paths.js';
import { loadLayout, type LoadBudget } from './targets.js';

/** Catalog settings. */
export interface CatalogOptions {
  /** Realpath of the image root. */
  root: string;
  cacheDir: string | null;
  /** A file is re-stat'ed (changes detected) at most this often; also the target resolution cache time. */
  revalidateMs?: number;
  /** Idle open files kept (descriptors). */
  maxOpenFiles?: number;
  /** Bound on an inline open (see io/targets.ts). */
  budget?: LoadBudget;
  /** Called when a version's descriptor is closed (views over it must be dropped). */
  onClose?: (f: OpenFile) => void;
}

/** Defaults: changes seen within a second; inline opens of small images only. */
export const DEFAULT_REVALIDATE_MS = 1000;
export const DEFAULT_MAX_OPEN_FILES = 256;
export const INLINE_BUDGET: LoadBudget = { maxReads: 64, maxLinks: 64, maxCacheFileBytes: 1024 * 1024 };

/** The name of an image version: changes when the file changes (size or mtime). */
export function versionKey(rel: string, stamp: FileStamp): string {
  return `${rel}|${stamp.size}|${stamp.mtimeMs}`;
}

/** One opened version of an image file. */
export class OpenFile {
  /** Responses and sessions using this version (it is not closed while > 0). */
  users = 0;
  /** A newer version replaced this one (or the file vanished). */
  stale = false;
  /** The file system reported a change (to be confirmed by stat); always true without a watcher. */
  suspect = false;
  /** Watches the file so that a change is seen without a system call per request. */
  watcher: fs.FSWatcher | null = null;
  closed = false;
  checkedAt: number;
  readonly key: string;

  constructor(
    readonly abs: string,
    readonly rel: string,
    readonly stamp: FileStamp,
    readonly layout: TargetLayout,
    readonly source: FileSource,
    now: number,
    /** The layout came from the index cache file (not a scan). */
    readonly fromCache = false,
  ) {
    this.key = versionKey(rel, stamp);
    this.checkedAt = now;
  }
}

/** The thread's opened images. */
/** Refused image versions remembered per catalog (thread). */
export const MAX_REFUSALS = 1024;

export class Catalog {
  private readonly refusals = new Map<string, { size: number; mtimeMs: number; error: JpipdError }>();
  /** Requests answered from a remembered refusal (tests, stats). */
  refusalHits = 0;
  readonly root: string;
  readonly cacheDir: string | null;
  private readonly revalidateMs: number;
  private readonly maxOpenFiles: number;
  private readonly budget: LoadBudget;
  private readonly onClose: (f: OpenFile) => void;
  private readonly files = new Map<string, OpenFile>();
  private readonly targets = new Map<string, { resolved: ResolvedTarget; at: number }>();

  constructor(opts: CatalogOptions) {
    this.root = opts.root;
    this.cacheDir = opts.cacheDir;
    this.revalidateMs = opts.revalidateMs ?? DEFAULT_REVALIDATE_MS;
    this.maxOpenFiles = opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES;
    this.budget = opts.budget ?? INLINE_BUDGET;
    this.onClose = opts.onClose ?? (() => {});
  }

  /** Maps a request target to a file under the root (io/paths.ts rules), cached for revalidateMs. */
  resolve(target: string, now = Date.now()): ResolvedTarget {
    const hit = this.targets.get(target);
    if (hit && now - hit.at < this.revalidateMs) return hit.resolved;
    const resolved = resolveTarget(this.root, target);
    if (this.targets.size >= 4096) this.targets.clear();
    this.targets.set(target, { resolved, at: now });
    return resolved;
  }

  /**
   * The current version of the file `rel` (at `abs`), opened within the inline budget if needed.
   * Throws ScanBudgetExceeded (load it in a worker, then install), JpipdError for a bad image, or
   * a Node error (ENOENT) when the file is gone.
   */
  open(rel: string, abs: string, now = Date.now()): OpenFile {
    const cur = this.files.get(rel);
    if (cur && this.fresh(cur, now)) {
      this.touch(rel, cur);
      return cur;
    }
    const { source, stamp } = openStamped(abs);
    const known = this.refusal(rel, stamp);
    if (known) {
      fs.closeSync(source.fd);
      throw known;
    }
    try {
      const { layout, fromCache } = loadLayout(source, stamp, abs, rel, this.root, this.cacheDir, this.budget);
      return this.add(new OpenFile(abs, rel, stamp, layout, source, now, fromCache));
    } catch (e) {
      fs.closeSync(source.fd);
      if (e instanceof JpipdError) this.refuse(rel, stamp, e);
      throw e;
    }
  }

  /**
   * Remembers that version `stamp` of `rel` is not a servable image (corrupt, unsupported or beyond a
   * bound), so later requests get the same error without scanning it again until the file changes.
   * Other errors (I/O, budget) are not remembered. At most MAX_REFUSALS entries, oldest dropped.
   */
  refuse(rel: string, stamp: FileStamp, e: JpipdError): void {
    if (!isImageFault(e.code)) return;
    this.refusals.delete(rel);
    if (this.refusals.size >= MAX_REFUSALS) this.refusals.delete(this.refusals.keys().next().value as string);
    this.refusals.set(rel, { size: stamp.size, mtimeMs: stamp.mtimeMs, error: e });
  }

  /** The remembered refusal of this version of `rel`, if any (counted in `refusalHits`). */
  private refusal(rel: string, stamp: FileStamp): JpipdError | null {
    const r = this.refusals.get(rel);
    if (!r) return null;
    if (r.size !== stamp.size || r.mtimeMs !== stamp.mtimeMs) {
      this.refusals.delete(rel);
      return null;
    }
    this.refusalHits++;
    return new JpipdError(r.error.code, r.error.message);
  }

  /** Installs a layout a worker loaded for version `stamp` of `rel` (refused if the file changed since). */
  install(rel: string, abs: string, stamp: FileStamp, layout: TargetLayout, now = Date.now()): OpenFile {
    const cur = this.files.get(rel);
    if (cur && !cur.stale && cur.stamp.size === stamp.size && cur.stamp.mtimeMs === stamp.mtimeMs) return cur;
    const opened = openStamped(abs);
    if (opened.stamp.size !== stamp.size || opened.stamp.mtimeMs !== stamp.mtimeMs) {
      fs.closeSync(opened.source.fd);
      throw new JpipdError('ERR_TARGET_CHANGED', 'the image changed while it was being indexed');
    }
    return this.add(new OpenFile(abs, rel, stamp, layout, opened.source, now));
  }

  /**
   * True while `f` is still the file on disk. Each open version is watched (inotify on Linux): a
   * write, a touch or a rename makes it suspect, and the next request confirms with fstat on the
   * descriptor and stat on the path — a file rewritten in place must never be served through its
   * old layout, and a file replaced by another (renamed over it) gets a new version. Without a
   * watcher the check runs on every call. The path is also stat'ed every revalidateMs regardless.
   * A changed or vanished file marks `f` stale (the next open() loads the new version).
   */
  fresh(f: OpenFile, now = Date.now()): boolean {
    if (f.stale) return false;
    if (!f.suspect && now - f.checkedAt < this.revalidateMs) return true;
    try {
      const st = fs.fstatSync(f.source.fd);
      if (st.size === f.stamp.size && st.mtimeMs === f.stamp.mtimeMs) {
        const onDisk = fs.statSync(f.abs);
        if (onDisk.size === f.stamp.size && onDisk.mtimeMs === f.stamp.mtimeMs && onDisk.ino === st.ino) {
          f.checkedAt = now;
          f.suspect = f.watcher === null;
          return true;
        }
      }
    } catch {
      // vanished: stale
    }
    this.retire(f);
    return false;
  }

  /** Marks a file in use (not closed while used). */
  use(f: OpenFile): void {
    f.users++;
  }

  /** Ends a use; a stale file is closed when its last user leaves. */
  unuse(f: OpenFile): void {
    f.users = Math.max(0, f.users - 1);
    if (f.users === 0 && f.stale) this.close(f);
  }

  /** Open versions (tests, stats). */
  get size(): number {
    return this.files.size;
  }

  /** Closes every descriptor (shutdown). */
  closeAll(): void {
    for (const f of this.files.values()) this.close(f);
    this.files.clear();
  }

  private add(f: OpenFile): OpenFile {
    try {
      f.watcher = fs.watch(f.abs, { persistent: false }, () => {
        f.suspect = true;
      });
      f.watcher.on('error', () => {
        f.suspect = true;
      });
    } catch {
      f.suspect = true; // no watcher (inotify limits): check on every request
    }
    const old = this.files.get(f.rel);
    if (old && old !== f) this.retire(old);
    this.files.set(f.rel, f);
    if (this.files.size > this.maxOpenFiles) {
      for (const [rel, g] of this.files) {
        if (this.files.size <= this.maxOpenFiles) break;
        if (g.users === 0 && g !== f) {
          this.files.delete(rel);
          this.close(g);
        }
      }
    }
    return f;
  }

  private touch(rel: string, f: OpenFile): void {
    // Map order is the LRU order: move to the end.
    this.files.delete(rel);
    this.files.set(rel, f);
  }

  private retire(f: OpenFile): void {
    f.stale = true;
    if (this.files.get(f.rel) === f) this.files.delete(f.rel);
    if (f.users === 0) this.close(f);
  }

  private close(f: OpenFile): void {
    if (f.closed) return;
    f.closed = true;
    f.watcher?.close();
    f.watcher = null;
    this.onClose(f);
    try {
      fs.closeSync(f.source.fd);
    } catch {
      // already closed
    }
  }
}

/** Opens `abs` and stamps the version it opened (fstat on the descriptor: no race with a rename). */
function openStamped(abs: string): { source: FileSource; stamp: FileStamp } {
  const fd = fs.openSync(abs, 'r');
  try {
    const st = fs.fstatSync(fd);
    return { source: new FileSource(fd, st.size, fileVersionId(st)), stamp: { size: st.size, mtimeMs: st.mtimeMs } };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** The absolute path of `rel` under `root`. */
export function underRoot(root: string, rel: string): string {
  return path.join(root, rel);
}
