/**
 * The engine's PacketTable over shared memory: one SharedPacketIndex per codestream, extended one
 * group of resolution levels at a time. The records of new levels are computed outside any lock
 * (file reads, PLT decoding); only copying them in takes the writer side of the lock.
 */
import type { ByteSource } from '../bytes/source.js';
import { JpipdError } from '../errors.js';
import type { PacketTable } from './packet-table.js';
import type { CodestreamLayout, TileGeometry } from '../j2k/types.js';
import { tileCount } from '../j2k/geometry.js';
import { buildLevels } from './builder.js';
import { buildDirectory, slotOf, type SlotDirectory } from './directory.js';
import { SharedPacketIndex } from './shared-index.js';

/** Per-thread view of one target's shared packet tables. */
export class SharedPackets implements PacketTable {
  private readonly dirs = new Map<number, SlotDirectory>();
  private readonly indexes = new Map<number, SharedPacketIndex>();

  constructor(
    private readonly codestreams: readonly CodestreamLayout[],
    private readonly tileOf: (cs: number, t: number) => TileGeometry,
    private readonly sourceOf: (cs: number) => ByteSource,
    private readonly sabOf: (cs: number) => SharedArrayBuffer | undefined,
  ) {}

  /** The slot directory of `cs` (computed once per thread). */
  directory(cs: number): SlotDirectory {
    let dir = this.dirs.get(cs);
    if (!dir) {
      const siz = this.codestreams[cs].siz;
      dir = buildDirectory(tileCount(siz), siz.Csiz, (t) => this.tileOf(cs, t));
      this.dirs.set(cs, dir);
    }
    return dir;
  }

  /**
   * Drops this thread's views of the shared buffers (called after every task), so that a buffer the
   * front end's registry has let go of is freed: workers keep no SharedArrayBuffer between tasks.
   */
  detach(): void {
    this.indexes.clear();
  }

  slotOf(cs: number, t: number, c: number, r: number, p: number, l: number): number {
    return slotOf(this.directory(cs), t, c, r, p, l);
  }

  private index(cs: number): SharedPacketIndex {
    let idx = this.indexes.get(cs);
    if (!idx) {
      const sab = this.sabOf(cs);
      if (!sab) throw new JpipdError('ERR_INTERNAL', `no shared index for codestream ${cs}`);
      idx = SharedPacketIndex.attach(sab);
      this.indexes.set(cs, idx);
    }
    return idx;
  }

  read(cs: number, upTo: number, slots: Int32Array, offsets: Float64Array, lengths: Uint32Array): void {
    const dir = this.directory(cs);
    const idx = this.index(cs);
    const top = Math.min(upTo, dir.levels - 1);
    const have = idx.levelsIndexed();
    if (have <= top) {
      const recs = buildLevels(this.sourceOf(cs), this.codestreams[cs], dir, (t) => this.tileOf(cs, t), have, top);
      idx.publishLevels(top + 1, (allOffsets, allLengths) => {
        allOffsets.set(recs.offsets, recs.firstSlot);
        allLengths.set(recs.lengths, recs.firstSlot);
      });
    }
    idx.readPackets(slots, offsets, lengths);
  }
}
