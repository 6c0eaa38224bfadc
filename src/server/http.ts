/**
 * The HTTP route of a front end on uWebSockets.js. The handler copies what it needs from the request
 * (uWS invalidates it on return) and asks the JpipService for a reply. Most replies are produced on
 * the spot and ended inside the handler: uWebSockets.js then parses the next pipelined request of
 * the connection normally (it only refuses a request that arrives while a response is pending,
 * docs/decisions/0003). A reply that needs heavy work first comes as a promise; a reply larger than
 * one piece is streamed with its Content-Length, one piece at a time as the socket drains, keeping
 * at most one unsent piece per connection (tryEnd + onWritable). What a socket does not take at once
 * is copied (the arena is reused); a reader that is slow gets smaller pieces from then on
 * (SLOW_PIECE_BYTES), and once the thread holds HELD_BUDGET_BYTES of such copies every new piece is
 * MIN_PIECE_BYTES, so stalled clients cannot make a front end hold much.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { JpipdError } from '../errors.js';
import type { JpipService, IncomingRequest, Reply } from './service.js';

/** Bounds of the HTTP route. */
export interface HttpLimits {
  /** Largest request head (request line and headers) accepted (bytes). */
  maxHeadBytes: number;
  /** Largest POST body accepted (bytes). */
  maxBodyBytes: number;
  /** The client is the last X-Forwarded-For entry when present (behind a trusted reverse proxy). */
  trustProxy?: boolean;
}

/** Default bound on the request head: Kakadu switches to POST beyond ~200 characters (notes §1.1). */
export const MAX_HEAD_BYTES = 8 * 1024;
/** Default bound on a POST body. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Unsent bytes a front-end thread may hold before it makes every new piece small. */
export const HELD_BUDGET_BYTES = 32 * 1024 * 1024;
/** Pieces for a connection that did not take a whole piece at once. */
export const SLOW_PIECE_BYTES = 256 * 1024;
/** Pieces while the thread is over HELD_BUDGET_BYTES. */
export const MIN_PIECE_BYTES = 64 * 1024;

/** Whole bodies up to this size are ended at once (uWebSockets.js buffers what the socket does not take). */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Unsent response bytes this thread holds copies of, over all its connections. */
let held = 0;
/** Unsent response bytes this thread holds (tests, metrics). */
export function heldBytes(): number {
  return held;
}

/** Accept-Encoding allows gzip (and does not give it q=0). */
const CLOSE = /(^|,)\s*close\s*(,|$)/i;
const GZIP = /\bgzip\b(?!\s*;\s*q=0(\.0*)?\b)/i;

/** Per-request state kept across callbacks. */
interface Exchange {
  started: number;
  method: string;
  aborted: boolean;
  /** Counted out of the front end's in-flight exchanges (once). */
  finished: boolean;
  /** onAborted is attached (it must be before the handler returns without responding). */
  watching: boolean;
  /** The reply being streamed, if any (its rest is undelivered when the client goes away). */
  streaming: Reply | null;
  inflight: InFlight;
  /** The request said `Connection: close`. */
  wantsClose: boolean;
  /** Gives back the unsent bytes this exchange holds (set while it holds some). */
  release?: () => void;
}

/** Adds the JPIP HTTP route (every path) to `app`. */
export function addHttpRoute(app: TemplatedApp, service: JpipService, limits: HttpLimits, log: (e: Record<string, unknown>) => void, inflight: InFlight = { n: 0, served: 0 }): void {
  app.any('/*', (res, req) => {
    inflight.n++;
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const acceptsGzip = GZIP.test(req.getHeader('accept-encoding'));
    // A client that asks to close after this exchange gets `Connection: close` and the close.
    const wantsClose = CLOSE.test(req.getHeader('connection'));
    // The address only matters to requests that may open a channel (the per-client session limit).
    const client = method === 'POST' || query.includes('cnew') ? clientAddress(res, req, limits.trustProxy === true) : undefined;
    let headBytes = path.length + query.length;
    req.forEach((k, v) => {
      headBytes += k.length + v.length + 4;
    });
    const ex: Exchange = { started: performance.now(), method, aborted: false, finished: false, watching: false, streaming: null, inflight, wantsClose };
    if (inflight.draining) {
      send(res, service.error(new JpipdError('ERR_BUSY', 'the server is stopping; try again')), ex, log, true);
      return;
    }
    if (headBytes > limits.maxHeadBytes) {
      send(res, service.error(new JpipdError('ERR_HEAD_TOO_LARGE', 'request head too large')), ex, log, true);
      return;
    }
    if (method !== 'POST') {
      dispatch(res, service, { method, path, query, acceptsGzip, client, maxPiece: pieceLimit() }, ex, log);
      return;
    }
    watch(res, ex);
    const parts: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size < 0) return;
      size += chunk.byteLength;
      if (size > limits.maxBodyBytes) {
        size = -1;
        send(res, service.error(new JpipdError('ERR_BODY_TOO_LARGE', 'POST body too large')), ex, log, true);
        return;
      }
      parts.push(Buffer.from(chunk.slice(0)));
      // The body usually arrives with the head, in the same parse: answering here is still synchronous.
      if (isLast) dispatch(res, service, { method, path, query, acceptsGzip, client, body: Buffer.concat(parts).toString('latin1'), maxPiece: pieceLimit() }, ex, log);
    });
  });
}

/**
 * The client's address: the peer's, or behind a trusted proxy the last X-Forwarded-For entry (the
 * address the proxy itself saw; bounded, so a forged header cannot grow the per-client table's keys).
 */
