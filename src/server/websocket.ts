/**
 * WebSocket JPIP transport (jpipd's own framing; 15444-9 defines only HTTP and UDP transports).
 * Each text message is one JPIP request written as an HTTP request target: `/image.jp2?fsiz=…` or
 * `/jpip?cid=…&…`. Each request gets two messages back, in request order: a text message with the
 * JSON head `{"seq":n,"status":200,"headers":{…}}`, then one binary message with the body (the
 * JPP-stream, or the one-line error text). Channels and sessions are the same as over HTTP, so a
 * client may mix transports. Requests on one socket are handled one at a time; the next one waits
 * while the socket's send buffer is above the back-pressure mark.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { JpipdError } from '../errors.js';
import type { JpipService, OutgoingResponse } from './service.js';

/** Path on which WebSocket upgrades are accepted. */
export const WS_PATH = '/jpip-ws';
/** Largest request message accepted (bytes). */
export const WS_MAX_REQUEST = 64 * 1024;
/** Send-buffer level above which the socket stops taking new requests until it drains. */
export const WS_BACKPRESSURE_MARK = 4 * 1024 * 1024;

interface SocketState {
  seq: number;
  queue: string[];
  busy: boolean;
  closed: boolean;
  resumeOnDrain?: () => void;
}

/** Adds the WebSocket route to the app. */
export function addWebSocketRoute(app: TemplatedApp, service: JpipService, onLog: (e: Record<string, unknown>) => void): void {
  app.ws<SocketState>(WS_PATH, {
    maxPayloadLength: WS_MAX_REQUEST,
    maxBackpressure: 256 * 1024 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<SocketState>(
        { seq: 0, queue: [], busy: false, closed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, message, isBinary) => {
      const st = ws.getUserData();
      if (isBinary) {
        st.queue.push('\0binary');
      } else {
        st.queue.push(Buffer.from(message).toString('latin1'));
      }
      pump(ws, service, onLog);
    },
    drain: (ws) => {
      const st = ws.getUserData();
      if (st.resumeOnDrain && ws.getBufferedAmount() < WS_BACKPRESSURE_MARK) {
        const go = st.resumeOnDrain;
        st.resumeOnDrain = undefined;
        go();
      }
    },
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });
}

/** Handles queued requests of one socket, one at a time, in order. */
function pump(ws: WebSocket<SocketState>, service: JpipService, onLog: (e: Record<string, unknown>) => void): void {
  const st = ws.getUserData();
  if (st.busy || st.closed || st.queue.length === 0) return;
  if (ws.getBufferedAmount() >= WS_BACKPRESSURE_MARK) {
    st.resumeOnDrain = () => pump(ws, service, onLog);
    return;
  }
  st.busy = true;
  const text = st.queue.shift() as string;
  const seq = st.seq++;
  const started = process.hrtime.bigint();
  const done = (out: OutgoingResponse): void => {
    st.busy = false;
    if (st.closed) {
      out.undelivered?.();
      return;
    }
    const head = { seq, status: out.status, headers: Object.fromEntries(out.headers) };
    ws.cork(() => {
      ws.send(JSON.stringify(head), false);
      ws.send(out.body, true);
    });
    onLog({ transport: 'ws', status: out.status, ms: Number(process.hrtime.bigint() - started) / 1e6, ...out.log });
    pump(ws, service, onLog);
  };
  const parsed = parseTarget(text);
  if (parsed instanceof JpipdError) {
    done(service.error(parsed));
    return;
  }
  service.handle({ method: 'GET', path: parsed.path, query: parsed.query }).then(done, (e) => done(service.error(e)));
}

/** Splits `/path?query` (a request target) into its parts; anything else is a malformed request. */
export function parseTarget(text: string): { path: string; query: string } | JpipdError {
  if (text === '\0binary') return new JpipdError('ERR_MALFORMED_REQUEST', 'requests are text messages');
  if (!text.startsWith('/') || /[\s\0]/.test(text)) return new JpipdError('ERR_MALFORMED_REQUEST', 'a request is a target such as /image.jp2?fsiz=256,256');
  const q = text.indexOf('?');
  return q < 0 ? { path: text, query: '' } : { path: text.slice(0, q), query: text.slice(q + 1) };
}
