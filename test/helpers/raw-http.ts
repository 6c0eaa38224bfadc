/**
 * A small raw HTTP/1.1 client over node:net for client-replay tests (notes §1.6, §2.4): it writes
 * requests byte for byte as a given JPIP client does (one `write()` per call, TCP_NODELAY on, so
 * separately written requests leave as separate segments), and parses responses the way the strict
 * clients do: exact status line, header names with their exact spelling, one `": "` per header line
 * and no empty values (the Kakadu-era JHelioviewer parser), then a chunked or Content-Length body
 * (gzip/deflate undone) whose JPP-stream is parsed with src/client/jpp-parser.ts.
 */
import * as net from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { JppParser, type JppEvent, type JppMessage } from '../../src/client/jpp-parser.js';
import { jp2cBoxes } from './boxes.js';

/** One header line, split at its first `": "`. */
export type HeaderPair = [name: string, value: string];

/** A response as read off the wire. */
export interface RawResponse {
  /** The status line exactly as sent, without CRLF. */
  statusLine: string;
  status: number;
  /** Header lines exactly as sent, without CRLF. */
  headerLines: string[];
  /** Headers split at the first `": "`, names with their exact spelling. */
  headers: HeaderPair[];
  /** Lines a strict `": "`-splitting parser rejects: not exactly one `": "`, or an empty value. */
  headerProblems: string[];
  /** True when the body came with `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** The body after de-chunking and content decoding. */
  body: Uint8Array;
  /** Every byte of this response as received (status line through the last chunk). */
  wire: Uint8Array;
}

/** Value of the header spelled exactly `name` (case-sensitive, as a case-sensitive map would find it). */
export function exactHeader(r: RawResponse, name: string): string | undefined {
  return r.headers.find(([k]) => k === name)?.[1];
}

/** Value of header `name`, case-insensitively (as browsers and Kakadu look it up). */
export function anyHeader(r: RawResponse, name: string): string | undefined {
  const n = name.toLowerCase();
  return r.headers.find(([k]) => k.toLowerCase() === n)?.[1];
}

