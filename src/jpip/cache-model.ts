/**
 * The server's model of a client's cache (15444-9 C.9, notes §7): per data-bin, how many leading
 * bytes the client holds, or COMPLETE. One model per session, shared by the session's channels.
 * Statements from the `model` field are absolute ("the client holds N bytes"), never additive.
 */
import { JpipdError } from '../errors.js';
import type { ModelItem } from './model-field.js';

/** Sentinel for "the client holds the whole data-bin". */
export const COMPLETE = -1;

/** Cache state of one codestream's data-bins. */
export interface StreamModel {
  /** Main header bin (class 6): bytes held or COMPLETE. */
  main: number;
  /** Tile header bins (class 2) by tile index. */
  tiles: Map<number, number>;
  /** Precinct bins (class 0) by in-class id. */
  precincts: Map<number, number>;
}

/** What a worker needs of the model to plan one response: metadata bins and the requested codestreams. */
export interface ModelSnapshot {
  meta: Map<number, number>;
  streams: Map<number, StreamModel>;
}

/** Bin kinds in a model delta, numbered as the JPP classes they describe (15444-9 A.2.2). */
export const enum BinKind {
  Precinct = 0,
  TileHeader = 2,
  MainHeader = 6,
  Metadata = 8,
}

/** One change a response made to the model: bin (kind, codestream, id) now held up to `held` (or COMPLETE). */
export type ModelDelta = [kind: BinKind, codestream: number, id: number, held: number];

/**
 * A delta packed for the trip between threads: four Float64 values per entry (kind, codestream,
 * id, held), transferred rather than structured-cloned as hundreds of small arrays.
 */
export function packDelta(delta: readonly ModelDelta[]): Float64Array {
  const out = new Float64Array(delta.length * 4);
  delta.forEach((d, i) => out.set(d, i * 4));
  return out;
}

/** Default bound on model entries of one session (every entry is one data-bin). */
export const DEFAULT_MAX_MODEL_ENTRIES = 4_000_000;

/** Returns the larger holding, treating COMPLETE as infinite. */
function merge(a: number | undefined, b: number): number {
  if (a === COMPLETE || b === COMPLETE) return COMPLETE;
  return Math.max(a ?? 0, b);
}

/** Bytes held of a bin in a map (0 when absent). */
export function heldIn(map: Map<number, number>, id: number): number {
  return map.get(id) ?? 0;
}

/** A session's cache model. */
export class CacheModel {
  readonly meta = new Map<number, number>();
  readonly streams = new Map<number, StreamModel>();
  private entries = 0;

  constructor(private readonly maxEntries = DEFAULT_MAX_MODEL_ENTRIES) {}

  /** The model of codestream `cs`, created empty on first use. */
  stream(cs: number): StreamModel {
    let s = this.streams.get(cs);
    if (!s) {
      s = { main: 0, tiles: new Map(), precincts: new Map() };
      this.streams.set(cs, s);
    }
    return s;
  }

  /** Number of bins recorded (bounded by maxEntries). */
  get size(): number {
    return this.entries;
  }

  private setIn(map: Map<number, number>, id: number, held: number): void {
    if (!map.has(id)) {
      if (this.entries >= this.maxEntries) throw new JpipdError('ERR_BUSY', 'session cache model is full');
      this.entries++;
    }
    map.set(id, held);
  }

  /** Records that the client now holds `held` bytes (or COMPLETE) of a bin; never lowers a holding. */
  record(kind: BinKind, cs: number, id: number, held: number): void {
    if (kind === BinKind.Metadata) return this.setIn(this.meta, id, merge(this.meta.get(id), held));
    const s = this.stream(cs);
    if (kind === BinKind.MainHeader) s.main = merge(s.main, held);
    else if (kind === BinKind.TileHeader) this.setIn(s.tiles, id, merge(s.tiles.get(id), held));
    else this.setIn(s.precincts, id, merge(s.precincts.get(id), held));
  }

  /** Forgets a bin (a subtractive model statement: the client dropped it). */
  forget(kind: BinKind, cs: number, id: number): void {
    const drop = (map: Map<number, number>): void => {
      if (map.delete(id)) this.entries--;
    };
    if (kind === BinKind.Metadata) return drop(this.meta);
    const s = this.streams.get(cs);
    if (!s) return;
    if (kind === BinKind.MainHeader) s.main = 0;
    else drop(kind === BinKind.TileHeader ? s.tiles : s.precincts);
  }

  /** Applies a response's delta (what was handed to the socket). */
  applyDelta(delta: readonly ModelDelta[]): void {
    for (const [kind, cs, id, held] of delta) this.record(kind, cs, id, held);
  }

  /** Applies a delta packed by packDelta. */
  applyPackedDelta(packed: Float64Array): void {
    for (let i = 0; i + 3 < packed.length; i += 4) this.record(packed[i] as BinKind, packed[i + 1], packed[i + 2], packed[i + 3]);
  }

  /**
   * Applies `model=` statements with absolute semantics (notes §7.2): `P5:100` = the client holds the
   * first 100 bytes (held = max(held, 100)), `P5` = complete, `-P5` = dropped. Layer counts (`:L2`)
   * cannot be mapped to bytes without the index and are ignored (the client simply receives them again).
   * `expand(range)` turns a codestream qualifier into codestream numbers (bounded by the caller).
   */
  applyStatements(items: readonly ModelItem[], expand: (item: ModelItem) => number[]): void {
    for (const item of items) {
      if (item.id === '*' || item.bin === 'tile-jpt' || item.layers !== undefined) continue;
      const kind =
        item.bin === 'meta' ? BinKind.Metadata : item.bin === 'main' ? BinKind.MainHeader : item.bin === 'tile' ? BinKind.TileHeader : BinKind.Precinct;
      const streams = kind === BinKind.Metadata ? [0] : expand(item);
      for (const cs of streams) {
        if (item.subtractive) this.forget(kind, cs, item.id);
        else this.record(kind, cs, item.id, item.bytes ?? COMPLETE);
      }
    }
  }

  /** The parts of the model a response about `codestreams` needs (Maps are structured-cloned to the worker). */
  snapshot(codestreams: readonly number[]): ModelSnapshot {
    const streams = new Map<number, StreamModel>();
    for (const cs of codestreams) {
      const s = this.streams.get(cs);
      if (s) streams.set(cs, s);
    }
    return { meta: this.meta, streams };
  }
}
