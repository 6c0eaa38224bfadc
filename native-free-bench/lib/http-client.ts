/**
 * A minimal JPIP-over-HTTP client for load generation, on raw node:net sockets: node:http costs the
 * generator about 60–100 µs of CPU per exchange, which on a 2-core machine is taken from the server
 * under test, and more from the faster one. This client writes a one-line request and follows the
 * response's framing (Content-Length or chunked) with a small state machine, 5–15 µs per exchange.
 * Each simulated client owns one keep-alive connection, because classic esajpip binds a channel to
 * its TCP connection (jpipd does not care); a server that closes it gets a new one on the next
 * request. Bodies are not parsed: the EOR reason is read from the last three bytes (an EOR message
 * is 0x00, reason, VBAS length 0 — 15444-9 D.3).
 */
import * as net from 'node:net';

/** One completed HTTP exchange. */
export interface Exchange {
  status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string>;
  /** Body length in bytes (after de-chunking). */
  bytes: number;
  /** EOR reason code, if the body ends with an EOR message. */
  eor: number | undefined;
  /** Milliseconds from sending the request to the end of the body. */
  ms: number;
  /** The body, only when asked for (error texts, verification). */
  body?: Buffer;
}

/** Refuses anything but an http URL on 127.0.0.1 (the benchmarks never leave this machine). */
export function checkLocalUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') throw new Error(`only http://127.0.0.1:PORT is allowed, got ${url}`);
  return u;
}

/** The EOR reason at the end of a JPP-stream body, if there is one. */
export function tailEor(last3: Buffer): number | undefined {
  return last3.length === 3 && last3[0] === 0x00 && last3[2] === 0x00 ? last3[1] : undefined;
}

const enum S {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailer,
  UntilClose,
  Done,
}

/** Follows one response through the byte stream. */
class ResponseReader {
  state = S.Head;
  status = 0;
  headers: Record<string, string> = {};
  bytes = 0;
  close = false;
  private head: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private line = '';
  private tail: Buffer = Buffer.alloc(0);
  private parts: Buffer[] | null;

  constructor(keepBody: boolean) {
    this.parts = keepBody ? [] : null;
  }

  /** Feeds bytes; returns how many belong to this response. */
  feed(d: Buffer): number {
    let i = 0;
    while (i < d.length && this.state !== S.Done) {
      switch (this.state) {
        case S.Head: {
          const joined = this.head.length ? Buffer.concat([this.head, d.subarray(i)]) : d.subarray(i);
          const end = joined.indexOf('\r\n\r\n');
          if (end < 0) {
            this.head = Buffer.from(joined);
            return d.length;
          }
          const used = end + 4 - this.head.length;
          const lines = joined.toString('latin1', 0, end).split('\r\n');
          this.status = Number(lines[0].slice(9, 12));
          for (let k = 1; k < lines.length; k++) {
            const c = lines[k].indexOf(':');
            if (c > 0) this.headers[lines[k].slice(0, c).trim().toLowerCase()] = lines[k].slice(c + 1).trim();
          }
          this.head = Buffer.alloc(0);
          i += used;
          this.close = /close/i.test(this.headers.connection ?? '');
          if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) this.state = S.ChunkSize;
          else if (this.headers['content-length'] !== undefined) {
            this.remaining = Number(this.headers['content-length']);
            this.state = this.remaining > 0 ? S.Length : S.Done;
          } else this.state = this.status === 204 || this.status === 304 ? S.Done : S.UntilClose;
          break;
        }
        case S.Length:
        case S.ChunkData:
        case S.UntilClose: {
          const n = this.state === S.UntilClose ? d.length - i : Math.min(this.remaining, d.length - i);
          this.body(d.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.state === S.Length && this.remaining === 0) this.state = S.Done;
          else if (this.state === S.ChunkData && this.remaining === 0) {
            this.state = S.ChunkEnd;
            this.remaining = 2;
          }
          break;
        }
        case S.ChunkEnd: {
          const n = Math.min(this.remaining, d.length - i);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = S.ChunkSize;
          break;
        }
        case S.ChunkSize:
        case S.Trailer: {
          const nl = d.indexOf(0x0a, i);
          this.line += d.toString('latin1', i, nl < 0 ? d.length : nl + 1);
          i = nl < 0 ? d.length : nl + 1;
          if (nl < 0) break;
          const line = this.line.trim();
          this.line = '';
          if (this.state === S.Trailer) {
            if (line === '') this.state = S.Done;
          } else {
            const size = parseInt(line, 16);
            if (size === 0) this.state = S.Trailer;
            else {
              this.remaining = size;
              this.state = S.ChunkData;
            }
          }
          break;
        }
      }
    }
    return i;
  }

  private body(b: Buffer): void {
    if (b.length === 0) return;
    this.bytes += b.length;
    this.tail = b.length >= 3 ? b.subarray(b.length - 3) : Buffer.concat([this.tail, b]).subarray(-3);
    this.parts?.push(Buffer.from(b));
  }

  /** The response is over (a body delimited by the connection's close ends here too). */
  finish(): void {
    if (this.state === S.UntilClose) this.state = S.Done;
  }

  get done(): boolean {
    return this.state === S.Done;
  }

  result(t0: bigint): Exchange {
    const isJpp = (this.headers['content-type'] ?? '').startsWith('image/jpp-stream');
    return {
      status: this.status,
      headers: this.headers,
      bytes: this.bytes,
      eor: isJpp ? tailEor(Buffer.from(this.tail)) : undefined,
      ms: Number(process.hrtime.bigint() - t0) / 1e6,
      body: this.parts ? Buffer.concat(this.parts) : undefined,
    };
  }
}

