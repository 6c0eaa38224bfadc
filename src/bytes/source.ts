/**
 * The one byte-source interface every parser reads through. Offsets are JS numbers (exact to 2^53):
 * never apply 32-bit bitwise operators to them. Implementations bound every read to the source size.
 */
import { corrupt } from '../errors.js';

/** Random-access, synchronous byte source (a file in a worker thread, or memory in tests). */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws ERR_IMAGE_CORRUPT if the range leaves the source. */
  read(offset: number, length: number): Uint8Array;
  /**
   * Copies exactly `length` bytes at `offset` into `dest[at, at+length)` (a file is read straight into
   * `dest`: the bytes enter user space once). Throws like `read`.
   */
  readInto(dest: Uint8Array, at: number, offset: number, length: number): void;
}

/** Throws ERR_IMAGE_CORRUPT unless [offset, offset+length) lies inside [0, size). */
export function checkRange(size: number, offset: number, length: number, what = 'read'): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw corrupt(`${what} past the end of the data (offset ${offset}, length ${length}, size ${size})`);
  }
}

/** A ByteSource over bytes already in memory (tests, header bins on the client side). */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this.size, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    checkRange(this.size, offset, length);
    dest.set(this.bytes.subarray(offset, offset + length), at);
  }
}

/** Big-endian readers over a Uint8Array at a position (no bounds beyond the array's own). */
export const be = {
  u8: (b: Uint8Array, p: number): number => b[p],
  u16: (b: Uint8Array, p: number): number => b[p] * 0x100 + b[p + 1],
  u32: (b: Uint8Array, p: number): number => b[p] * 0x1000000 + b[p + 1] * 0x10000 + b[p + 2] * 0x100 + b[p + 3],
  /** 64-bit big-endian value; throws if it exceeds 2^53 (no file is that large). */
  u64: (b: Uint8Array, p: number): number => {
    const hi = be.u32(b, p);
    const lo = be.u32(b, p + 4);
    if (hi >= 0x200000) throw corrupt('64-bit length beyond 2^53');
    return hi * 0x100000000 + lo;
  },
};

/** Big-endian writers into a Uint8Array. */
export const put = {
  u16: (b: Uint8Array, p: number, v: number): void => {
    b[p] = (v >>> 8) & 0xff;
    b[p + 1] = v & 0xff;
  },
  u32: (b: Uint8Array, p: number, v: number): void => {
    b[p] = Math.floor(v / 0x1000000) & 0xff;
    b[p + 1] = Math.floor(v / 0x10000) & 0xff;
    b[p + 2] = Math.floor(v / 0x100) & 0xff;
    b[p + 3] = v & 0xff;
  },
  u64: (b: Uint8Array, p: number, v: number): void => {
    put.u32(b, p, Math.floor(v / 0x100000000));
    put.u32(b, p + 4, v % 0x100000000);
  },
};

/** Concatenates byte arrays (takes an array, not spread arguments, so any number of parts works). */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
