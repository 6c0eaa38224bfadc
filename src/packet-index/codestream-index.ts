/**
 * A thread's view of one codestream's packet index: tile geometry and the slot directory (computed
 * once per thread), and the SharedArrayBuffer table every thread shares, extended one group of
 * resolution levels at a time. The records of new levels are computed outside any lock (PLT or
 * packet-header reads and decoding); only copying them in takes the writer side of the lock. This is what the response
 * engine reads packets through (jpip/engine.ts `CodestreamAccess`).
 */
import type { ByteSource } from '../bytes/source.js';
import { tileCount, tileGeometry } from '../j2k/geometry.js';
import type { CodestreamLayout, TileGeometry } from '../j2k/types.js';
import { buildLevels, type LearntLengths } from './builder.js';
import { buildDirectory, PACKED_PIECES, type SlotDirectory } from './directory.js';
import { hasPackedHeaders, packedHeaderBytes } from '../j2k/packed-headers.js';
import { levelsIndexed } from './timing.js';
import { DEFAULT_LOCK_TIMEOUT_MS, SharedPacketIndex } from './shared-index.js';

/** How long a front-end thread waits for the index lock before answering busy (holders keep it µs). */
export const FRONT_END_LOCK_WAIT_MS = 50;

/** One codestream's packet index as seen by one thread. */
export class CodestreamIndex {
  readonly shared: SharedPacketIndex;
  private readonly tiles: Array<TileGeometry | undefined> = [];
  private dir: SlotDirectory | undefined;
  private minNL = -1;
  private plt = -1;

  /**
   * `sab` is the codestream's shared table (made by the registry for `slotCount(layout)` slots);
   * `lockWaitMs` bounds every lock wait of this thread; `learnt` keeps packet lengths found by
   * decoding packet headers (files without PLT) across restarts.
   */
  constructor(
    readonly layout: CodestreamLayout,
    readonly source: ByteSource,
    sab: SharedArrayBuffer,
    private readonly lockWaitMs = DEFAULT_LOCK_TIMEOUT_MS,
    private readonly learnt?: LearntLengths,
    /** Called inside publishLevels while the write lock is held (fault-injection tests). */
    private readonly inPublish?: () => void,
  ) {
    this.shared = SharedPacketIndex.attach(sab);
  }

  /** Geometry of tile t (computed once). */
  tile(t: number): TileGeometry {
    let g = this.tiles[t];
    if (!g) {
      g = tileGeometry(this.layout, t);
      this.tiles[t] = g;
    }
    return g;
  }

  /** The slot directory (computed once). */
  get directory(): SlotDirectory {
    this.dir ??= directoryOf(this.layout, (t) => this.tile(t));
    return this.dir;
  }

  /** Smallest decomposition level count over all tile-components. */
  get minLevels(): number {
    if (this.minNL < 0) {
      let m = Infinity;
      for (let t = 0; t < tileCount(this.layout.siz); t++) for (const tc of this.tile(t).components) m = Math.min(m, tc.style.NL);
      this.minNL = m;
    }
    return this.minNL;
  }

  /** True when levels 0..upTo are published (lock-free check). */
  ready(upTo: number): boolean {
    return this.shared.levelsIndexed() > Math.min(upTo, this.directory.levels - 1);
  }

  /**
   * Bytes a build may read (an upper bound: every PLT list, and the packet data of tile-parts without
   * PLT, whose packet headers are decoded instead): what an inline build costs.
   */
  get buildBytes(): number {
    if (this.plt < 0) {
      // Packed headers (PPM/PPT) are decoded from their segments, with every body's SOP checked.
      const packed = packedHeaderBytes(this.layout);
      let n = packed;
      for (const tp of this.layout.tileParts) {
        for (const p of tp.plt) n += p.length;
        if (tp.plt.length === 0 || packed > 0) n += tp.dataEnd - tp.dataOffset;
      }
      this.plt = n;
    }
    return this.plt;
  }

  /** Indexes levels 0..upTo if they are not yet published (by this thread or any other). */
  ensure(upTo: number): void {
    const dir = this.directory;
    const top = Math.min(upTo, dir.levels - 1);
    const have = this.shared.levelsIndexed();
    if (have > top) return;
    const t0 = performance.now();
    const recs = buildLevels(this.source, this.layout, dir, (t) => this.tile(t), have, top, this.learnt);
    const published = this.shared.publishLevels(
      top + 1,
      (allOffsets, allLengths) => {
        this.inPublish?.();
        allOffsets.set(recs.offsets, recs.firstSlot);
        allLengths.set(recs.lengths, recs.firstSlot);
      },
      this.lockWaitMs,
    );
    if (published) levelsIndexed(top + 1 - have, (performance.now() - t0) / 1000);
  }

  /** Ensures levels 0..upTo, then copies the records of `slots[0..count)` under the read lock. */
  readPackets(upTo: number, slots: Int32Array, count: number, offsets: Float64Array, lengths: Uint32Array): void {
    this.ensure(upTo);
    this.shared.copyRecords(slots, count, offsets, lengths, this.lockWaitMs);
  }
}

/** The slot directory of a codestream: PACKED_PIECES slots per packet when its headers are packed. */
function directoryOf(layout: CodestreamLayout, tileOf: (t: number) => TileGeometry): SlotDirectory {
  return buildDirectory(tileCount(layout.siz), layout.siz.Csiz, tileOf, hasPackedHeaders(layout) ? PACKED_PIECES : 1);
}

/** Number of packet slots of a codestream (sizes its shared table). */
export function slotCount(layout: CodestreamLayout): number {
  return directoryOf(layout, (t) => tileGeometry(layout, t)).slotCount;
}
