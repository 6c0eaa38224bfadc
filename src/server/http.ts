/**
 * The HTTP front end on uWebSockets.js. It copies what it needs from the request inside the
 * handler (uWS invalidates the request on return), hands the request to the JpipService, and writes
 * the response: JPP-stream bodies chunked in 64 KiB pieces respecting back-pressure (onWritable),
 * other bodies with Content-Length. It never blocks: all work is async or in the worker pool.
 */
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { JpipdError } from '../errors.js';
import type { JpipService, OutgoingResponse } from './service.js';
import { loadUws } from './uws.js';
import { addWebSocketRoute } from './websocket.js';

/** HTTP front-end options. */
export interface HttpOptions {
  host: string;
  port: number;
  /** Listen on this Unix socket instead of host:port (behind the pipelining sequencer). */
  unixPath?: string;
  /** Largest POST body accepted (bytes). */
  maxBodyBytes?: number;
  /** Largest request head (request line and headers) accepted (bytes). */
  maxHeadBytes?: number;
  /** Called once per finished request (structured log). */
  onLog?: (entry: Record<string, unknown>) => void;
}

/** A listening HTTP front end. */
export interface HttpServer {
  port: number;
  close(): void;
}

/** Default bound on the request head: Kakadu switches to POST beyond ~200 characters (notes §1.1). */
export const MAX_HEAD_BYTES = 8 * 1024;

/** Size of the chunks written to the socket. */
export const CHUNK_BYTES = 64 * 1024;

/** Starts listening; resolves with the bound port. */
export function startHttp(service: JpipService, opts: HttpOptions): Promise<HttpServer> {
  const uws = loadUws();
  const app: TemplatedApp = uws.App();
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const maxHead = opts.maxHeadBytes ?? MAX_HEAD_BYTES;
  const log = opts.onLog ?? (() => {});

  addWebSocketRoute(app, service, log);
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const acceptsGzip = /\bgzip\b(?!\s*;\s*q=0(\.0*)?\b)/i.test(req.getHeader('accept-encoding'));
    let headBytes = path.length + query.length;
    req.forEach((k, v) => {
      headBytes += k.length + v.length + 4;
    });
    const started = process.hrtime.bigint();
    const state = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    if (headBytes > maxHead) {
      write(res, service.error(new JpipdError('ERR_HEAD_TOO_LARGE', 'request head too large')), state, true);
      return;
    }
    const finish = (body?: string): void => {
      // Stop reading this connection until the response is written: uWebSockets.js cannot answer a
      // pipelined request while an earlier response is pending, so the next request waits in the
      // socket buffer (docs/jpip-support.md, "Pipelining").
      res.pause();
      service
        .handle({ method, path, query, body, acceptsGzip })
        .then((out) => {
          write(res, out, state);
          log({ method, status: out.status, ms: Number(process.hrtime.bigint() - started) / 1e6, ...out.log });
        })
        .catch((e) => {
          if (!state.aborted) write(res, service.error(e), state);
        });
    };
    if (method !== 'POST') return finish();
    const parts: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size < 0) return;
      size += chunk.byteLength;
      if (size > maxBody) {
        size = -1;
        write(res, service.error(new JpipdError('ERR_BODY_TOO_LARGE', 'POST body too large')), state, true);
        return;
      }
      parts.push(Buffer.from(chunk.slice(0)));
      if (isLast) finish(Buffer.concat(parts).toString('latin1'));
    });
  });

  return new Promise((resolve, reject) => {
    const listening = (token: us_listen_socket | false): void => {
      if (!token) {
        reject(new Error(opts.unixPath ? 'cannot listen on the private Unix socket' : `cannot listen on ${opts.host}:${opts.port}`));
        return;
      }
      resolve({
        port: opts.unixPath ? 0 : uws.us_socket_local_port(token),
        close() {
          uws.us_listen_socket_close(token);
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    };
    if (opts.unixPath) app.listen_unix(listening, opts.unixPath);
    else app.listen(opts.host, opts.port, listening);
  });
}

/** Writes a response: status, headers, then the body (chunked with back-pressure for JPP streams). */
function write(res: HttpResponse, out: OutgoingResponse, state: { aborted: boolean }, close = false): void {
  if (state.aborted) {
    out.undelivered?.();
    return;
  }
  res.cork(() => {
    res.resume();
    res.writeStatus(`${out.status} ${out.statusText}`);
    for (const [k, v] of out.headers) res.writeHeader(k, v);
    if (!out.stream) {
      res.end(out.body, close);
      return;
    }
    let pos = 0;
    const pump = (): boolean => {
      while (pos < out.body.length) {
        const end = Math.min(out.body.length, pos + CHUNK_BYTES);
        const ok = res.write(out.body.subarray(pos, end));
        pos = end;
        if (!ok) return false;
      }
      res.end();
      return true;
    };
    if (!pump()) {
      res.onWritable(() => {
        if (state.aborted) return true;
        return pump();
      });
      res.onAborted(() => {
        state.aborted = true;
        if (pos < out.body.length) out.undelivered?.();
      });
    }
  });
}
