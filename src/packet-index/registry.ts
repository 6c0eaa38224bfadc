/**
 * The process-wide table of shared packet indexes (one registry, owned by the main thread): one
 * SharedArrayBuffer per (image version, codestream), made on first request and handed to every
 * thread that asks, so each codestream is indexed once for all threads. Image versions are reference
 * counted by the sessions using them; total index memory is bounded: versions no session uses are
 * dropped, least recently used first, when the budget is exceeded (threads are told, and drop their
 * views). Front ends on other threads reach it through server/thread-links.ts.
 */
import { JpipdError } from '../errors.js';
import { indexByteLength, SharedPacketIndex } from './shared-index.js';

/** What a thread needs of the registry (the main thread's IndexRegistry, or a link to it). */
export interface IndexTables {
  /** The shared table of codestream `cs` of image version `key`, sized for `slots` packets. */
  table(key: string, cs: number, slots: number): SharedArrayBuffer;
  /** A session starts using image version `key` (its tables are kept while used). */
  acquire(key: string): void;
  /** A session stopped using image version `key`. */
  release(key: string): void;
  /** Image version `key` is gone (the file changed): drop its tables as soon as no session uses them. */
  retire(key: string): void;
}

/** Registry statistics. */
export interface RegistryStats {
  images: number;
  indexBytes: number;
  budgetBytes: number;
  evictions: number;
  /** Tables failed because the thread holding their write lock ended. */
  recovered: number;
  /** Failed tables replaced by fresh ones. */
  replaced: number;
  /** Releases without a matching acquire (a bookkeeping bug if ever non-zero). */
  unmatchedReleases: number;
}

interface Entry {
  tables: Map<number, SharedArrayBuffer>;
  bytes: number;
  refs: number;
  lastUsed: number;
  /** The file changed: this version is dropped when its last session ends. */
  retired?: boolean;
}

/** Default bound on shared index memory. */
export const DEFAULT_INDEX_BUDGET_BYTES = 512 * 1024 * 1024;

/** The shared index tables of every image version, by version key. */
export class IndexRegistry implements IndexTables {
  private readonly entries = new Map<string, Entry>();
  private indexBytes = 0;
  private evictions = 0;
  private recovered = 0;
  private unmatchedReleases = 0;
  private replaced = 0;
  /** Called with the key of every version dropped (threads drop their views of its tables). */
  onEvict: (key: string) => void = () => {};

  constructor(readonly budgetBytes = DEFAULT_INDEX_BUDGET_BYTES) {}

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) {
      e = { tables: new Map(), bytes: 0, refs: 0, lastUsed: Date.now() };
      this.entries.set(key, e);
    }
    return e;
  }

  table(key: string, cs: number, slots: number): SharedArrayBuffer {
    let found = this.entries.get(key)?.tables.get(cs);
    if (found && SharedPacketIndex.attach(found).failure() === 'ERR_INTERNAL') {
      // Failed by a thread that died holding its lock (recoverThread): start a fresh table.
      const e = this.entry(key);
      e.tables.delete(cs);
      e.bytes -= found.byteLength;
      this.indexBytes -= found.byteLength;
      this.replaced++;
      found = undefined;
    }
    if (found) {
      if (SharedPacketIndex.attach(found).slotCount !== Math.max(1, slots)) throw new JpipdError('ERR_INTERNAL', `index table ${cs} of an image asked with another size`);
      this.entry(key).lastUsed = Date.now();
      return found;
    }
    const bytes = indexByteLength(Math.max(1, slots));
    if (bytes > this.budgetBytes) throw new JpipdError('ERR_INDEX_BUDGET', `the packet index of this codestream (${bytes} bytes) exceeds the index memory budget`);
    const sab = SharedPacketIndex.allocate(Math.max(1, slots)).sab;
    const e = this.entry(key);
    e.lastUsed = Date.now();
    e.tables.set(cs, sab);
    e.bytes += sab.byteLength;
    this.indexBytes += sab.byteLength;
    this.enforceBudget(key);
    return sab;
  }

  acquire(key: string): void {
    const e = this.entry(key);
    e.refs++;
    e.lastUsed = Date.now();
  }

  release(key: string): void {
    const e = this.entries.get(key);
    if (!e || e.refs === 0) {
      // A release without its acquire is a bookkeeping bug: counted (stats), never hidden.
      this.unmatchedReleases++;
      return;
    }
    e.refs--;
    e.lastUsed = Date.now();
    if (e.refs === 0 && (e.bytes === 0 || e.retired)) this.drop(key, e);
    this.enforceBudget();
  }

  retire(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.retired = true;
    if (e.refs === 0) this.drop(key, e);
  }

  /** Forgets a version and its tables now (threads are told to drop their views). */
  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.indexBytes -= e.bytes;
    if (e.bytes > 0) this.onEvict(key);
  }

  /** References to image version `key` (tests, stats). */
  refs(key: string): number {
    return this.entries.get(key)?.refs ?? 0;
  }

  /**
   * A thread ended: every table whose write lock it held is marked failed (lock-free), so no one waits
   * on that lock again; the next table() call for it starts a fresh one and the levels are indexed
   * again. Returns the number of tables failed. (A live thread's lock is never taken over: the check
   * is by the dead thread's id, which Node never reuses within a process.)
   */
  recoverThread(threadId: number): number {
    let n = 0;
    for (const e of this.entries.values()) {
      for (const sab of e.tables.values()) {
        const idx = SharedPacketIndex.attach(sab);
        if (idx.lock.writerThreadId() === threadId && idx.fail('ERR_INTERNAL')) n++;
      }
    }
    this.recovered += n;
    return n;
  }

  /** Drops unreferenced versions, least recently used first, while over budget (never `keep`). */
  private enforceBudget(keep?: string): void {
    if (this.indexBytes <= this.budgetBytes) return;
    const idle = [...this.entries].filter(([k, e]) => e.refs === 0 && e.bytes > 0 && k !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [key, e] of idle) {
      if (this.indexBytes <= this.budgetBytes) break;
      this.entries.delete(key);
      this.indexBytes -= e.bytes;
      this.evictions++;
      this.onEvict(key);
    }
  }

  /** Current numbers. */
  stats(): RegistryStats {
    return { images: this.entries.size, indexBytes: this.indexBytes, budgetBytes: this.budgetBytes, evictions: this.evictions, recovered: this.recovered, replaced: this.replaced, unmatchedReleases: this.unmatchedReleases };
  }
}
