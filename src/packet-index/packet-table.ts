/**
 * What the response engine needs of the packet index (implemented over shared memory by
 * shared-packets.ts; declared here so that packet-index/ does not depend on jpip/).
 */

/** Access to packet locations of a target's codestreams. */
export interface PacketTable {
  /** Slot number of packet (t, c, r, p, l) of codestream `cs`. */
  slotOf(cs: number, t: number, c: number, r: number, p: number, l: number): number;
  /**
   * Ensures resolution levels 0..upTo of `cs` are indexed, then copies the records of `slots`
   * (absolute file offset and length of each packet) into the output arrays.
   */
  read(cs: number, upTo: number, slots: Int32Array, offsets: Float64Array, lengths: Uint32Array): void;
}
