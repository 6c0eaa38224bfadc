/**
 * JPP-stream message header codec (15444-9 A.2; notes §3.2–3.4). The server's writer uses the write
 * side, the client's parser the read side; both agree on these bytes:
 *
 *   Bin-ID (VBAS; first byte: bit 7 more, bits 6–5 indicator, bit 4 completed, bits 3–0 id MS nibble)
 *   [Class VBAS if indicator ≥ 2] [CSn VBAS if indicator = 3] Msg-Offset VBAS, Msg-Length VBAS,
 *   [Aux VBAS if Class is odd], then Msg-Length body bytes.
 *   EOR: 0x00, reason byte, body length VBAS, body.
 *
 * Reading is strict: unknown classes, indicator 0, elided class/codestream without a previous
 * message, and lengths beyond MAX_MESSAGE_LENGTH are errors with stable `JppError` codes.
 */
import { putVbas, readVbas, vbasLength, writeVbas, VBAS_MAX } from './vbas.js';

/** Precinct data-bin class (15444-9 A.2.2, Table A.2). */
export const CLASS_PRECINCT = 0;
/** Extended precinct data-bin class (carries Aux; never sent by jpipd). */
export const CLASS_EXT_PRECINCT = 1;
/** Tile header data-bin class. */
export const CLASS_TILE_HEADER = 2;
/** Tile data-bin class (JPT-stream). */
export const CLASS_TILE = 4;
/** Extended tile data-bin class (carries Aux; never sent by jpipd). */
export const CLASS_EXT_TILE = 5;
/** Main header data-bin class. */
export const CLASS_MAIN_HEADER = 6;
/** Metadata data-bin class. */
export const CLASS_METADATA = 8;

/** EOR reason: everything of the image has been sent (15444-9 D.3, Table D.2; notes §3.4). */
export const EOR_IMAGE_DONE = 1;
/** EOR reason: everything relevant to the window has been sent. */
export const EOR_WINDOW_DONE = 2;
/** EOR reason: response cut short by a newer request on the channel. */
export const EOR_WINDOW_CHANGE = 3;
/** EOR reason: the `len` byte limit was reached. */
export const EOR_BYTE_LIMIT = 4;
/** EOR reason: the `quality` limit was reached. */
export const EOR_QUALITY_LIMIT = 5;
/** EOR reason: session resources exhausted. */
export const EOR_SESSION_LIMIT = 6;
/** EOR reason: a server-side response limit was reached; the channel stays usable. */
export const EOR_RESPONSE_LIMIT = 7;
/** EOR reason: no reason given. */
export const EOR_NON_SPECIFIED = 0xff;

/** Largest Msg-Length (and EOR body length) accepted by the reader: 2^31 bytes. */
export const MAX_MESSAGE_LENGTH = 0x80000000;
/** Bytes of an EOR message without body (`00 reason 00`). */
export const EOR_LENGTH = 3;
/** Upper bound on the header bytes of one message: 9-byte Bin-ID + 5 VBAS of at most 8 bytes. */
export const MAX_HEADER_LENGTH = 9 + 5 * 8;

/**
 * Stable codes of client-side JPP failures (not HTTP errors): malformed bytes, a length past a bound,
 * data contradicting earlier data, a data-bin that reassembly needs but does not have.
 */
export type JppErrorCode = 'ERR_JPP_MALFORMED' | 'ERR_JPP_LIMIT' | 'ERR_JPP_INCONSISTENT' | 'ERR_JPP_MISSING';

/** A JPP-stream that cannot be read: malformed bytes, a length past a bound, or contradicting data. */
export class JppError extends Error {
  readonly code: JppErrorCode;
  constructor(code: JppErrorCode, message: string) {
    super(message);
    this.name = 'JppError';
    this.code = code;
  }
}

/** Shorthand for a malformed-stream error. */
export const jppMalformed = (m: string): JppError => new JppError('ERR_JPP_MALFORMED', m);

/** Class and codestream of the previous message of a response (the elision state of §3.2). */
export interface ClassState {
  cls: number;
  codestream: number;
}

/** One decoded data-bin message header (15444-9 A.2). */
export interface MessageHeader extends ClassState {
  /** In-class identifier. */
  id: number;
  /** Msg-Offset: position of the body's first byte in the data-bin. */
  offset: number;
  /** Msg-Length: body bytes that follow the header. */
  length: number;
  /** Completed bit: the body ends at the last byte of the data-bin. */
  complete: boolean;
  /** Aux, present exactly when `cls` is odd. */
  aux?: number;
}

/** A decoded EOR header (15444-9 D.3): reason code and the length of the body that follows. */
export interface EorHeader {
  reason: number;
  length: number;
}

/** Result of `readMessageHeader`: a data-bin message or an EOR, and the position after the header. */
export type ReadHeaderResult =
  | { kind: 'message'; header: MessageHeader; next: number }
  | { kind: 'eor'; eor: EorHeader; next: number };

/** True for the classes defined by 15444-9 Table A.2 (3, 7 and above 8 are not defined). */
export function isKnownClass(cls: number): boolean {
  return Number.isInteger(cls) && cls >= 0 && cls <= 8 && cls !== 3 && cls !== 7;
}

