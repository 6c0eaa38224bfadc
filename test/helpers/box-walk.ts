/**
 * An independent top-level box walker for tests that check box writers (no code shared with
 * src/j2k, so a writer bug cannot be mirrored by the reader): LBox, LBox = 1 + XLBox, LBox = 0.
 */
import assert from 'node:assert/strict';

/** A box found by walk(): its type, where it starts, where its payload starts and where it ends. */
export interface WalkedBox {
  type: string;
  at: number;
  body: number;
  end: number;
}

/** The boxes in [start, end), which they must fill exactly. */
export function walk(bytes: Uint8Array, start = 0, end = bytes.length): WalkedBox[] {
  const out: WalkedBox[] = [];
  let p = start;
  while (p < end) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + p);
    let len = dv.getUint32(0);
    let hl = 8;
    if (len === 1) {
      len = Number(dv.getBigUint64(8));
      hl = 16;
    } else if (len === 0) len = end - p;
    out.push({ type: Buffer.from(bytes.subarray(p + 4, p + 8)).toString('latin1'), at: p, body: p + hl, end: p + len });
    p += len;
  }
  assert.equal(p, end, 'boxes fill the range exactly');
  return out;
}