function clientAddress(res: HttpResponse, req: HttpRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.getHeader('x-forwarded-for');
    if (xff) {
      const last = xff.slice(xff.lastIndexOf(',') + 1).trim();
      if (last) return last.slice(0, 64);
    }
  }
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}

/** The largest piece to produce now: small while the thread holds too many unsent bytes. */
function pieceLimit(slow = false): number | undefined {
  if (held >= HELD_BUDGET_BYTES) return MIN_PIECE_BYTES;
  return slow ? SLOW_PIECE_BYTES : undefined;
}

/** Exchanges of a front end not finished yet (graceful shutdown waits for them). */
export interface InFlight {
  n: number;
  /** The front end is stopping: new requests on open connections get 503 and the connection closes. */
  draining?: boolean;
  /** Exchanges finished so far. */
  served: number;
}

/** The exchange is over (written, or its client gone): count it out once. */
function finish(ex: Exchange): void {
  if (ex.finished) return;
  ex.finished = true;
  ex.release?.();
  ex.inflight.n--;
  ex.inflight.served++;
}

/**
 * Ends a HEAD response without a body. This uWebSockets.js build aborts the whole process when
 * endWithoutBody() is given any argument (it then returns without having responded), so the length
 * is written as a header and endWithoutBody() is called bare; a response that must close the
 * connection uses end('', true) instead (Content-Length 0, then the close).
 */
export function endHead(res: HttpResponse, length: number, close: boolean): void {
  if (close) {
    res.end('', true);
    return;
  }
  res.writeHeader('Content-Length', String(length));
  res.endWithoutBody();
}

/** Attaches the abort handler once. */
function watch(res: HttpResponse, ex: Exchange): void {
  if (ex.watching) return;
  ex.watching = true;
  res.onAborted(() => {
    ex.aborted = true;
    ex.streaming?.undelivered();
    ex.streaming = null;
    finish(ex);
  });
}

/** Asks the service; writes at once when the reply is ready, else when its promise settles. */
function dispatch(res: HttpResponse, service: JpipService, inc: IncomingRequest, ex: Exchange, log: (e: Record<string, unknown>) => void): void {
  const r = service.handle(inc);
  if (!(r instanceof Promise)) {
    send(res, r, ex, log);
    return;
  }
  watch(res, ex);
  // Stop reading this connection until the reply is written (a request read meanwhile would make
  // uWebSockets.js drop the connection; later segments stay in the kernel buffer).
  res.pause();
  r.then((reply) => {
    if (ex.aborted) {
      reply.undelivered();
      finish(ex);
      return;
    }
    res.cork(() => {
      res.resume();
      send(res, reply, ex, log);
    });
  });
}

/** Writes status, headers and body: ended at once, or streamed piece by piece with tryEnd. */
function send(res: HttpResponse, reply: Reply, ex: Exchange, log: (e: Record<string, unknown>) => void, close = false): void {
  res.writeStatus(`${reply.status} ${reply.statusText}`);
  for (const [k, v] of reply.headers) res.writeHeader(k, v);
  // uWebSockets.js closes a connection whose client asked for it without saying so: say it. (When
  // the server decides to close, end(…, true) writes the header itself.)
  if (ex.wantsClose) res.writeHeader('Connection', 'close');
  close ||= ex.wantsClose;
  // A body up to SMALL_BODY_BYTES (or one that ends with a close) is ended at once. A larger one goes
  // through tryEnd even when it is whole: end() would make uWebSockets.js buffer whatever the socket
  // does not take, without bound — 400 unread connections pipelining four 1.7 MB responses each took
  // a server from 97 to 650 MB. Through tryEnd the rest is this thread's counted copy instead, and a
  // request pipelined behind it ends the connection (uWebSockets.js), as for streamed bodies.
  if (!reply.more && (close || ex.method === 'HEAD' || reply.body.length <= SMALL_BODY_BYTES)) {
    if (ex.method === 'HEAD') endHead(res, reply.length, close);
    else res.end(reply.body, close);
    finish(ex);
    log({ method: ex.method, status: reply.status, ms: performance.now() - ex.started, ...reply.log });
    return;
  }
  watch(res, ex);
  ex.streaming = reply;
  const total = reply.length;
  let piece = reply.body;
  // Body offset of piece[0]; tryEnd's write offset says how much of the body the socket took.
  let base = 0;
  // Bytes of our own copy of an unsent piece (0 while `piece` is a view of the arena).
  let copy = 0;
  let slow = false;
  ex.release = (): void => {
    held -= copy;
    copy = 0;
  };
  const pump = (): boolean => {
    for (;;) {
      const [ok, done] = res.tryEnd(piece, total);
      if (done) {
        ex.streaming = null;
        finish(ex);
        log({ method: ex.method, status: reply.status, ms: performance.now() - ex.started, ...reply.log });
        return true;
      }
      if (!ok) {
        // Keep our own copy of what the socket did not take (the arena is reused by other replies),
        // once per piece: later partial writes only move a view over that copy.
        const taken = res.getWriteOffset() - base;
        if (copy === 0) {
          piece = piece.slice(taken);
          copy = piece.length;
          held += copy;
        } else piece = piece.subarray(taken);
        base += taken;
        slow = true;
        return false;
      }
      base += piece.length;
      ex.release?.();
      if (!reply.more) {
        // Every piece is out but the body is short of its announced length: never pretend it is whole.
        ex.streaming = null;
        finish(ex);
        res.close();
        return true;
      }
      try {
        piece = reply.next(pieceLimit(slow));
      } catch {
        // The image failed mid-body: the client must not take a short body for a whole one.
        ex.streaming = null;
        finish(ex);
        res.close();
        return true;
      }
    }
  };
  if (!pump()) res.onWritable(() => (ex.aborted ? true : pump()));
}
