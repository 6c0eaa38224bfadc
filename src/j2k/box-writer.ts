/**
 * A tiny JP2/JPX box serializer (15444-1 Annex I, 15444-2 Annex M) for fixture scripts and tests.
 * Not used on the serving path; the reader lives in boxes.ts.
 */
import { joinBytes, put } from '../bytes/source.js';

/** Concatenates byte arrays (a few, as arguments; see joinBytes for long lists). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return joinBytes(parts);
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

/**
 * A box header for a payload of `payloadLength` bytes: the 8-byte form (LBox, TBox) when the box
 * fits in 32 bits, else the 16-byte form (LBox = 1, TBox, XLBox); 15444-1 I.4.
 */
export function boxHeader(type: string, payloadLength: number): Uint8Array {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) throw new Error(`bad box payload length ${payloadLength}`);
  if (payloadLength + 8 <= 0xffffffff) {
    const head = new Uint8Array(8);
    put.u32(head, 0, payloadLength + 8);
    head.set(typeBytes(type), 4);
    return head;
  }
  const head = new Uint8Array(16);
  put.u32(head, 0, 1);
  head.set(typeBytes(type), 4);
  put.u64(head, 8, payloadLength + 16);
  return head;
}

/** One fragment of a fragment list: OFF (u64), LEN (u32), DR (u16, 1-based into dtbl; 0 = this file). */
export interface FragmentEntry {
  OFF: number;
  LEN: number;
  DR: number;
}

/** A fragment list box 'flst': NF, then NF × {OFF u64, LEN u32, DR u16}; 15444-2 M.11.3.2. */
export function flstBox(fragments: readonly FragmentEntry[]): Uint8Array {
  if (fragments.length > 0xffff) throw new Error(`an 'flst' box holds at most 65535 fragments`);
  const b = new Uint8Array(2 + 14 * fragments.length);
  put.u16(b, 0, fragments.length);
  fragments.forEach((f, i) => {
    if (!Number.isSafeInteger(f.OFF) || f.OFF < 0) throw new Error(`fragment offset ${f.OFF}`);
    if (!Number.isInteger(f.LEN) || f.LEN < 0 || f.LEN > 0xffffffff) throw new Error(`fragment length ${f.LEN} does not fit 32 bits`);
    if (!Number.isInteger(f.DR) || f.DR < 0 || f.DR > 0xffff) throw new Error(`data reference ${f.DR}`);
    const p = 2 + 14 * i;
    put.u64(b, p, f.OFF);
    put.u32(b, p + 8, f.LEN);
    put.u16(b, p + 12, f.DR);
  });
  return box('flst', b);
}

/** A fragment table box 'ftbl' holding one fragment list; 15444-2 M.11.3.1. */
export function ftblBox(fragments: readonly FragmentEntry[]): Uint8Array {
  return box('ftbl', flstBox(fragments));
}

/** A data entry URL box 'url ': VERS (u8), FLAG (u24), LOC (NUL-terminated UTF-8); 15444-2 M.11.3.4. */
export function urlBox(url: string, version = 0, flags = 0): Uint8Array {
  const head = new Uint8Array(4);
  put.u32(head, 0, flags & 0xffffff);
  head[0] = version & 0xff;
  const loc = new TextEncoder().encode(url);
  if (loc.includes(0)) throw new Error('a URL cannot contain NUL');
  return box('url ', head, loc, Uint8Array.of(0));
}

/** A data reference box 'dtbl': NDR (u16), then NDR 'url ' boxes; 15444-2 M.11.3.3. */
export function dtblBox(urls: readonly string[]): Uint8Array {
  if (urls.length > 0xffff) throw new Error(`a 'dtbl' box holds at most 65535 references`);
  const n = new Uint8Array(2);
  put.u16(n, 0, urls.length);
  return box('dtbl', n, ...urls.map((u) => urlBox(u)));
}

/** Number-list entry kinds (15444-2 M.11.15.1): high byte 1 = codestream, 2 = compositing layer; 0 = the rendered result. */
export const NLST_CODESTREAM = 0x01000000;
/** Number-list entry kind for a compositing layer (15444-2 M.11.15.1). */
export const NLST_LAYER = 0x02000000;

/** A number list box 'nlst' of 32-bit AN entries; 15444-2 M.11.15.1. */
export function nlstBox(entries: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * entries.length);
  entries.forEach((an, i) => put.u32(b, 4 * i, an));
  return box('nlst', b);
}

/** A label box 'lbl ' holding UTF-8 text (no terminator); 15444-2 M.11.15.2. */
export function lblBox(text: string): Uint8Array {
  return box('lbl ', new TextEncoder().encode(text));
}

/** A standard feature of a reader requirements box and whether displaying the file needs it. */
export interface StandardFeature {
  SF: number;
  display: boolean;
}

/**
 * A reader requirements box 'rreq' listing standard features (15444-2 M.11.1): ML = 1, one mask bit
 * per feature (at most 8), FUAM = every feature, DCM = the features needed to display; no vendor features.
 */
export function readerRequirementsBox(features: readonly StandardFeature[]): Uint8Array {
  if (features.length > 8) throw new Error('at most 8 standard features with a 1-byte mask');
  const b = new Uint8Array(1 + 1 + 1 + 2 + 3 * features.length + 2);
  b[0] = 1; // ML
  let FUAM = 0;
  let DCM = 0;
  features.forEach((f, i) => {
    const SM = 0x80 >>> i;
    FUAM |= SM;
    if (f.display) DCM |= SM;
    put.u16(b, 5 + 3 * i, f.SF);
    b[5 + 3 * i + 2] = SM;
  });
  b[1] = FUAM;
  b[2] = DCM;
  put.u16(b, 3, features.length); // NSF
  put.u16(b, 5 + 3 * features.length, 0); // NVF
  return box('rreq', b);
}
