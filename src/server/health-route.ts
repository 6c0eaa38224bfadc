/**
 * Health endpoints for supervisors and load balancers (docs/operations.md), answered by every front
 * end at once, without touching an image:
 *
 *   /healthz  200 `ok` while the process serves HTTP at all (liveness);
 *   /readyz   200 `ready` when this front end takes new work: it is not stopping and the image root
 *             is a readable folder; else 503 with the reason on one line (readiness).
 *
 * Neither names a server path. GET and HEAD.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { isReadableDir } from '../io/paths.js';
import { endSmall } from './small-reply.js';

/** How long a root check is reused (ms): /readyz may be polled often. */
const ROOT_CHECK_MS = 1000;

function reply(res: HttpResponse, status: string, text: string, head: boolean): void {
  endSmall(res, status, [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store']], text, head);
}

/** Adds /healthz and /readyz; `stopping()` says whether this front end is shutting down. */
export function addHealthRoutes(app: TemplatedApp, opts: { root: string; stopping: () => boolean }): void {
  let checked = -Infinity;
  let readable = false;
  const ready = (): string | null => {
    if (opts.stopping()) return 'the server is stopping';
    if (performance.now() - checked > ROOT_CHECK_MS) {
      readable = isReadableDir(opts.root);
      checked = performance.now();
    }
    return readable ? null : 'the image root is not readable';
  };
  const healthz = (res: HttpResponse, head: boolean): void => reply(res, '200 OK', 'ok\n', head);
  const readyz = (res: HttpResponse, head: boolean): void => {
    const why = ready();
    if (why) reply(res, '503 Service Unavailable', `not ready: ${why}\n`, head);
    else reply(res, '200 OK', 'ready\n', head);
  };
  app.get('/healthz', (res) => healthz(res, false));
  app.head('/healthz', (res) => healthz(res, true));
  app.get('/readyz', (res) => readyz(res, false));
  app.head('/readyz', (res) => readyz(res, true));
}
