/**
 * A minimal JPIP-over-HTTP client for load generation, on plain node:http. Each simulated client owns one
 * keep-alive connection (an Agent with maxSockets 1), because classic esajpip binds a channel to its TCP
 * connection; jpipd does not care. Bodies are not parsed: the EOR reason is read from the last three bytes
 * (an EOR message is 0x00, reason, VBAS length 0 — 15444-9 D.3), which keeps the generator cheap.
 */
import http from 'node:http';

/** One completed HTTP exchange. */
export interface Exchange {
  status: number;
  headers: http.IncomingHttpHeaders;
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

/** One keep-alive connection to a server. */
export class Connection {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    readonly base: URL,
    readonly timeoutMs = 60_000,
  ) {}

  /** Drops the socket (the next request opens a new connection). */
  reset(): void {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Ends the connection for good. */
  destroy(): void {
    this.agent.destroy();
  }

  /** GET path?query and reads the whole response. */
  get(pathAndQuery: string, keepBody = false): Promise<Exchange> {
    const t0 = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, path: pathAndQuery, method: 'GET', agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          let bytes = 0;
          let tail: Buffer = Buffer.alloc(0);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            tail = c.length >= 3 ? c.subarray(c.length - 3) : Buffer.concat([tail, c]).subarray(-3);
            if (keepBody) chunks.push(c);
          });
          res.on('end', () => {
            const isJpp = (res.headers['content-type'] ?? '').startsWith('image/jpp-stream');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              bytes,
              eor: isJpp ? tailEor(Buffer.from(tail)) : undefined,
              ms: Number(process.hrtime.bigint() - t0) / 1e6,
              body: keepBody ? Buffer.concat(chunks) : undefined,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}

/** A query string from fields, keeping the characters JPIP clients send raw (`, < > : [ ] * !`). */
export function query(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v)).replace(/%(2C|3C|3E|3A|5B|5D|2A|21)/gi, (m) => decodeURIComponent(m))}`)
    .join('&');
}

/** Channel id and path from a JPIP-cnew header value (`cid=…,path=…,transport=http`). */
export function parseCnew(value: string | string[] | undefined): { cid: string; path: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const kv = new Map(value.split(',').map((p) => p.trim().split('=') as [string, string]));
  const cid = kv.get('cid');
  return cid ? { cid, path: kv.get('path') ?? 'jpip' } : undefined;
}
