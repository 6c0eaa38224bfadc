/**
 * Getting a request's codestreams ready on this thread, synchronously when the work is small and
 * through the worker pool when it is not: the files (a target, or the linked files of a hyperlinked
 * JPX), their shared index tables (from the process-wide registry) and the resolution levels the
 * window needs. Work that must go to the pool is signalled by throwing `Wait` with the promise of
 * that work; the service retries the request when it settles (nothing has been changed by then).
 */
import * as path from 'node:path';
import { errorData, fromErrorData, isImageFault, JpipdError } from '../errors.js';
import { ScanBudgetExceeded } from '../bytes/buffered-source.js';
import type { Catalog, OpenFile } from '../io/catalog.js';
import { LengthsFile } from '../io/lengths-cache.js';
import { CodestreamIndex, FRONT_END_LOCK_WAIT_MS, slotCount } from '../packet-index/codestream-index.js';
import type { IndexTables } from '../packet-index/registry.js';
import type { HeavyWork } from './thread-links.js';

/** Thrown when a request must wait for asynchronous work before it can run. */
export class Wait {
  /** The session whose turn the waiting request holds (set by the service). */
  turn: unknown = null;
  constructor(readonly promise: Promise<unknown>) {}
}

/** Most bytes (PLT lists, or packet data whose headers are decoded) a front end reads itself to index new levels (about a millisecond of work). */
export const INLINE_INDEX_BYTES = 256 * 1024;

/** One codestream of a request: where it lives and its packet index. */
export interface StreamRef {
  /** The file that holds it (the target, or a linked frame file). */
  file: OpenFile;
  index: CodestreamIndex;
}