/** Builds the exact bytes of a request: request line, headers in order, blank line, optional body. */
export function buildRequest(method: string, target: string, headers: HeaderPair[], body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Request headers of the newest JHelioviewer (notes §1.6). */
export function jhvHeaders(hostPort: string): HeaderPair[] {
  return [
    ['Host', hostPort],
    ['User-Agent', 'JHV/4.5.0.12345 (Linux amd64)'],
    ['Connection', 'keep-alive'],
    ['Accept-Encoding', 'gzip'],
    ['Cache-Control', 'no-cache'],
  ];
}

/** Request headers of kdu_show (Kakadu v6.1 client; notes §1.1, §1.6). */
export function kakaduHeaders(hostPort: string, extra: HeaderPair[] = []): HeaderPair[] {
  return [['Host', hostPort], ['Cache-Control', 'no-cache'], ...extra];
}

/** Request headers of a browser XMLHttpRequest/fetch from another origin (webjpip.js, jpip.js). */
export function browserHeaders(hostPort: string, origin = 'http://viewer.example'): HeaderPair[] {
  return [
    ['Host', hostPort],
    ['Connection', 'keep-alive'],
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0'],
    ['Accept', '*/*'],
    ['Origin', origin],
    ['Referer', `${origin}/`],
    ['Accept-Encoding', 'gzip, deflate'],
  ];
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Finds the end of a chunked body starting at `start`; returns decoded body and end offset, or null if incomplete. */
function readChunked(buf: Buffer, start: number): { body: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return null;
    const sizeText = buf.toString('latin1', pos, eol).split(';')[0].trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
    const size = parseInt(sizeText, 16);
    pos = eol + 2;
    if (size === 0) {
      // Trailer section: lines until an empty one.
      for (;;) {
        const e = buf.indexOf('\r\n', pos, 'latin1');
        if (e < 0) return null;
        if (e === pos) return { body: Buffer.concat(parts), end: e + 2 };
        pos = e + 2;
      }
    }
    if (buf.length < pos + size + 2) return null;
    parts.push(buf.subarray(pos, pos + size));
    if (buf.toString('latin1', pos + size, pos + size + 2) !== '\r\n') throw new Error('chunk not followed by CRLF');
    pos += size + 2;
  }
}

/** Tries to parse one whole response at the start of `buf`; null when more bytes are needed. */
export function parseResponse(buf: Buffer, closed = false): { response: RawResponse; consumed: number } | null {
  const headEnd = buf.indexOf(CRLF2);
  if (headEnd < 0) return null;
  const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
  const statusLine = lines[0];
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const status = Number(m[1]);
  const headerLines = lines.slice(1);
  const headers: HeaderPair[] = [];
  const headerProblems: string[] = [];
  for (const line of headerLines) {
    const parts = line.split(': ');
    if (parts.length !== 2 || parts[1].length === 0 || parts[0].length === 0) headerProblems.push(line);
    const i = line.indexOf(':');
    headers.push([line.slice(0, i), line.slice(i + 1).replace(/^ /, '')]);
  }
  const find = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const bodyStart = headEnd + 4;
  const te = find('transfer-encoding');
  const cl = find('content-length');
  let raw: Buffer;
  let end: number;
  const chunked = te !== undefined && /chunked/i.test(te);
  if (chunked) {
    const r = readChunked(buf, bodyStart);
    if (r === null) return null;
    raw = r.body;
    end = r.end;
  } else if (cl !== undefined) {
    const n = Number(cl);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad Content-Length ${cl}`);
    if (buf.length < bodyStart + n) return null;
    raw = buf.subarray(bodyStart, bodyStart + n);
    end = bodyStart + n;
  } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    raw = Buffer.alloc(0);
    end = bodyStart;
  } else {
    // Body delimited by the connection close.
    if (!closed) return null;
    raw = buf.subarray(bodyStart);
    end = buf.length;
  }
  const ce = find('content-encoding');
  let body: Uint8Array = raw;
  if (ce !== undefined && /gzip/i.test(ce)) body = gunzipSync(raw);
  else if (ce !== undefined && /deflate/i.test(ce)) body = inflateSync(raw);
  const response: RawResponse = {
    statusLine,
    status,
    headerLines,
    headers,
    headerProblems,
    chunked,
    body: new Uint8Array(body),
    wire: new Uint8Array(buf.subarray(0, end)),
  };
  return { response, consumed: end };
}

/** One TCP connection to the server on which requests are written raw and responses read in order. */
export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private isClosed = false;
  private closeError: Error | null = null;
  /** Every byte received on this connection, in order. */
  readonly received: Buffer[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.received.push(d);
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    sock.on('error', (e) => {
      this.closeError = e;
    });
    sock.on('close', () => {
      this.isClosed = true;
      this.waiter?.();
    });
  }

  /** Connects to 127.0.0.1:`port` (TCP_NODELAY set). */
  static connect(port: number, host = '127.0.0.1', timeoutMs = 3000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, host);
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error('connect timeout'));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve(new RawConnection(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  /** True once the server (or we) closed the connection. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes received but not yet consumed by `readResponse`. */
  get pending(): Buffer {
    return this.buf;
  }

  /** Writes `data` with one `write()` call; resolves when it was handed to the kernel. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (e) => (e ? reject(e) : resolve()));
    });
  }

  /**
   * Writes each part with its own `write()` call, letting the event loop pass its poll phase twice
   * and then waiting `gapMs` between parts: a server in this process has then read the previous part
   * on its own (a client writing and flushing each request, with the server keeping up).
   */
  async writeEach(parts: Array<string | Uint8Array>, gapMs = 1): Promise<void> {
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) {
        for (let k = 0; k < 2; k++) await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, gapMs));
      }
      await this.write(parts[i]);
    }
  }

  /** Writes each part with its own `write()` call, back to back with no pause (separate segments, TCP_NODELAY). */
  writeBackToBack(parts: Array<string | Uint8Array>): Promise<void> {
    return Promise.all(parts.map((p) => this.write(p))).then(() => undefined);
  }

  /** Resolves once at least `min` unread bytes are pending (e.g. the start of a response), or rejects on timeout/close. */
  waitBytes(min: number, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`fewer than ${min} bytes within ${timeoutMs} ms`));
      }, timeoutMs);
      const attempt = (): void => {
        if (this.buf.length >= min || this.isClosed) {
          clearTimeout(timer);
          this.waiter = null;
          if (this.buf.length >= min) resolve();
          else reject(new ConnectionClosedError('connection closed', this.buf.length));
        }
      };
      this.waiter = attempt;
      attempt();
    });
  }

  /** Reads the next whole response; rejects on timeout or when the connection closes first. */
  readResponse(timeoutMs = 5000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no whole response within ${timeoutMs} ms (${this.buf.length} bytes pending)`));
      }, timeoutMs);
      const attempt = (): void => {
        let parsed: ReturnType<typeof parseResponse>;
        try {
          parsed = parseResponse(this.buf, this.isClosed);
        } catch (e) {
          clearTimeout(timer);
          this.waiter = null;
          reject(e as Error);
          return;
        }
        if (parsed !== null) {
          clearTimeout(timer);
          this.waiter = null;
          this.buf = this.buf.subarray(parsed.consumed);
          resolve(parsed.response);
        } else if (this.isClosed) {
          clearTimeout(timer);
          this.waiter = null;
          const why = this.closeError ? `: ${this.closeError.message}` : '';
          reject(new ConnectionClosedError(`connection closed with ${this.buf.length} bytes of an unfinished response${why}`, this.buf.length));
        }
      };
      this.waiter = attempt;
      attempt();
    });
  }

  /** Resolves true when the connection closes within `timeoutMs`, false otherwise. */
  waitClose(timeoutMs: number): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sock.off('close', onClose);
        resolve(false);
      }, timeoutMs);
      const onClose = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.sock.once('close', onClose);
    });
  }

  /** Stops reading the socket (a slow client): the server's writes back up into its send buffer. */
  pauseReading(): void {
    this.sock.pause();
  }

  /** Reads the socket again after `pauseReading`. */
  resumeReading(): void {
    this.sock.resume();
  }

  /** Closes the socket at once (as JHelioviewer does right after writing `cclose`). */
  destroy(): void {
    this.sock.destroy();
  }
}

