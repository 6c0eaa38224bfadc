/**
 * Builds one JPP-stream response body (15444-9 A.2): messages with class/codestream elision, where
 * the first message of every response spells out class and codestream (indicator 3, notes §3.2),
 * then the EOR message. Grows one ArrayBuffer; `finish()` returns exactly the bytes written.
 */
import { EOR_LENGTH, messageHeaderLength, writeEor, writeMessageHeader, type ClassState, type MessageHeader } from '../bytes/jpp.js';

/** Incremental JPP-stream body writer. */
export class JppBuilder {
  private buf: Uint8Array;
  private pos = 0;
  private prev: ClassState | null = null;
  /** Messages written (EOR excluded). */
  messages = 0;
  /** Body bytes written (headers excluded). */
  dataBytes = 0;

  /** `capacity`: the expected body size (the budget, when known), so the buffer rarely grows. */
  constructor(capacity = 4096) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  /** Bytes written so far (message headers and bodies; EOR excluded until written). */
  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Header length a message would take now (depends on the previous message's class/codestream). */
  headerLength(cls: number, codestream: number, id: number, offset: number, length: number, complete: boolean): number {
    return messageHeaderLength({ cls, codestream, id, offset, length, complete }, this.prev);
  }

  /** Appends one message carrying `body` at `offset` of data-bin (cls, codestream, id). */
  message(cls: number, codestream: number, id: number, offset: number, body: Uint8Array, complete: boolean): void {
    const h: MessageHeader = { cls, codestream, id, offset, length: body.length, complete };
    this.ensure(messageHeaderLength(h, this.prev) + body.length);
    this.pos = writeMessageHeader(this.buf, this.pos, h, this.prev);
    this.buf.set(body, this.pos);
    this.pos += body.length;
    this.prev = { cls, codestream };
    this.messages++;
    this.dataBytes += body.length;
  }

  /** Appends the EOR message (15444-9 D.3) with an empty body. */
  eor(reason: number): void {
    this.ensure(EOR_LENGTH);
    this.pos = writeEor(this.buf, this.pos, reason);
  }

  /** The body: a view of exactly the bytes written, over its own ArrayBuffer (safe to transfer). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
