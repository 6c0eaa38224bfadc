/**
 * One front end: a uWebSockets.js app with the JPIP HTTP and WebSocket routes over this thread's
 * JpipService, listening on the public host:port (several front ends, on several threads, share the
 * port: the kernel spreads new connections among them) or on a private Unix socket (behind the
 * keep-alive relay).
 */
import { addViewerRoutes } from './viewer-route.js';
import { addHealthRoutes } from './health-route.js';
import { endSmall } from './small-reply.js';
import type { ThreadMetrics } from './metrics.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { addHttpRoute, MAX_BODY_BYTES, MAX_HEAD_BYTES, type HttpLimits, type InFlight } from './http.js';
import type { JpipService } from './service.js';
import { loadUws } from './uws.js';
import { addWebSocketRoute } from './websocket.js';

/** Where and how a front end listens. */
export interface FrontEndOptions {
  host: string;
  port: number;
  /** Listen on this Unix socket instead of host:port (behind the keep-alive relay). */
  unixPath?: string;
  limits?: Partial<HttpLimits>;
  /** Identify clients by the last X-Forwarded-For entry (ServerOptions.trustProxy). */
  trustProxy?: boolean;
  /** Called once per finished request (structured log). */
  log?: (entry: Record<string, unknown>) => void;
  /** Serve HTTPS/WSS with this certificate and key (PEM files), through uWebSockets.js's SSLApp. */
  tls?: TlsFiles;
  /**
   * The image root: serve the browser viewer at /viewer (viewer-route.ts; `listing`: list the root's
   * images) and the health endpoints /healthz and /readyz (health-route.ts).
   */
  viewer?: { root: string; listing: boolean };
  /** Prometheus metrics: this thread's counters (fed from the request log) and the whole server's scrape. */
  metrics?: { thread: ThreadMetrics; scrape: () => Promise<string> };
}

/** PEM files of a TLS certificate (chain) and its private key. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** A listening front end. */
export interface FrontEnd {
  /** The bound port (0 for a Unix socket). */
  port: number;
  /** Stops listening and closes every connection. */
  close(): void;
  /** HTTP exchanges finished so far (the autoscaler's response rate). */
  served(): number;
  /**
   * Stops accepting connections but keeps serving the open ones (and, through them and the other
   * front ends, the channels this one owns); resume() accepts again on the same port.
   */
  pause(): void;
  resume(): Promise<void>;
  /**
   * Graceful stop: stops accepting connections at once, lets the exchanges in flight finish (up to
   * `graceMs`), then closes every connection.
   */
  drain(graceMs: number): Promise<void>;
}

/** GET /metrics: the whole server's metrics in the Prometheus text format (gathered asynchronously). */
function addMetricsRoute(app: TemplatedApp, scrape: () => Promise<string>): void {
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    scrape().then(
      (text) => {
        if (!aborted) endSmall(res, '200 OK', [['Content-Type', 'text/plain; version=0.0.4; charset=utf-8'], ['Cache-Control', 'no-store']], text);
      },
      () => {
        if (!aborted) endSmall(res, '503 Service Unavailable', [['Content-Type', 'text/plain; charset=utf-8']], 'ERR_BUSY: metrics could not be gathered\n');
      },
    );
  });
}

/** Starts a front end over `service`; resolves once it listens. */
export function startFrontEnd(service: JpipService, opts: FrontEndOptions): Promise<FrontEnd> {
  const uws = loadUws();
  const app: TemplatedApp = opts.tls ? uws.SSLApp({ cert_file_name: opts.tls.cert, key_file_name: opts.tls.key }) : uws.App();
  const userLog = opts.log ?? (() => {});
  const counted = opts.metrics?.thread;
  const log = counted
    ? (e: Record<string, unknown>): void => {
        counted.observe(e);
        userLog(e);
      }
    : userLog;
  addWebSocketRoute(app, service, log);
  if (opts.viewer) addViewerRoutes(app, opts.viewer);
  const inflight: InFlight = { n: 0, served: 0 };
  if (opts.viewer) addHealthRoutes(app, { root: opts.viewer.root, stopping: () => inflight.draining === true });
  if (opts.metrics) addMetricsRoute(app, opts.metrics.scrape);
  addHttpRoute(app, service, { maxHeadBytes: opts.limits?.maxHeadBytes ?? MAX_HEAD_BYTES, maxBodyBytes: opts.limits?.maxBodyBytes ?? MAX_BODY_BYTES, trustProxy: opts.trustProxy === true }, log, inflight);
  const listen = (cb: (token: us_listen_socket | false) => void): void => {
    if (opts.unixPath) app.listen_unix(cb, opts.unixPath);
    else app.listen(opts.host, opts.port, cb);
  };
  return new Promise((resolve, reject) => {
    const listening = (first: us_listen_socket | false): void => {
      if (!first) {
        reject(new Error(opts.unixPath ? 'cannot listen on the private Unix socket' : `cannot listen on ${opts.host}:${opts.port}`));
        return;
      }
      let token: us_listen_socket | null = first;
      let closed = false;
      const stopAccepting = (): void => {
        if (!token) return;
        uws.us_listen_socket_close(token);
        token = null;
      };
      resolve({
        port: opts.unixPath ? 0 : uws.us_socket_local_port(first),
        served: () => inflight.served,
        pause: stopAccepting,
        resume: () =>
          new Promise<void>((ok, fail) => {
            if (token || closed) return ok();
            listen((t) => {
              if (!t) return fail(new Error(`cannot listen again on ${opts.host}:${opts.port}`));
              if (closed) uws.us_listen_socket_close(t);
              else token = t;
              ok();
            });
          }),
        close() {
          closed = true;
          stopAccepting();
          (app as unknown as { close?: () => void }).close?.();
        },
        async drain(graceMs: number) {
          closed = true;
          stopAccepting();
          inflight.draining = true;
          const deadline = performance.now() + graceMs;
          while (inflight.n > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    };
    listen(listening);
  });
}