/** Continuation bytes after the first Bin-ID byte in the minimal form of `id` (nibble, then 7-bit groups). */
function binIdExtraBytes(id: number): number {
  if (id < 16) return 0;
  if (id < 0x800) return 1;
  if (id < 0x40000) return 2;
  // id ≥ 16·128², so at least three 7-bit groups follow the nibble.
  let k = 3;
  let v = Math.floor(id / 0x200000);
  while (v >= 16) {
    v = Math.floor(v / 128);
    k++;
  }
  return k;
}

/** Indicator (§3.2) used for `h` after `prev`: 3 with no previous message or a new codestream, 2 for a new class, else 1. */
export function headerIndicator(h: ClassState, prev: ClassState | null): 1 | 2 | 3 {
  if (prev === null || prev.codestream !== h.codestream) return 3;
  return prev.cls !== h.cls ? 2 : 1;
}

function checkHeader(h: MessageHeader): void {
  for (const v of [h.id, h.cls, h.codestream, h.offset, h.length]) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`JPP header field out of range: ${v}`);
  }
  if (!isKnownClass(h.cls)) throw new RangeError(`JPP data-bin class ${h.cls} is not defined`);
  if (h.offset + h.length > VBAS_MAX) throw new RangeError('JPP message ends beyond 2^53');
  if (h.cls % 2 === 1 && (h.aux === undefined || !Number.isSafeInteger(h.aux) || h.aux < 0)) {
    throw new RangeError(`JPP class ${h.cls} needs a non-negative Aux`);
  }
}

/** Previous class value meaning "no message before this one in the response" (forces indicator 3). */
export const NO_PREVIOUS = -1;

/**
 * Hot-path header size (15444-9 A.2.1) for an even class (no Aux): `prevCls`/`prevCs` describe the
 * previous message of the response (`prevCls` = NO_PREVIOUS for the first). No checks: the caller
 * guarantees non-negative safe integers (the response writer's values come from the index).
 */
export function binHeaderLength(cls: number, codestream: number, id: number, offset: number, length: number, prevCls: number, prevCs: number): number {
  let n = 1 + binIdExtraBytes(id) + vbasLength(offset) + vbasLength(length);
  if (prevCls < 0 || prevCs !== codestream) n += vbasLength(cls) + vbasLength(codestream);
  else if (prevCls !== cls) n += vbasLength(cls);
  return n;
}

/**
 * Hot-path header writer for an even class (no Aux), same bytes as writeMessageHeader: the shortest
 * indicator allowed after (prevCls, prevCs). Returns the position after the header. No checks.
 */
export function putBinHeader(out: Uint8Array, pos: number, cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean, prevCls: number, prevCs: number): number {
  const ind = prevCls < 0 || prevCs !== codestream ? 3 : prevCls !== cls ? 2 : 1;
  const flags = (ind << 5) | (complete ? 0x10 : 0);
  let p: number;
  if (id < 16) {
    out[pos] = flags | id;
    p = pos + 1;
  } else if (id < 0x800) {
    out[pos] = 0x80 | flags | (id >>> 7);
    out[pos + 1] = id & 0x7f;
    p = pos + 2;
  } else if (id < 0x40000) {
    out[pos] = 0x80 | flags | (id >>> 14);
    out[pos + 1] = 0x80 | ((id >>> 7) & 0x7f);
    out[pos + 2] = id & 0x7f;
    p = pos + 3;
  } else {
    const extra = binIdExtraBytes(id);
    let v = id;
    for (let i = extra; i >= 1; i--) {
      out[pos + i] = (v % 128) | (i === extra ? 0 : 0x80);
      v = Math.floor(v / 128);
    }
    out[pos] = 0x80 | flags | v;
    p = pos + 1 + extra;
  }
  if (ind >= 2) p = putVbas(out, p, cls);
  if (ind === 3) p = putVbas(out, p, codestream);
  p = putVbas(out, p, offset);
  return putVbas(out, p, length);
}

/** Header bytes `writeMessageHeader` writes for `h` after `prev` (null = first message of a response). */
export function messageHeaderLength(h: MessageHeader, prev: ClassState | null): number {
  checkHeader(h);
  const ind = headerIndicator(h, prev);
  let n = 1 + binIdExtraBytes(h.id);
  if (ind >= 2) n += vbasLength(h.cls);
  if (ind === 3) n += vbasLength(h.codestream);
  n += vbasLength(h.offset) + vbasLength(h.length);
  if (h.cls % 2 === 1) n += vbasLength(h.aux as number);
  return n;
}

/**
 * Writes the header of a data-bin message at `pos` with the shortest indicator allowed after `prev`
 * (pass null for the first message of a response: it forces indicator 3). Returns the position after
 * the header; the caller writes the `h.length` body bytes there. 15444-9 A.2.1, notes §3.2.
 */
