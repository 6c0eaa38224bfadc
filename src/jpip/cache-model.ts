/**
 * The server's model of a client's cache (15444-9 C.9, notes §7): per data-bin, how many leading
 * bytes the client holds, or COMPLETE. One model per session, shared by the session's channels and
 * kept by the thread that owns the session, which reads and updates it in place while it writes a
 * response: nothing is snapshotted or copied per request, so a request costs the same however long
 * its session has run.
 *
 * Storage is dense, like esajpip's per-codestream vectors, but paged: a bin id indexes a page of 64
 * holdings (numbers) allocated on first write, so memory follows the bins a client touched (a 1024²
 * view of a 4096² frame touches one page per codestream) and an idle session costs a few hundred
 * bytes. Statements from the `model` field are absolute ("the client holds N bytes"), never additive.
 */
import { JpipdError } from '../errors.js';
import type { ModelItem } from './model-field.js';

/** Sentinel for "the client holds the whole data-bin". */
export const COMPLETE = -1;

/** Bin kinds, numbered as the JPP classes they describe (15444-9 A.2.2). */
export const enum BinKind {
  Precinct = 0,
  TileHeader = 2,
  MainHeader = 6,
  Metadata = 8,
}

/** log2 of the holdings per page. */
const PAGE_BITS = 6;
/** Holdings per page (a 64-element array: ~530 bytes). */
export const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;
/** A page of zero holdings (filled with 0: V8 keeps it a packed array of small integers or doubles). */
function newPage(): number[] {
  return new Array<number>(PAGE_SIZE).fill(0);
}

/** Ids below this use the dense page array; larger ids (rare: huge tiled images) use a page map. */
const DENSE_IDS = 1 << 20;

/**
 * Bytes held per data-bin id of one kind: 0 (nothing), a byte count, or COMPLETE. Pages of
 * PAGE_SIZE numbers are allocated on first write; reading an absent page gives 0.
 */
export class Holdings {
  // Pages are plain arrays: V8 allocates them on its heap by bumping a pointer, where a typed array
  // of this size would need a separately allocated backing store (slower to make, ~200 B larger).
  private readonly pages: Array<number[] | undefined> = [];
  private far: Map<number, number[]> | undefined;
  /** Bins with a non-zero holding. */
  count = 0;

  /** Bytes held of bin `id` (0 when never recorded). */
  get(id: number): number {
    if (id < DENSE_IDS) {
      const page = this.pages[id >>> PAGE_BITS];
      return page === undefined ? 0 : page[id & PAGE_MASK];
    }
    const page = this.far?.get(Math.floor(id / PAGE_SIZE));
    return page === undefined ? 0 : page[id % PAGE_SIZE];
  }

  /** True when bin `id` has a non-zero holding. */
  has(id: number): boolean {
    return this.get(id) !== 0;
  }

  /** Sets the holding of bin `id`; returns +1 when a bin became non-zero, -1 when it became 0, else 0. */
  set(id: number, held: number): number {
    let page: number[] | undefined;
    let at: number;
    if (id < DENSE_IDS) {
      const p = id >>> PAGE_BITS;
      page = this.pages[p];
      if (page === undefined) {
        if (held === 0) return 0;
        // Fill holes up to p so the array stays packed (V8 keeps packed arrays in fast elements).
        while (this.pages.length < p) this.pages.push(undefined);
        page = newPage();
        this.pages[p] = page;
      }
      at = id & PAGE_MASK;
    } else {
      const p = Math.floor(id / PAGE_SIZE);
      this.far ??= new Map();
      page = this.far.get(p);
      if (page === undefined) {
        if (held === 0) return 0;
        page = newPage();
        this.far.set(p, page);
      }
      at = id % PAGE_SIZE;
    }
    const before = page[at];
    page[at] = held;
    const delta = (held === 0 ? 0 : 1) - (before === 0 ? 0 : 1);
    this.count += delta;
    return delta;
  }