/** One keep-alive connection to a server, one request at a time. */
export class Connection {
  private sock: net.Socket | null = null;
  private reader: ResponseReader | null = null;
  private settle: ((e: Error | null) => void) | null = null;

  constructor(
    readonly base: URL,
    readonly timeoutMs = 60_000,
  ) {}

  private connect(): net.Socket {
    const sock = net.connect(Number(this.base.port), this.base.hostname);
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      const r = this.reader;
      if (!r || this.sock !== sock) return;
      r.feed(d);
      if (r.done) this.settle?.(null);
    });
    const gone = (e?: Error): void => {
      // A socket dropped earlier (reset) may report its end while a newer one serves the request.
      if (this.sock !== sock) return;
      this.sock = null;
      const r = this.reader;
      if (!r) return;
      r.finish();
      this.settle?.(r.done ? null : (e ?? new Error('connection closed before the response ended')));
    };
    sock.on('error', gone);
    sock.on('close', () => gone());
    return sock;
  }

  /** Drops the socket (the next request opens a new connection). */
  reset(): void {
    this.sock?.destroy();
    this.sock = null;
  }

  /** Ends the connection for good. */
  destroy(): void {
    this.reset();
  }

  /** GET path?query and reads the whole response. */
  get(pathAndQuery: string, keepBody = false): Promise<Exchange> {
    const t0 = process.hrtime.bigint();
    if (!this.sock || this.sock.destroyed) this.sock = this.connect();
    const sock = this.sock;
    const reader = new ResponseReader(keepBody);
    this.reader = reader;
    return new Promise<Exchange>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle?.(new Error('request timed out'));
        sock.destroy();
      }, this.timeoutMs);
      this.settle = (e) => {
        clearTimeout(timer);
        this.settle = null;
        this.reader = null;
        if (e) {
          this.reset();
          reject(e);
          return;
        }
        if (reader.close) this.reset();
        resolve(reader.result(t0));
      };
      sock.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: ${this.base.host}\r\n\r\n`);
    });
  }
}

/** A query string from fields, keeping the characters JPIP clients send raw (`, < > : [ ] * !`). */
export function query(fields: Record<string, string | number>): string {
  let out = '';
  for (const k in fields) {
    const v = String(fields[k]);
    // Most values need no escaping; skipping the regex keeps the generator's own CPU low.
    const e = RAW_VALUE.test(v) ? v : encodeURIComponent(v).replace(/%(2C|3C|3E|3A|5B|5D|2A|21)/gi, (m) => decodeURIComponent(m));
    out += out ? `&${k}=${e}` : `${k}=${e}`;
  }
  return out;
}
const RAW_VALUE = /^[\w.,<>:\-[\]*!]*$/;

/** Channel id and path from a JPIP-cnew header value (`cid=…,path=…,transport=http`). */
export function parseCnew(value: string | string[] | undefined): { cid: string; path: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const kv = new Map(value.split(',').map((p) => p.trim().split('=') as [string, string]));
  const cid = kv.get('cid');
  return cid ? { cid, path: kv.get('path') ?? 'jpip' } : undefined;
}
