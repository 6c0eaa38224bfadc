/**
 * Incremental JPP-stream parser (15444-9 A.2, D.3; notes §3): a state machine fed with chunks of any
 * size. Bodies that lie inside one chunk are zero-copy `subarray` views of that chunk (so callers must
 * not recycle a chunk's memory while they keep its messages); bodies split across chunks are joined.
 * Each response starts with class/codestream "unknown": its first message must use indicator 3.
 * A response ends with its EOR message; call `beginResponse()` as well when responses are delimited
 * by the transport (e.g. one HTTP body each), so a truncated response cannot leak its state.
 */
import {
  JppError,
  MAX_HEADER_LENGTH,
  jppMalformed,
  readMessageHeader,
  type ClassState,
  type MessageHeader,
} from '../bytes/jpp.js';

/** One data-bin message: header fields plus the `length` body bytes. */
export interface JppMessage extends MessageHeader {
  kind: 'message';
  body: Uint8Array;
}

/** The end-of-response message: reason code (EOR_* constants) and its (normally empty) body. */
export interface JppEor {
  kind: 'eor';
  reason: number;
  body: Uint8Array;
}

/** What the parser emits. */
export type JppEvent = JppMessage | JppEor;

const EMPTY = new Uint8Array(0);

/** Parser states: reading a header, or collecting the body of a message or of an EOR. */
const enum State {
  Header,
  Body,
}

/** Incremental JPP-stream parser; `feed` returns the events completed by each chunk. */
export class JppParser {
  private state = State.Header;
  /** Class/codestream of the previous message of the current response; null = unknown. */
  private prev: ClassState | null = null;
  /** Header bytes carried over from earlier chunks (always fewer than a whole header). */
  private pending: Uint8Array = EMPTY;
  /** The message or EOR whose body is being collected. */
  private current: { header: MessageHeader | null; reason: number; length: number } | null = null;
  private parts: Uint8Array[] = [];
  private got = 0;
  private responses = 0;
  private failed: JppError | null = null;

  /** Number of EOR messages seen so far. */
  get completedResponses(): number {
    return this.responses;
  }

  /** True when no message is half-read (a transport may end here without losing data). */
  get idle(): boolean {
    return this.state === State.Header && this.pending.length === 0;
  }

  /** Starts a new response: forgets the previous class/codestream. Throws if a message is half-read. */
  beginResponse(): void {
    if (!this.idle) throw jppMalformed('response ended in the middle of a message');
    this.prev = null;
  }

  /** Parses `chunk`; returns every message and EOR completed by it, in stream order. */
  feed(chunk: Uint8Array): JppEvent[] {
    if (this.failed) throw this.failed;
    const events: JppEvent[] = [];
    try {
      let pos = 0;
      while (pos < chunk.length) {
        pos = this.state === State.Header ? this.readHeader(chunk, pos, events) : this.readBody(chunk, pos, events);
      }
    } catch (e) {
      if (e instanceof JppError) this.failed = e;
      throw e;
    }
    return events;
  }

  /** Declares the end of input; throws if the stream stopped inside a message. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw jppMalformed('stream ended in the middle of a message');
  }

  /** Header state: decodes one header (joining carried-over bytes); returns the new chunk position. */
  private readHeader(chunk: Uint8Array, pos: number, events: JppEvent[]): number {
    let buf = chunk;
    let start = pos;
    let carried = 0;
    if (this.pending.length > 0) {
      carried = this.pending.length;
      const take = Math.min(chunk.length - pos, MAX_HEADER_LENGTH - carried);
      buf = new Uint8Array(carried + take);
      buf.set(this.pending, 0);
      buf.set(chunk.subarray(pos, pos + take), carried);
      start = 0;
    }
    const r = readMessageHeader(buf, start, buf.length, this.prev);
    if (r === null) {
      const rest = buf.subarray(start);
      if (rest.length >= MAX_HEADER_LENGTH) throw jppMalformed('message header too long');
      this.pending = rest.slice();
      return chunk.length;
    }
    this.pending = EMPTY;
    const consumed = r.next - start - carried;
    const next = pos + consumed;
    if (r.kind === 'eor') {
      this.current = { header: null, reason: r.eor.reason, length: r.eor.length };
    } else {
      this.current = { header: r.header, reason: 0, length: r.header.length };
      this.prev = { cls: r.header.cls, codestream: r.header.codestream };
    }
    this.parts = [];
    this.got = 0;
    this.state = State.Body;
    if (this.current.length === 0) this.finish(EMPTY, events);
    return next;
  }

  /** Body state: takes what the chunk holds of the current body; returns the new chunk position. */
  private readBody(chunk: Uint8Array, pos: number, events: JppEvent[]): number {
    const cur = this.current as { length: number };
    const need = cur.length - this.got;
    const take = Math.min(need, chunk.length - pos);
    const piece = chunk.subarray(pos, pos + take);
    if (take === need && this.parts.length === 0) {
      this.finish(piece, events);
    } else {
      this.parts.push(piece);
      this.got += take;
      if (this.got === cur.length) this.finish(concat(this.parts, cur.length), events);
    }
    return pos + take;
  }

  private finish(body: Uint8Array, events: JppEvent[]): void {
    const cur = this.current as { header: MessageHeader | null; reason: number };
    if (cur.header === null) {
      events.push({ kind: 'eor', reason: cur.reason, body });
      this.responses++;
      this.prev = null;
    } else {
      events.push({ kind: 'message', ...cur.header, body });
    }
    this.current = null;
    this.parts = [];
    this.got = 0;
    this.state = State.Header;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Parses a whole JPP-stream held in memory as one or more complete responses. */
export function parseJppStream(bytes: Uint8Array): JppEvent[] {
  const parser = new JppParser();
  const events = parser.feed(bytes);
  parser.end();
  return events;
}