  /** Every non-zero holding as [id, held], in id order of the dense part (tests, diagnostics). */
  *entries(): IterableIterator<[number, number]> {
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (page) for (let i = 0; i < PAGE_SIZE; i++) if (page[i] !== 0) yield [p * PAGE_SIZE + i, page[i]];
    }
    if (this.far) {
      for (const [p, page] of [...this.far].sort((a, b) => a[0] - b[0])) {
        for (let i = 0; i < PAGE_SIZE; i++) if (page[i] !== 0) yield [p * PAGE_SIZE + i, page[i]];
      }
    }
  }

  /** Bytes of memory the pages take. */
  get byteLength(): number {
    let n = 0;
    for (const page of this.pages) if (page) n += page.length * 8;
    for (const page of this.far?.values() ?? []) n += page.length * 8;
    return n;
  }
}

/** Cache state of one codestream's data-bins. */
export class StreamModel {
  /** Main header bin (class 6): bytes held or COMPLETE. */
  main = 0;
  /** Tile header bins (class 2) by tile index. */
  readonly tiles = new Holdings();
  /** Precinct bins (class 0) by in-class id. */
  readonly precincts = new Holdings();
}

/** One change a response made to the model: bin (kind, codestream, id) now held up to `held` (or COMPLETE). */
export type ModelDelta = [kind: BinKind, codestream: number, id: number, held: number];

/** The kind of data-bin a model statement names. */
function binKindOf(item: ModelItem): BinKind {
  return item.bin === 'meta' ? BinKind.Metadata : item.bin === 'main' ? BinKind.MainHeader : item.bin === 'tile' ? BinKind.TileHeader : BinKind.Precinct;
}

/** Default bound on model entries of one session (every entry is one data-bin). */
export const DEFAULT_MAX_MODEL_ENTRIES = 4_000_000;

/** Returns the larger holding, treating COMPLETE as infinite. */
function merge(a: number, b: number): number {
  if (a === COMPLETE || b === COMPLETE) return COMPLETE;
  return Math.max(a, b);
}

/** Default bound on the model entries of all sessions of one thread together. */
export const DEFAULT_MODEL_BUDGET_ENTRIES = 8_000_000;

/**
 * The model entries of every session of a thread, bounded together (a dense entry takes ~8 bytes):
 * past `max` no session may record a new bin (ERR_BUSY) until others end.
 */
export class ModelBudget {
  used = 0;
  constructor(readonly max = DEFAULT_MODEL_BUDGET_ENTRIES) {}
}

/** A session's cache model. */
export class CacheModel {
  readonly meta = new Holdings();
  readonly streams = new Map<number, StreamModel>();
  private entries = 0;

  constructor(
    private readonly maxEntries = DEFAULT_MAX_MODEL_ENTRIES,
    private budget: ModelBudget | null = null,
  ) {}

  /** Gives this model's entries back to the shared budget (its session ended); later changes are not counted. */
  release(): void {
    if (this.budget) this.budget.used -= this.entries;
    this.budget = null;
  }

  private full(): JpipdError | null {
    if (this.entries >= this.maxEntries) return new JpipdError('ERR_BUSY', 'session cache model is full');
    if (this.budget && this.budget.used >= this.budget.max) return new JpipdError('ERR_BUSY', 'the server holds too many cache-model entries; try again later');
    return null;
  }

  /** The model of codestream `cs`, created empty on first use. */
  stream(cs: number): StreamModel {
    let s = this.streams.get(cs);
    if (!s) {
      s = new StreamModel();
      this.streams.set(cs, s);
    }
    return s;
  }

  /** Number of bins recorded (bounded by maxEntries). */
  get size(): number {
    return this.entries;
  }

  /** Bytes held of a bin (0 when unknown). */
  held(kind: BinKind, cs: number, id: number): number {
    if (kind === BinKind.Metadata) return this.meta.get(id);
    const s = this.streams.get(cs);
    if (!s) return 0;
    if (kind === BinKind.MainHeader) return s.main;
    return (kind === BinKind.TileHeader ? s.tiles : s.precincts).get(id);
  }

