/**
 * Client data-bin cache (15444-9 A.2: each message carries a byte range of one data-bin; notes §0, §7).
 * Every data-bin, keyed by (class, codestream, in-class id), is a sorted list of disjoint,
 * non-adjacent byte segments. Messages may arrive out of order or overlap; overlapping bytes are
 * overwritten by the newer message. A bin's final length is known once a message with the completed
 * bit arrives (offset + length).
 * Every received (class, codestream, id, offset, length) is also logged so tests can count duplicates.
 */
import { JppError } from '../bytes/jpp.js';

/** Identifies one data-bin. */
export interface BinKey {
  cls: number;
  codestream: number;
  id: number;
}

/** What the cache needs of a message (a JppMessage fits). */
export interface BinMessage extends BinKey {
  offset: number;
  complete: boolean;
  body: Uint8Array;
}

/** One logged message: where its bytes went. */
export interface ReceivedRange extends BinKey {
  offset: number;
  length: number;
  complete: boolean;
}

/** Totals over the cache. */
export interface CacheStats {
  /** Data-bins holding bytes or known complete. */
  bins: number;
  /** Data-bins whose final length is known and fully received. */
  completeBins: number;
  /** Distinct bytes stored. */
  bytes: number;
  /** Messages added. */
  messages: number;
  /** Messages whose (class, codestream, id, offset, length) had been received before. */
  duplicateMessages: number;
  /** Body bytes that were already in the cache when they arrived. */
  redundantBytes: number;
}

interface Segment {
  offset: number;
  bytes: Uint8Array;
}

interface Bin {
  key: BinKey;
  /** Sorted by offset; disjoint and non-adjacent. */
  segments: Segment[];
  /** Final length once a completed message arrived. */
  finalLength: number | undefined;
}

function keyOf(b: BinKey): string {
  return `${b.cls}:${b.codestream}:${b.id}`;
}

function inconsistent(b: BinKey, m: string): JppError {
  return new JppError('ERR_JPP_INCONSISTENT', `data-bin (class ${b.cls}, codestream ${b.codestream}, id ${b.id}): ${m}`);
}

/** The client's data-bin cache. */
export class DataBinCache {
  private readonly bins = new Map<string, Bin>();
  private readonly seen = new Set<string>();
  private counters = { messages: 0, duplicateMessages: 0, redundantBytes: 0 };
  /** Every message added, in arrival order. */
  readonly received: ReceivedRange[] = [];

  /** Stores a message's bytes (copied) and its completed bit; throws ERR_JPP_INCONSISTENT on contradictions. */
  add(msg: BinMessage): void {
    const key: BinKey = { cls: msg.cls, codestream: msg.codestream, id: msg.id };
    const length = msg.body.length;
    const end = msg.offset + length;
    const k = keyOf(key);
    let bin = this.bins.get(k);
    const finalLength = msg.complete ? end : undefined;
    if (bin?.finalLength !== undefined) {
      if (end > bin.finalLength) throw inconsistent(key, `bytes up to ${end} past the final length ${bin.finalLength}`);
      if (finalLength !== undefined && finalLength !== bin.finalLength) {
        throw inconsistent(key, `final length ${finalLength} contradicts ${bin.finalLength}`);
      }
    }
    if (finalLength !== undefined && bin !== undefined) {
      const last = bin.segments[bin.segments.length - 1];
      if (last !== undefined && last.offset + last.bytes.length > finalLength) {
        throw inconsistent(key, `final length ${finalLength} below bytes already received`);
      }
    }
    const tuple = `${k}:${msg.offset}:${length}`;
    this.counters.messages++;
    if (this.seen.has(tuple)) this.counters.duplicateMessages++;
    this.seen.add(tuple);
    this.received.push({ ...key, offset: msg.offset, length, complete: msg.complete });
    if (bin === undefined) {
      if (length === 0 && finalLength === undefined) return;
      bin = { key, segments: [], finalLength: undefined };
      this.bins.set(k, bin);
    }
    if (finalLength !== undefined) bin.finalLength = finalLength;
    if (length > 0) this.insert(bin, msg.offset, msg.body);
  }

  /** Merges [offset, offset+body.length) into the bin's segments; newer bytes win on overlap. */
  private insert(bin: Bin, offset: number, body: Uint8Array): void {
    const end = offset + body.length;
    const segs = bin.segments;
    let lo = 0;
    while (lo < segs.length && segs[lo].offset + segs[lo].bytes.length < offset) lo++;
    let hi = lo;
    while (hi < segs.length && segs[hi].offset <= end) hi++;
    if (hi === lo) {
      segs.splice(lo, 0, { offset, bytes: body.slice() });
      return;
    }
    const start = Math.min(offset, segs[lo].offset);
    const last = segs[hi - 1];
    const stop = Math.max(end, last.offset + last.bytes.length);
    const merged = new Uint8Array(stop - start);
    for (let i = lo; i < hi; i++) {
      const s = segs[i];
      merged.set(s.bytes, s.offset - start);
      const ov = Math.min(end, s.offset + s.bytes.length) - Math.max(offset, s.offset);
      if (ov > 0) this.counters.redundantBytes += ov;
    }
    merged.set(body, offset - start);
    segs.splice(lo, hi - lo, { offset: start, bytes: merged });
  }

  /** True when the bin holds bytes or is known complete. */
  has(bin: BinKey): boolean {
    return this.bins.has(keyOf(bin));
  }

  /** Length of the bin's prefix received without gaps (0 when absent). */
  contiguousLength(bin: BinKey): number {
    const first = this.bins.get(keyOf(bin))?.segments[0];
    return first !== undefined && first.offset === 0 ? first.bytes.length : 0;
  }

  /** Final length of the bin if a completed message has arrived. */
  finalLength(bin: BinKey): number | undefined {
    return this.bins.get(keyOf(bin))?.finalLength;
  }

  /** True when the final length is known and every byte up to it has arrived. */
  isComplete(bin: BinKey): boolean {
    const b = this.bins.get(keyOf(bin));
    return b !== undefined && b.finalLength !== undefined && this.contiguousLength(bin) === b.finalLength;
  }

  /** The bin's contiguous prefix (a view of cache memory; empty when absent). */
  get(bin: BinKey): Uint8Array {
    const first = this.bins.get(keyOf(bin))?.segments[0];
    return first !== undefined && first.offset === 0 ? first.bytes : new Uint8Array(0);
  }

  /** Removes a bin (tests, cache eviction). */
  delete(bin: BinKey): boolean {
    return this.bins.delete(keyOf(bin));
  }

  /** Keys of every bin held. */
  keys(): BinKey[] {
    return [...this.bins.values()].map((b) => ({ ...b.key }));
  }

  /** Byte ranges held by a bin, sorted (for tests and cache-model declarations). */
  ranges(bin: BinKey): Array<{ offset: number; length: number }> {
    return (this.bins.get(keyOf(bin))?.segments ?? []).map((s) => ({ offset: s.offset, length: s.bytes.length }));
  }

  /** Totals: bins, complete bins, bytes, messages, duplicates. */
  stats(): CacheStats {
    let bytes = 0;
    let completeBins = 0;
    for (const b of this.bins.values()) {
      for (const s of b.segments) bytes += s.bytes.length;
      if (this.isComplete(b.key)) completeBins++;
    }
    return { bins: this.bins.size, completeBins, bytes, ...this.counters };
  }
}