/** The thread's views of shared index tables, per opened file and codestream. */
export class Streams {
  private readonly views = new Map<OpenFile, Array<CodestreamIndex | undefined>>();
  private readonly pendingOpens = new Map<string, Promise<unknown>>();
  private readonly pendingIndexes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly tables: IndexTables,
    private readonly pool: HeavyWork,
    private readonly inlineIndexBytes = INLINE_INDEX_BYTES,
  ) {}

  /**
   * The current version of `rel`, opened here if its layout is cheap to load, else by a pool worker
   * (throws Wait). Image faults throw JpipdError; a vanished file ERR_TARGET_NOT_FOUND.
   */
  file(rel: string, abs: string): OpenFile {
    // A pool worker is loading this file already: wait for it rather than scan again here (under a
    // burst of new clients each inline attempt would read up to the budget for nothing).
    const pending = this.pendingOpens.get(rel);
    if (pending) throw new Wait(pending);
    try {
      return this.catalog.open(rel, abs);
    } catch (e) {
      if (e instanceof ScanBudgetExceeded) throw new Wait(this.openInPool(rel, abs));
      if (e instanceof JpipdError) throw e;
      throw new JpipdError('ERR_TARGET_NOT_FOUND', 'no such image');
    }
  }

  private openInPool(rel: string, abs: string): Promise<unknown> {
    let p = this.pendingOpens.get(rel);
    if (!p) {
      const { root, cacheDir } = this.catalog;
      p = this.pool.open({ kind: 'open', abs, rel, root, cacheDir }).then((r) => {
        if (!r.ok) {
          const e = fromErrorData(r.error);
          if (r.stamp) this.catalog.refuse(rel, r.stamp, e);
          throw e;
        }
        this.catalog.install(rel, abs, r.stamp, r.layout);
      });
      this.pendingOpens.set(rel, p);
      p.then(
        () => this.pendingOpens.delete(rel),
        () => this.pendingOpens.delete(rel),
      );
    }
    return p;
  }

  /**
   * Codestream `cs` of `target` — its own, or the linked file's for a hyperlinked JPX — with its
   * index view. Per-frame problems are returned, not thrown, so a movie request can serve its other
   * frames; Wait is thrown when a frame file must be loaded by the pool.
   */
  stream(target: OpenFile, cs: number): StreamRef | JpipdError {
    try {
      return this.locate(target, cs);
    } catch (e) {
      if (e instanceof Wait) throw e;
      if (e instanceof JpipdError) return e;
      return new JpipdError('ERR_TARGET_NOT_FOUND', `frame ${cs}: linked file not found`);
    }
  }

  /** Makes sure levels 0..upTo of `ref` are indexed: here when cheap, else by the pool (throws Wait). */
  ready(ref: StreamRef, upTo: number): void {
    if (ref.index.ready(upTo)) return;
    const failed = ref.index.shared.failure();
    // ERR_INTERNAL: a thread died holding this table's lock; asked again, view() gets a fresh table.
    if (failed === 'ERR_INTERNAL') throw new Wait(Promise.resolve());
    if (failed) throw new JpipdError(failed, 'this codestream cannot be indexed');
    if (ref.index.buildBytes > this.inlineIndexBytes) throw new Wait(this.indexInPool(ref, upTo));
    try {
      ref.index.ensure(upTo);
    } catch (e) {
      if (e instanceof JpipdError && isImageFault(e.code)) ref.index.shared.fail(e.code);
      throw e;
    }
  }

  private locate(target: OpenFile, cs: number): StreamRef {
    const links = target.layout.links;
    if (!links) {
      const layout = target.layout.codestreams[cs];
      if (!layout) throw new JpipdError('ERR_INTERNAL', `no codestream ${cs}`);
      if (layout.broken) throw fromErrorData(errorData(layout.broken.code, layout.broken.message));
      return { file: target, index: this.view(target, cs) };
    }
    const link = links[cs];
    if (!link || link.error || !link.rel) throw link?.error ? fromErrorData(errorData(link.error.code, link.error.message)) : new JpipdError('ERR_TARGET_NOT_FOUND', `frame ${cs}: no such frame`);
    let frame: OpenFile;
    try {
      frame = this.file(link.rel, path.join(this.catalog.root, link.rel));
    } catch (e) {
      if (e instanceof JpipdError) throw new JpipdError(e.code, `frame ${cs}: ${e.message}`);
      throw e;
    }
    const inFrame = frame.layout.codestreams.findIndex((c) => c.offset === link.offset);
    if (inFrame < 0) throw new JpipdError('ERR_IMAGE_CORRUPT', `frame ${cs}: the link does not point at a codestream of the linked file`);
    return { file: frame, index: this.view(frame, inFrame) };
  }

  /** The view of codestream `cs` of `file` (its shared table asked of the registry once per thread). */
  private view(file: OpenFile, cs: number): CodestreamIndex {
    let list = this.views.get(file);
    if (!list) {
      list = [];
      this.views.set(file, list);
    }
    let v = list[cs];
    if (v && v.shared.failure() === 'ERR_INTERNAL') v = undefined; // see ready(): take the fresh table
    if (!v) {
      const layout = file.layout.codestreams[cs];
      const dir = this.catalog.cacheDir;
      const learnt = dir ? new LengthsFile(dir, file.abs, file.stamp, cs) : undefined;
      v = new CodestreamIndex(layout, file.source, this.tables.table(file.key, cs, slotCount(layout)), FRONT_END_LOCK_WAIT_MS, learnt);
      list[cs] = v;
    }
    return v;
  }

  private indexInPool(ref: StreamRef, upTo: number): Promise<unknown> {
    const f = ref.file;
    const cs = f.layout.codestreams.indexOf(ref.index.layout);
    const key = `${f.key}|${cs}|${upTo}`;
    let p = this.pendingIndexes.get(key);
    if (!p) {
      const { root, cacheDir } = this.catalog;
      p = this.pool.index({ kind: 'index', abs: f.abs, rel: f.rel, root, cacheDir, stamp: f.stamp, cs, upTo, sab: ref.index.shared.sab }).then((r) => {
        if (!r.ok) {
          // The table was failed under the task (its worker died holding the lock): run the request
          // again, on a fresh table.
          if (r.error.code === 'ERR_INTERNAL' && ref.index.shared.failure() === 'ERR_INTERNAL') return;
          // A broken image is broken for every thread: mark its table so no one builds it again.
          if (isImageFault(r.error.code)) ref.index.shared.fail(r.error.code);
          throw fromErrorData(r.error);
        }
      });
      this.pendingIndexes.set(key, p);
      p.then(
        () => this.pendingIndexes.delete(key),
        () => this.pendingIndexes.delete(key),
      );
    }
    return p;
  }

  /** Forgets the views of files with version `key` (the registry dropped their tables). */
  dropVersion(key: string): void {
    for (const f of this.views.keys()) if (f.key === key) this.views.delete(f);
  }

  /** Forgets the views of a file (it was closed). */
  dropFile(f: OpenFile): void {
    this.views.delete(f);
  }
}
