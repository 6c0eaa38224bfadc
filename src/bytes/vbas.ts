/**
 * VBAS: variable-length byte-aligned segments (15444-9 A.2.1). An unsigned integer in 7-bit groups,
 * most significant first; bit 7 set on every byte but the last. Values are JS numbers up to 2^53.
 */
import { corrupt } from '../errors.js';

/** Largest value jpipd encodes or accepts (2^53 - 1). */
export const VBAS_MAX = Number.MAX_SAFE_INTEGER;
/** A 2^53 value needs 8 groups of 7 bits; more bytes than this is malformed. */
export const VBAS_MAX_BYTES = 8;

/** Number of bytes the minimal VBAS form of `value` takes. */
export function vbasLength(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  let n = 4;
  let v = Math.floor(value / 0x200000);
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the minimal VBAS form of `value` at `pos`; returns the position after it. */
export function writeVbas(out: Uint8Array, pos: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`VBAS value out of range: ${value}`);
  const n = vbasLength(value);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    out[pos + i] = (v % 128) | (i === n - 1 ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  return pos + n;
}

/**
 * Hot-path writeVbas without the range check, for values the caller knows are safe non-negative
 * integers (the response writer's offsets and lengths). Same bytes as writeVbas.
 */
export function putVbas(out: Uint8Array, pos: number, value: number): number {
  if (value < 0x80) {
    out[pos] = value;
    return pos + 1;
  }
  if (value < 0x4000) {
    out[pos] = 0x80 | (value >>> 7);
    out[pos + 1] = value & 0x7f;
    return pos + 2;
  }
  if (value < 0x200000) {
    out[pos] = 0x80 | (value >>> 14);
    out[pos + 1] = 0x80 | ((value >>> 7) & 0x7f);
    out[pos + 2] = value & 0x7f;
    return pos + 3;
  }
  const n = vbasLength(value);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    out[pos + i] = (v % 128) | (i === n - 1 ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  return pos + n;
}

/** The minimal VBAS bytes of `value`. */
export function encodeVbas(value: number): Uint8Array {
  const out = new Uint8Array(vbasLength(value));
  writeVbas(out, 0, value);
  return out;
}

/** Result of decoding one VBAS: the value and the position just after it. */
export interface VbasRead {
  value: number;
  next: number;
}

/**
 * Decodes a VBAS at `pos` (redundant leading zero groups accepted). Returns null if the bytes end
 * before the VBAS does (an incremental parser then waits for more); throws on an over-long VBAS.
 */
export function readVbas(buf: Uint8Array, pos: number, end = buf.length): VbasRead | null {
  let value = 0;
  for (let i = 0; i < VBAS_MAX_BYTES; i++) {
    if (pos + i >= end) return null;
    const b = buf[pos + i];
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (value > VBAS_MAX) throw corrupt('VBAS value beyond 2^53');
      return { value, next: pos + i + 1 };
    }
  }
  throw corrupt(`VBAS longer than ${VBAS_MAX_BYTES} bytes`);
}
