/**
 * A tiny JP2/JPX box serializer (15444-1 Annex I, 15444-2 Annex M) for fixture scripts and tests.
 * Not used on the serving path; the reader lives in boxes.ts.
 */
import { put } from '../bytes/source.js';

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
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

/** The four ASCII bytes of a box type such as 'jp2c' (must be exactly 4 characters). */
export function typeBytes(type: string): Uint8Array {
  if (type.length !== 4) throw new Error(`box type must have 4 characters: ${JSON.stringify(type)}`);
  const b = new Uint8Array(4);
  for (let i = 0; i < 4; i++) b[i] = type.charCodeAt(i) & 0xff;
  return b;
}

/** A box with the ordinary 8-byte header (LBox, TBox); 15444-1 I.4. */
export function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = concatBytes(...payload);
  const head = new Uint8Array(8);
  put.u32(head, 0, 8 + body.length);
  head.set(typeBytes(type), 4);
  return concatBytes(head, body);
}

/** A box with the 16-byte header (LBox = 1, TBox, 64-bit XLBox); 15444-1 I.4. */
export function box64(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = concatBytes(...payload);
  const head = new Uint8Array(16);
  put.u32(head, 0, 1);
  head.set(typeBytes(type), 4);
  put.u64(head, 8, 16 + body.length);
  return concatBytes(head, body);
}

/** A box whose LBox is 0 ("extends to the end of the file"); only valid as the last box. */
export function boxToEnd(type: string, ...payload: Uint8Array[]): Uint8Array {
  const head = new Uint8Array(8);
  head.set(typeBytes(type), 4);
  return concatBytes(head, ...payload);
}

/** The JPEG 2000 signature box 'jP  ' with its fixed content 0x0D0A870A; 15444-1 I.5.1. */
export function signatureBox(): Uint8Array {
  return box('jP  ', Uint8Array.of(0x0d, 0x0a, 0x87, 0x0a));
}

/** A file type box 'ftyp': brand, minor version, compatibility list; 15444-1 I.5.2. */
export function ftypBox(brand: string, minor: number, compat: string[]): Uint8Array {
  const mv = new Uint8Array(4);
  put.u32(mv, 0, minor);
  return box('ftyp', typeBytes(brand), mv, ...compat.map(typeBytes));
}

/** An image header box 'ihdr' (HEIGHT, WIDTH, NC, BPC, C = 7, UnkC, IPR); 15444-1 I.5.3.1. */
export function ihdrBox(width: number, height: number, nc: number, bitDepth: number): Uint8Array {
  const b = new Uint8Array(14);
  put.u32(b, 0, height);
  put.u32(b, 4, width);
  put.u16(b, 8, nc);
  b[10] = (bitDepth - 1) & 0x7f;
  b[11] = 7;
  return box('ihdr', b);
}

/** An enumerated colour specification box 'colr' (METH 1); 16 = sRGB, 17 = greyscale; 15444-1 I.5.3.3. */
export function colrBox(enumCS: number): Uint8Array {
  const b = new Uint8Array(7);
  b[0] = 1;
  put.u32(b, 3, enumCS);
  return box('colr', b);
}

/** A minimal reader requirements box 'rreq' (ML = 1, no features listed); 15444-2 M.11.1. */
export function rreqBox(): Uint8Array {
  return box('rreq', Uint8Array.of(1, 0, 0, 0, 0, 0, 0));
}

/** An XML box 'xml ' holding UTF-8 text; 15444-1 I.7.1. */
export function xmlBox(text: string): Uint8Array {
  return box('xml ', new TextEncoder().encode(text));
}
