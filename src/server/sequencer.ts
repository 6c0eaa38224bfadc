/**
 * The pipelining sequencer in front of uWebSockets.js (docs/decisions/0001-uws-pipelining.md).
 * uWebSockets.js closes a connection when a request arrives while an earlier response is pending,
 * and every jpipd response is pending while a worker prepares it; JHelioviewer writes two requests
 * back to back. This acceptor owns the public port: it cuts each client connection's bytes into
 * requests, forwards them to uWebSockets.js one at a time over a private upstream connection, and
 * relays each response as it streams. It also keeps idle client connections open (uWebSockets.js
 * closes idle ones after ~10 s) by reopening the upstream connection when the next request comes.
 * WebSocket upgrades are relayed as raw streams after the 101 response.
 */
import * as net from 'node:net';
import { statusText } from './headers.js';
import { FramingError, ResponseTracker, takeRequests, type FramedRequest } from './http-framing.js';

/** Where uWebSockets.js listens privately. */
export type Upstream = { path: string } | { host: string; port: number };

/** Sequencer options. */
export interface SequencerOptions {
  host: string;
  port: number;
  upstream: Upstream;
  /** Request head bound (bytes). */
  maxHeadBytes: number;
  /** POST body bound (bytes). */
  maxBodyBytes: number;
  /** Idle client connections are closed after this long (ms); at least JHelioviewer's 60 s. */
  idleMs: number;
  /** Requests one connection may queue before the sequencer stops reading it. */
  maxQueued: number;
}

/** A listening sequencer. */
export interface Sequencer {
  port: number;
  close(): Promise<void>;
}

/** RFC 9112 §9.3: `Connection: close`, or HTTP/1.0 without keep-alive, ends the connection after the response. */
function wantsClose(req: FramedRequest): boolean {
  const c = req.headers.get('connection') ?? '';
  if (/\bclose\b/i.test(c)) return true;
  return req.http10 && !/\bkeep-alive\b/i.test(c);
}

/** Writes a minimal error response (the request never reached the JPIP service). */
function refuse(sock: net.Socket, e: FramingError): void {
  const body = `${e.code}: ${e.message}\n`;
  sock.end(
    `HTTP/1.1 ${e.status} ${statusText(e.status)}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** One client connection and its upstream. */
class Link {
  private inBuf: Buffer = Buffer.alloc(0);
  private readonly queue: FramedRequest[] = [];
  private upstream: net.Socket | null = null;
  private tracker: ResponseTracker | null = null;
  /** The request being answered asked to close the connection afterwards. */
  private closeAfter = false;
  private piping = false;
  /** 100 Continue was sent for the head now waiting for its body. */
  private continued = false;
  /** A framing error to answer once the responses before it are out; the connection then closes. */
  private refusal: FramingError | null = null;

  constructor(
    private readonly client: net.Socket,
    private readonly opts: SequencerOptions,
  ) {
    client.setNoDelay(true);
    client.setTimeout(opts.idleMs, () => {
      if (!this.tracker && this.queue.length === 0) client.destroy();
    });
    client.on('data', (d) => this.onClientData(d));
    client.on('error', () => this.teardown());
    client.on('close', () => this.teardown());
    client.on('drain', () => this.upstream?.resume());
  }

  private onClientData(d: Buffer): void {
    if (this.piping) {
      this.upstream?.write(d);
      return;
    }
    this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, d]) : d;
    try {
      const { requests, rest, expectsContinue } = takeRequests(this.inBuf, this.opts.maxHeadBytes, this.opts.maxBodyBytes);
      this.inBuf = Buffer.from(rest);
      this.queue.push(...requests);
      // A client waiting for 100 Continue before its body (curl does for larger POSTs): say go on, once.
      if (expectsContinue && !this.continued) {
        this.continued = true;
        this.client.write('HTTP/1.1 100 Continue\r\n\r\n');
      }
      if (requests.length > 0) this.continued = false;
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      this.inBuf = Buffer.alloc(0);
      this.refusal = e;
      this.client.pause();
    }
    if (this.queue.length >= this.opts.maxQueued) this.client.pause();
    this.pump();
  }

  private connectUpstream(): net.Socket {
    const up = 'path' in this.opts.upstream ? net.connect(this.opts.upstream.path) : net.connect(this.opts.upstream.port, this.opts.upstream.host);
    up.setNoDelay(true);
    up.on('data', (d) => this.onUpstreamData(d));
    up.on('error', () => {});
    up.on('close', () => {
      if (this.upstream !== up) return;
      this.upstream = null;
      // Closed between responses (uWebSockets.js idle timeout): reopen on the next request.
      if (this.tracker || this.piping) this.teardown();
      else this.pump();
    });
    return up;
  }

  private pump(): void {
    if (this.tracker || this.piping) return;
    if (this.queue.length === 0) {
      if (this.refusal) {
        refuse(this.client, this.refusal);
        this.upstream?.destroy();
      }
      return;
    }
    const req = this.queue.shift() as FramedRequest;
    if (this.client.isPaused() && !this.refusal && this.queue.length < this.opts.maxQueued) this.client.resume();
    this.tracker = new ResponseTracker(req.method === 'HEAD');
    this.closeAfter = wantsClose(req);
    if (!this.upstream) this.upstream = this.connectUpstream();
    this.upstream.write(req.bytes);
  }

  private onUpstreamData(d: Buffer): void {
    if (this.piping) {
      if (!this.client.write(d)) this.upstream?.pause();
      return;
    }
    let at = 0;
    while (at < d.length) {
      const t = this.tracker;
      if (!t) return; // bytes after a complete response with nothing asked: uWebSockets.js never sends these
      let used: number;
      try {
        used = t.feed(d.subarray(at));
      } catch {
        this.teardown();
        return;
      }
      if (!this.client.write(d.subarray(at, at + used))) this.upstream?.pause();
      at += used;
      if (!t.done) continue;
      this.tracker = null;
      if (t.upgraded) {
        this.piping = true;
        if (at < d.length) this.client.write(d.subarray(at));
        if (this.inBuf.length) this.upstream?.write(this.inBuf);
        this.inBuf = Buffer.alloc(0);
        return;
      }
      if (t.close || this.closeAfter) {
        this.client.end();
        this.upstream?.destroy();
        return;
      }
      this.pump();
    }
  }

  private teardown(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.upstream = null;
  }
}

/** Starts the sequencer on host:port in front of the upstream uWebSockets.js listener. */
export function startSequencer(opts: SequencerOptions): Promise<Sequencer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    new Link(sock, opts);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      const addr = server.address() as net.AddressInfo;
      resolve({
        port: addr.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const sock of sockets) sock.destroy();
          }),
      });
    });
  });
}