  /**
   * Sets the holding of a bin exactly (the response writer's updates, and their undo). Throws
   * ERR_BUSY when the session would exceed its entry bound.
   */
  set(kind: BinKind, cs: number, id: number, held: number): void {
    if (kind === BinKind.MainHeader) {
      this.stream(cs).main = held;
      return;
    }
    const h = kind === BinKind.Metadata ? this.meta : kind === BinKind.TileHeader ? this.stream(cs).tiles : this.stream(cs).precincts;
    this.setIn(h, id, held);
  }

  /** set() for a Holdings of this model already looked up (the precinct walk's hot path). */
  setIn(h: Holdings, id: number, held: number): void {
    // Cheap tests first: this runs for every packet a response writes.
    if (held !== 0 && (this.entries >= this.maxEntries || (this.budget !== null && this.budget.used >= this.budget.max)) && h.get(id) === 0) {
      throw this.full() as JpipdError;
    }
    const d = h.set(id, held);
    this.entries += d;
    if (this.budget) this.budget.used += d;
  }

  /** Records that the client now holds `held` bytes (or COMPLETE) of a bin; never lowers a holding. */
  record(kind: BinKind, cs: number, id: number, held: number): void {
    this.set(kind, cs, id, merge(this.held(kind, cs, id), held));
  }

  /** Forgets a bin (a subtractive model statement: the client dropped it). */
  forget(kind: BinKind, cs: number, id: number): void {
    if (kind !== BinKind.Metadata && !this.streams.has(cs)) return;
    this.set(kind, cs, id, 0);
  }

  /** Applies changes reported as deltas (tests and tools: the writer updates the model itself). */
  applyDelta(delta: readonly ModelDelta[]): void {
    for (const [kind, cs, id, held] of delta) this.record(kind, cs, id, held);
  }

  /**
   * Applies `model=` statements with absolute semantics (notes §7.2): `P5:100` = the client holds the
   * first 100 bytes (held = max(held, 100)), `P5` = complete, `-P5` = dropped. Layer counts (`:L2`)
   * cannot be mapped to bytes without the index and are ignored (the client simply receives them again).
   * `expand(range)` turns a codestream qualifier into codestream numbers (bounded by the caller).
   */
  applyStatements(items: readonly ModelItem[], expand: (item: ModelItem) => number[], exists?: (kind: BinKind, cs: number, id: number) => boolean | null): void {
    // A statement about a bin the image does not have is refused before anything is recorded: ids are
    // what sizes the model, so unchecked ones would let a request allocate for bins that do not exist.
    // exists() returns null when it cannot tell (a frame not loaded yet): such statements are dropped.
    const keep: boolean[] = [];
    for (const item of items) {
      let ok = true;
      if (exists && item.id !== '*' && !item.subtractive && item.bin !== 'tile-jpt' && item.layers === undefined) {
        const kind = binKindOf(item);
        for (const cs of kind === BinKind.Metadata ? [0] : expand(item)) {
          const e = exists(kind, cs, item.id);
          if (e === false) throw new JpipdError('ERR_MALFORMED_REQUEST', `model: the image has no ${item.bin} data-bin ${item.id} in codestream ${cs}`);
          if (e === null) ok = false;
        }
      }
      keep.push(ok);
    }
    for (const [i, item] of items.entries()) {
      if (!keep[i]) continue;
      if (item.id === '*' || item.bin === 'tile-jpt' || item.layers !== undefined) continue;
      const kind = binKindOf(item);
      const streams = kind === BinKind.Metadata ? [0] : expand(item);
      for (const cs of streams) {
        if (item.subtractive) this.forget(kind, cs, item.id);
        else this.record(kind, cs, item.id, item.bytes ?? COMPLETE);
      }
    }
  }

  /** Bytes of memory the model's pages take (for the per-session memory figure). */
  get byteLength(): number {
    let n = this.meta.byteLength;
    for (const s of this.streams.values()) n += s.tiles.byteLength + s.precincts.byteLength;
    return n;
  }
}
