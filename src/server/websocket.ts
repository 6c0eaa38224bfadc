/**
 * WebSocket JPIP transport (jpipd's own framing; 15444-9 defines only HTTP and UDP transports).
 * Each text message is one JPIP request written as an HTTP request target: `/image.jp2?fsiz=…` or
 * `/jpip?cid=…&…`. Each request gets two messages back, in request order: a text message with the
 * JSON head `{"seq":n,"status":200,"headers":{…}}`, then one binary message with the body (the
 * JPP-stream, or the one-line error text); a large body goes out as fragments of that message, one
 * piece at a time as the socket drains. Channels and sessions are the same as over HTTP, so a client
 * may mix transports. Requests on one socket are handled one at a time.
 */
import type { TemplatedApp, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { JpipdError } from '../errors.js';
import type { JpipService, Reply } from './service.js';

/** Path on which WebSocket upgrades are accepted. */
export const WS_PATH = '/jpip-ws';
/** Largest request message accepted (bytes). */
export const WS_MAX_REQUEST = 64 * 1024;
/** Send-buffer level above which the socket stops producing until it drains. */
export const WS_BACKPRESSURE_MARK = 1024 * 1024;
/**
 * Requests one socket may have waiting, and their bytes: a client that sends more without reading
 * the replies is closed (1008) — WebSocket reads cannot be paused, so an unbounded queue would hold
 * whatever it sends (10,000 requests of 60 KB: 600 MB).
 */
export const WS_MAX_QUEUED = 256;
export const WS_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

interface SocketState {
  seq: number;
  queue: string[];
  /** Bytes of the requests in `queue`. */
  queuedBytes: number;
  busy: boolean;
  closed: boolean;
  /** Called when the socket drains below the mark. */
  onDrain?: () => void;
  /** The reply being sent in fragments (undelivered if the socket closes). */
  streaming?: Reply;
}

/** Adds the WebSocket route to the app. */
export function addWebSocketRoute(app: TemplatedApp, service: JpipService, onLog: (e: Record<string, unknown>) => void): void {
  const behavior: WebSocketBehavior<SocketState> = {
    maxPayloadLength: WS_MAX_REQUEST,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<SocketState>(
        { seq: 0, queue: [], queuedBytes: 0, busy: false, closed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, message, isBinary) => {
      const st = ws.getUserData();
      if (st.closed) return;
      if (st.queue.length >= WS_MAX_QUEUED || st.queuedBytes + message.byteLength > WS_MAX_QUEUED_BYTES) {
        st.closed = true;
        st.queue.length = 0;
        st.queuedBytes = 0;
        ws.end(1008, 'too many requests waiting on this socket: read the replies');
        return;
      }
      const text = isBinary ? '\0binary' : Buffer.from(message).toString('latin1');
      st.queue.push(text);
      st.queuedBytes += text.length;
      pump(ws, service, onLog);
    },
    drain: (ws) => {
      const st = ws.getUserData();
      if (st.onDrain && ws.getBufferedAmount() < WS_BACKPRESSURE_MARK) {
        const go = st.onDrain;
        st.onDrain = undefined;
        go();
      }
    },
    close: (ws) => {
      const st = ws.getUserData();
      st.closed = true;
      st.queue.length = 0;
      st.queuedBytes = 0;
      st.streaming?.undelivered();
      st.streaming = undefined;
    },
  };
  app.ws<SocketState>(WS_PATH, behavior);
  // A named node also answers at /jpip-ws/<node>, so a proxy can send a client back to its channels' node.
  if (service.node) app.ws<SocketState>(`${WS_PATH}/${service.node}`, behavior);
}

/** Handles queued requests of one socket, one at a time, in order. */
function pump(ws: WebSocket<SocketState>, service: JpipService, onLog: (e: Record<string, unknown>) => void): void {
  const st = ws.getUserData();
  if (st.busy || st.closed || st.queue.length === 0) return;
  if (ws.getBufferedAmount() >= WS_BACKPRESSURE_MARK) {
    st.onDrain = () => pump(ws, service, onLog);
    return;
  }
  st.busy = true;
  const text = st.queue.shift() as string;
  st.queuedBytes -= text.length;
  const seq = st.seq++;
  const started = performance.now();
  const next = (): void => {
    st.busy = false;
    pump(ws, service, onLog);
  };
  const done = (reply: Reply): void => {
    if (st.closed) {
      reply.undelivered();
      return;
    }
    const head = { seq, status: reply.status, headers: Object.fromEntries(reply.headers) };
    const logged = (): void => onLog({ transport: 'ws', status: reply.status, ms: performance.now() - started, ...reply.log });
    if (!reply.more) {
      ws.cork(() => {
        ws.send(JSON.stringify(head), false);
        ws.send(reply.body, true);
      });
      logged();
      next();
      return;
    }
    // A large body: fragments of one binary message, each produced when the socket has drained.
    st.streaming = reply;
    ws.cork(() => {
      ws.send(JSON.stringify(head), false);
      ws.sendFirstFragment(reply.body, true);
    });
    const more = (): void => {
      if (st.closed) return;
      while (reply.more) {
        if (ws.getBufferedAmount() >= WS_BACKPRESSURE_MARK) {
          st.onDrain = more;
          return;
        }
        let piece: Uint8Array;
        try {
          piece = reply.next();
        } catch {
          st.streaming = undefined;
          ws.end(1011, 'the image failed mid-response');
          return;
        }
        if (reply.more) ws.sendFragment(piece);
        else ws.sendLastFragment(piece);
      }
      st.streaming = undefined;
      logged();
      next();
    };
    more();
  };
  const parsed = parseTarget(text);
  if (parsed instanceof JpipdError) {
    done(service.error(parsed));
    return;
  }
  const r = service.handle({ method: 'GET', path: parsed.path, query: parsed.query });
  if (r instanceof Promise) r.then(done);
  else done(r);
}

/** Splits `/path?query` (a request target) into its parts; anything else is a malformed request. */
export function parseTarget(text: string): { path: string; query: string } | JpipdError {
  if (text === '\0binary') return new JpipdError('ERR_MALFORMED_REQUEST', 'requests are text messages');
  if (!text.startsWith('/') || /[\s\0]/.test(text)) return new JpipdError('ERR_MALFORMED_REQUEST', 'a request is a target such as /image.jp2?fsiz=256,256');
  const q = text.indexOf('?');
  return q < 0 ? { path: text, query: '' } : { path: text.slice(0, q), query: text.slice(q + 1) };
}
