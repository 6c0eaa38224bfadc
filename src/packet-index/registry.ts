/**
 * The front end's table of opened images: one entry per image version, shared by every client,
 * reference counted by sessions, each with one SharedArrayBuffer packet index per codestream
 * (allocated on first use). Total index memory is bounded: images no session holds are dropped,
 * least recently used first, when the budget is exceeded. Opening itself (file I/O) is delegated.
 */
import { JpipdError } from '../errors.js';
import { SharedPacketIndex } from './shared-index.js';

/** What opening an image reports (see pool/messages ImageSummary). */
export interface OpenedSummary {
  key: string;
  size: number;
  mtimeMs: number;
  codestreams: number;
  slotCounts: number[];
}

/** One opened image version. */
export interface OpenImage<S extends OpenedSummary = OpenedSummary> {
  abs: string;
  rel: string;
  /** Key plus a generation number, unique per registry entry (names worker-side caches). */
  key: string;
  summary: S;
  sabs: (SharedArrayBuffer | undefined)[];
  refs: number;
  lastUsed: number;
  bytes: number;
  /** Images this one links to (a hyperlinked JPX's frames), each holding one reference while this entry lives. */
  children: Map<string, Promise<OpenImage<S>>>;
}

/** Registry statistics. */
export interface RegistryStats {
  images: number;
  indexBytes: number;
  budgetBytes: number;
  evictions: number;
}

/** Opened images, by relative path. */
export class ImageRegistry<S extends OpenedSummary = OpenedSummary> {
  private readonly images = new Map<string, OpenImage<S>>();
  private readonly pending = new Map<string, Promise<OpenImage<S>>>();
  private generation = 0;
  private indexBytes = 0;
  private evictions = 0;

  constructor(
    private readonly opener: (abs: string, rel: string) => Promise<S>,
    private readonly stat: (abs: string) => Promise<{ size: number; mtimeMs: number }>,
    readonly budgetBytes = 512 * 1024 * 1024,
  ) {}

  /**
   * Returns the image at `rel`, opening (indexing) it if needed or if the file changed since, and
   * takes a reference. Concurrent acquires of one image share one open.
   */
  async acquire(abs: string, rel: string): Promise<OpenImage<S>> {
    const st = await this.stat(abs);
    const cur = this.images.get(rel);
    if (cur && cur.summary.size === st.size && cur.summary.mtimeMs === st.mtimeMs) return this.take(cur);
    let p = this.pending.get(rel);
    if (!p) {
      p = this.opener(abs, rel).then((summary) => {
        const old = this.images.get(rel);
        if (old && old.refs === 0) this.drop(rel, old);
        const img: OpenImage<S> = { abs, rel, key: `${summary.key}|g${++this.generation}`, summary, sabs: [], refs: 0, lastUsed: Date.now(), bytes: 0, children: new Map() };
        this.images.set(rel, img);
        return img;
      });
      this.pending.set(rel, p);
      p.finally(() => this.pending.delete(rel)).catch(() => {});
    }
    return this.take(await p);
  }

  private take(img: OpenImage<S>): OpenImage<S> {
    img.refs++;
    img.lastUsed = Date.now();
    return img;
  }

  /**
   * An image `parent` links to (a frame of a hyperlinked JPX), acquired once per parent entry and
   * shared with every other movie linking the same file; released when the parent entry is dropped.
   * A failed open is not memoised, so a frame that appears later is found.
   */
  child(parent: OpenImage<S>, abs: string, rel: string): Promise<OpenImage<S>> {
    let p = parent.children.get(rel);
    if (!p) {
      p = this.acquire(abs, rel);
      parent.children.set(rel, p);
      p.catch(() => parent.children.delete(rel));
    }
    return p;
  }

  /** Drops a reference taken by acquire. */
  release(img: OpenImage<S>): void {
    img.refs = Math.max(0, img.refs - 1);
    this.enforceBudget();
  }

  /** The shared packet index of codestream `cs`, allocated on first use (its pages are committed lazily). */
  sab(img: OpenImage<S>, cs: number): SharedArrayBuffer {
    let sab = img.sabs[cs];
    if (!sab) {
      const count = img.summary.slotCounts[cs];
      if (count === undefined) throw new JpipdError('ERR_INTERNAL', `no codestream ${cs}`);
      const idx = SharedPacketIndex.allocate(Math.max(1, count));
      sab = idx.sab;
      img.sabs[cs] = sab;
      img.bytes += sab.byteLength;
      this.indexBytes += sab.byteLength;
      this.enforceBudget();
    }
    img.lastUsed = Date.now();
    return sab;
  }

  private drop(rel: string, img: OpenImage<S>): void {
    if (this.images.get(rel) === img) this.images.delete(rel);
    this.indexBytes -= img.bytes;
    img.bytes = 0;
    img.sabs = [];
    this.evictions++;
    const kids = [...img.children.values()];
    img.children.clear();
    for (const k of kids) k.then((c) => this.release(c), () => {});
  }

  /** Drops unreferenced images, least recently used first, while over budget. */
  private enforceBudget(): void {
    if (this.indexBytes <= this.budgetBytes) return;
    const idle = [...this.images.entries()].filter(([, i]) => i.refs === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [rel, img] of idle) {
      if (this.indexBytes <= this.budgetBytes) break;
      this.drop(rel, img);
    }
  }

  /** Current numbers. */
  stats(): RegistryStats {
    return { images: this.images.size, indexBytes: this.indexBytes, budgetBytes: this.budgetBytes, evictions: this.evictions };
  }
}
