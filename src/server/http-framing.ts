/**
 * HTTP/1.1 message framing (RFC 9112 §6), just enough to cut a byte stream into requests and to find
 * where a response ends: request heads with an optional Content-Length body, and response bodies
 * delimited by Content-Length or chunked transfer coding. Used by the pipelining sequencer.
 */
import { ERROR_CODES, type ErrorCode } from '../errors.js';

/** A complete request taken off the stream. */
export interface FramedRequest {
  /** The request's bytes (head and body), to forward unchanged. */
  bytes: Buffer;
  method: string;
  /** True for an HTTP/1.0 request. */
  http10: boolean;
  /** Lower-cased header names. */
  headers: Map<string, string>;
}

/** A framing failure: a registry error code (its status is what the client gets) and a one-line reason. */
export class FramingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The HTTP status of the code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Parses header lines (after the start line) into a map with lower-cased names. */
function parseHeaders(lines: string[]): Map<string, string> {
  const h = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) throw new FramingError('ERR_MALFORMED_REQUEST', 'malformed header line');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    h.set(name, h.has(name) ? `${h.get(name)}, ${value}` : value);
  }
  return h;
}

/**
 * Splits requests off an input buffer (RFC 9112 §6.3): returns the requests found, the rest, and
 * whether the rest is a head that sent `Expect: 100-continue` and waits for its body (RFC 9110 §10.1.1).
 */
export function takeRequests(buf: Buffer, maxHead: number, maxBody: number): { requests: FramedRequest[]; rest: Buffer; expectsContinue: boolean } {
  const requests: FramedRequest[] = [];
  let expectsContinue = false;
  let at = 0;
  for (;;) {
    // Tolerate empty lines between requests (RFC 9112 §2.2).
    while (at + 1 < buf.length && buf[at] === 0x0d && buf[at + 1] === 0x0a) at += 2;
    const end = buf.indexOf(CRLF2, at);
    if (end < 0) {
      if (buf.length - at > maxHead) throw new FramingError('ERR_HEAD_TOO_LARGE', 'request head too large');
      break;
    }
    if (end - at > maxHead) throw new FramingError('ERR_HEAD_TOO_LARGE', 'request head too large');
    const lines = buf.toString('latin1', at, end).split('\r\n');
    const m = /^([A-Z]+) \S+ HTTP\/1\.([01])$/.exec(lines[0]);
    if (!m) throw new FramingError('ERR_MALFORMED_REQUEST', 'malformed request line');
    const headers = parseHeaders(lines.slice(1));
    if (headers.has('transfer-encoding')) throw new FramingError('ERR_LENGTH_REQUIRED', 'request bodies must have a Content-Length');
    const cl = headers.get('content-length');
    let bodyLength = 0;
    if (cl !== undefined) {
      if (!/^\d{1,10}$/.test(cl)) throw new FramingError('ERR_MALFORMED_REQUEST', 'malformed Content-Length');
      bodyLength = Number(cl);
      if (bodyLength > maxBody) throw new FramingError('ERR_BODY_TOO_LARGE', 'request body too large');
    }
    const total = end + 4 - at + bodyLength;
    if (buf.length - at < total) {
      expectsContinue = /100-continue/i.test(headers.get('expect') ?? '');
      break;
    }
    requests.push({ bytes: buf.subarray(at, at + total), method: m[1], http10: m[2] === '0', headers });
    at += total;
  }
  return { requests, rest: buf.subarray(at), expectsContinue };
}

/** Response framing states. */
const enum R {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  Done,
}

/** Follows one response through the byte stream and says when it is complete. */
export class ResponseTracker {
  private state = R.Head;
  private head = Buffer.alloc(0);
  private remaining = 0;
  private line = '';
  /** Status code, once the head has been seen. */
  status = 0;
  /** The response asked to close the connection. */
  close = false;
  /** The response switched protocols (101): everything after the head belongs to the new protocol. */
  upgraded = false;

  constructor(private readonly noBody = false) {}

  /** True once the whole response has passed. */
  get done(): boolean {
    return this.state === R.Done;
  }

  /** Feeds bytes; returns how many belong to this response (the rest belong to the next one). */
  feed(b: Buffer): number {
    let i = 0;
    while (i < b.length && this.state !== R.Done) {
      switch (this.state) {
        case R.Head: {
          const joined = Buffer.concat([this.head, b.subarray(i)]);
          const end = joined.indexOf(CRLF2);
          if (end < 0) {
            this.head = joined;
            if (joined.length > 65536) throw new FramingError('ERR_INTERNAL', 'response head too large');
            return b.length;
          }
          const used = end + 4 - this.head.length;
          const lines = joined.toString('latin1', 0, end).split('\r\n');
          this.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
          const h = parseHeaders(lines.slice(1));
          this.close = /\bclose\b/i.test(h.get('connection') ?? '');
          i += used;
          this.head = Buffer.alloc(0);
          if (this.status === 101) {
            this.upgraded = true;
            this.state = R.Done;
          } else if (this.status >= 100 && this.status < 200) {
            // An interim response (100 Continue, RFC 9110 §15.2): the final response follows.
            this.state = R.Head;
          } else if (this.noBody || this.status === 204 || this.status === 304) {
            this.state = R.Done;
          } else if (/chunked/i.test(h.get('transfer-encoding') ?? '')) {
            this.state = R.ChunkSize;
            this.line = '';
          } else {
            this.remaining = Number(h.get('content-length') ?? 0);
            this.state = this.remaining > 0 ? R.Length : R.Done;
          }
          break;
        }
        case R.Length: {
          const n = Math.min(this.remaining, b.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = R.Done;
          break;
        }
        case R.ChunkSize:
        case R.Trailer: {
          const nl = b.indexOf(0x0a, i);
          const piece = b.toString('latin1', i, nl < 0 ? b.length : nl + 1);
          i = nl < 0 ? b.length : nl + 1;
          this.line += piece;
          if (this.line.length > 4096) throw new FramingError('ERR_INTERNAL', 'malformed chunked response');
          if (nl < 0) break;
          const line = this.line.replace(/\r?\n$/, '');
          this.line = '';
          if (this.state === R.Trailer) {
            if (line === '') this.state = R.Done;
            break;
          }
          const size = parseInt(line.split(';')[0], 16);
          if (!Number.isFinite(size) || size < 0) throw new FramingError('ERR_INTERNAL', 'malformed chunk size');
          if (size === 0) this.state = R.Trailer;
          else {
            this.remaining = size;
            this.state = R.ChunkData;
          }
          break;
        }
        case R.ChunkData: {
          const n = Math.min(this.remaining, b.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.state = R.ChunkDataEnd;
            this.remaining = 2;
          }
          break;
        }
        case R.ChunkDataEnd: {
          const n = Math.min(this.remaining, b.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = R.ChunkSize;
          break;
        }
      }
    }
    return i;
  }
}
