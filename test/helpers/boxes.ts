/** The jp2c boxes of a JP2/JPX file, located with the box reader that src/j2k/box-reader.ts already tests. */
import { BufferSource } from '../../src/bytes/source.js';
import { listBoxes } from '../../src/j2k/box-reader.js';

/** One codestream box: where its payload starts, how long it is, and the payload bytes. */
export interface Jp2cBox {
  offset: number;
  length: number;
  payload: Uint8Array;
}

/** Every top-level jp2c box of `file`, in file order (32-bit, 64-bit and to-end-of-file lengths). */
export function jp2cBoxes(file: Uint8Array): Jp2cBox[] {
  return listBoxes(new BufferSource(file), 0, file.length)
    .filter((b) => b.type === 'jp2c')
    .map((b) => {
      const offset = b.offset + b.headerLength;
      const length = b.length - b.headerLength;
      return { offset, length, payload: file.subarray(offset, offset + length) };
    });
}