export function writeMessageHeader(out: Uint8Array, pos: number, h: MessageHeader, prev: ClassState | null): number {
  checkHeader(h);
  if (h.cls % 2 === 0) return putBinHeader(out, pos, h.cls, h.codestream, h.id, h.offset, h.length, h.complete, prev ? prev.cls : NO_PREVIOUS, prev ? prev.codestream : 0);
  const ind = headerIndicator(h, prev);
  const extra = binIdExtraBytes(h.id);
  let v = h.id;
  for (let i = extra; i >= 1; i--) {
    out[pos + i] = (v % 128) | (i === extra ? 0 : 0x80);
    v = Math.floor(v / 128);
  }
  out[pos] = (extra > 0 ? 0x80 : 0) | (ind << 5) | (h.complete ? 0x10 : 0) | v;
  let p = pos + 1 + extra;
  if (ind >= 2) p = writeVbas(out, p, h.cls);
  if (ind === 3) p = writeVbas(out, p, h.codestream);
  p = writeVbas(out, p, h.offset);
  p = writeVbas(out, p, h.length);
  return writeVbas(out, p, h.aux as number);
}

/** Writes a body-less EOR message (`00 reason 00`, 15444-9 D.3) at `pos`; returns the position after it. */
export function writeEor(out: Uint8Array, pos: number, reason: number): number {
  if (!Number.isInteger(reason) || reason < 0 || reason > 0xff) throw new RangeError(`EOR reason out of range: ${reason}`);
  out[pos] = 0x00;
  out[pos + 1] = reason;
  out[pos + 2] = 0x00;
  return pos + EOR_LENGTH;
}

/** readVbas, with over-long VBAS reported as a malformed JPP-stream. */
function vbas(buf: Uint8Array, pos: number, end: number, what: string): { value: number; next: number } | null {
  try {
    return readVbas(buf, pos, end);
  } catch {
    throw jppMalformed(`${what}: VBAS too long or beyond 2^53`);
  }
}

function boundedLength(value: number, what: string): number {
  if (value > MAX_MESSAGE_LENGTH) throw new JppError('ERR_JPP_LIMIT', `${what} ${value} exceeds ${MAX_MESSAGE_LENGTH}`);
  return value;
}

/**
 * Decodes the header at `pos` of `buf[..end)`. Returns null when the bytes end before the header does
 * (an incremental parser then waits for more); throws JppError on malformed headers, on class or
 * codestream elided with `prev` null (unknown), and on lengths above MAX_MESSAGE_LENGTH.
 * 15444-9 A.2.1 (data-bin messages), D.3 (EOR); notes §3.2, §3.4.
 */
export function readMessageHeader(buf: Uint8Array, pos: number, end: number, prev: ClassState | null): ReadHeaderResult | null {
  if (pos >= end) return null;
  const b0 = buf[pos];
  if (b0 === 0x00) {
    if (pos + 2 > end) return null;
    const len = vbas(buf, pos + 2, end, 'EOR body length');
    if (len === null) return null;
    return { kind: 'eor', eor: { reason: buf[pos + 1], length: boundedLength(len.value, 'EOR body length') }, next: len.next };
  }
  const ind = (b0 >> 5) & 3;
  if (ind === 0) throw jppMalformed(`Bin-ID indicator 0 is prohibited (byte 0x${b0.toString(16)})`);
  let id = b0 & 0x0f;
  let p = pos + 1;
  let more = (b0 & 0x80) !== 0;
  for (let i = 0; more; i++) {
    if (i >= 8) throw jppMalformed('Bin-ID longer than 9 bytes');
    if (p >= end) return null;
    const b = buf[p++];
    id = id * 128 + (b & 0x7f);
    more = (b & 0x80) !== 0;
  }
  if (id > VBAS_MAX) throw jppMalformed('in-class identifier beyond 2^53');
  let cls: number;
  let codestream: number;
  if (ind >= 2) {
    const c = vbas(buf, p, end, 'Class');
    if (c === null) return null;
    cls = c.value;
    p = c.next;
    if (!isKnownClass(cls)) throw jppMalformed(`data-bin class ${cls} is not defined`);
  } else {
    if (prev === null) throw jppMalformed('message elides its class but no previous message is known');
    cls = prev.cls;
  }
  if (ind === 3) {
    const c = vbas(buf, p, end, 'CSn');
    if (c === null) return null;
    codestream = c.value;
    p = c.next;
  } else {
    if (prev === null) throw jppMalformed('message elides its codestream but no previous message is known');
    codestream = prev.codestream;
  }
  const off = vbas(buf, p, end, 'Msg-Offset');
  if (off === null) return null;
  const len = vbas(buf, off.next, end, 'Msg-Length');
  if (len === null) return null;
  const length = boundedLength(len.value, 'Msg-Length');
  if (off.value + length > VBAS_MAX) throw jppMalformed('message ends beyond 2^53');
  p = len.next;
  const header: MessageHeader = { cls, codestream, id, offset: off.value, length, complete: (b0 & 0x10) !== 0 };
  if (cls % 2 === 1) {
    const aux = vbas(buf, p, end, 'Aux');
    if (aux === null) return null;
    header.aux = aux.value;
    p = aux.next;
  }
  return { kind: 'message', header, next: p };
}
