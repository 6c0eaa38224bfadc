/**
 * Packet-length lists of PLT marker segments (15444-1 A.7.3).
 */
import { corrupt } from '../errors.js';

/** Largest packet length accepted: Psot is 32 bits, so no packet of a tile-part can be longer. */
const MAX_PACKET_LENGTH = 0xffffffff;

/**
 * Decodes Iplt (the bytes after Zplt) into packet lengths, calling `onLength` for each in order;
 * returning `false` from the callback stops early. Each length is coded in 7-bit groups, most
 * significant first, bit 7 set on every byte but the last (15444-1 A.7.3, Table A.33). A length cut
 * off at the end of the list is corrupt (lengths do not span segments). Returns the number decoded.
 */
export function decodePltLengths(iplt: Uint8Array, onLength: (len: number) => boolean | void): number {
  let value = 0;
  let open = false;
  let count = 0;
  for (let i = 0; i < iplt.length; i++) {
    const b = iplt[i];
    value = value * 128 + (b & 0x7f);
    if (value > MAX_PACKET_LENGTH) throw corrupt('PLT packet length exceeds 2^32 - 1');
    if (b & 0x80) {
      open = true;
      continue;
    }
    open = false;
    count++;
    const len = value;
    value = 0;
    if (onLength(len) === false) return count;
  }
  if (open) throw corrupt('PLT segment ends inside a packet length');
  return count;
}

/** Codes packet lengths as an Iplt list (the inverse of decodePltLengths). */
export function encodePltLengths(lengths: readonly number[]): Uint8Array {
  const out: number[] = [];
  for (const len of lengths) {
    if (!Number.isSafeInteger(len) || len < 0 || len > MAX_PACKET_LENGTH) throw corrupt(`packet length ${len} cannot be coded`);
    const groups: number[] = [];
    let v = len;
    do {
      groups.push(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = groups.length - 1; i >= 0; i--) out.push(groups[i] | (i > 0 ? 0x80 : 0));
  }
  return new Uint8Array(out);
}