/** Thrown by `readResponse` when the server closed the connection before a whole response arrived. */
export class ConnectionClosedError extends Error {
  constructor(
    message: string,
    readonly pendingBytes: number,
  ) {
    super(message);
  }
}

/** A JPP-stream body as the clients see it. */
export interface JppBody {
  events: JppEvent[];
  messages: JppMessage[];
  /** Reason of the final EOR (undefined when the body does not end with one). */
  eor: number | undefined;
  /** Number of EOR messages in the body. */
  eorCount: number;
  /** True when the last event is an EOR. */
  endsWithEor: boolean;
}

/** Parses one response body as a single JPP-stream response (throws on malformed streams). */
export function parseJppBody(body: Uint8Array): JppBody {
  const parser = new JppParser();
  parser.beginResponse();
  const events = parser.feed(body);
  parser.end();
  const messages = events.filter((e): e is JppMessage => e.kind === 'message');
  const eors = events.filter((e) => e.kind === 'eor');
  const last = events[events.length - 1];
  return {
    events,
    messages,
    eor: last?.kind === 'eor' ? last.reason : undefined,
    eorCount: eors.length,
    endsWithEor: last?.kind === 'eor',
  };
}

/** Hex dump of the first `max` bytes (for failure messages and bug reports). */
export function hex(bytes: Uint8Array, max = 64): string {
  const shown = [...bytes.subarray(0, max)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > max ? `${shown} … (${bytes.length} bytes)` : shown;
}

/** The cid of a `JPIP-cnew` value (`cid=…,path=…,transport=…`), split the way JHelioviewer splits it. */
export function cidOf(cnew: string | undefined): string {
  const params = new Map((cnew ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
  const cid = params.get('cid');
  if (cid === undefined || cid === '') throw new Error(`no cid in JPIP-cnew ${JSON.stringify(cnew)}`);
  return cid;
}

/** Payloads of the top-level `jp2c` boxes of a JP2/JPX file (15444-1 I.4), in file order. */
export function jp2cPayloads(file: Uint8Array): Uint8Array[] {
  return jp2cBoxes(file).map((b) => b.payload);
}

/** Image size, offset and decomposition levels read from a main header (SIZ 15444-1 A.5.1, COD A.6.1). */
export interface HeaderDims {
  Xsiz: number;
  Ysiz: number;
  XOsiz: number;
  YOsiz: number;
  NL: number;
}

/** Reads SIZ and COD of a main header (starting with SOC). */
export function headerDims(main: Uint8Array): HeaderDims {
  const dv = new DataView(main.buffer, main.byteOffset, main.byteLength);
  let pos = 2;
  let siz: Omit<HeaderDims, 'NL'> | undefined;
  while (pos + 4 <= main.length) {
    const code = dv.getUint16(pos);
    const L = dv.getUint16(pos + 2);
    if (code === 0xff51) siz = { Xsiz: dv.getUint32(pos + 6), Ysiz: dv.getUint32(pos + 10), XOsiz: dv.getUint32(pos + 14), YOsiz: dv.getUint32(pos + 18) }; // SIZ
    if (code === 0xff52 && siz) return { ...siz, NL: main[pos + 9] }; // COD: Scod, SGcod (4), then SPcod's NL
    if (code === 0xff90) break; // SOT
    pos += 2 + L;
  }
  throw new Error('main header without SIZ and COD');
}

/** Frame size after discarding `d` resolution levels (15444-1 B.5: ceil at both ends). */
export function levelSize(h: HeaderDims, d: number): [number, number] {
  const s = 2 ** d;
  return [Math.ceil(h.Xsiz / s) - Math.ceil(h.XOsiz / s), Math.ceil(h.Ysiz / s) - Math.ceil(h.YOsiz / s)];
}
