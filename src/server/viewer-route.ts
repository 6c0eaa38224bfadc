/**
 * The browser viewer at /viewer (docs/viewer.md): the page, its bundle (built by `npm run build` into
 * dist/viewer; src/viewer/main.ts), the wasm OpenJPEG decoder from @cornerstonejs/codec-openjpeg, and
 * /viewer/images.json — the images under the root as relative paths, unless the operator turned the
 * listing off (--no-listing: 404). Files are read once when the front end starts; nothing here reads
 * outside the root or names a server path.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { listImages } from '../io/image-files.js';
import { readViewerBundle, readViewerDecoder } from '../io/viewer-files.js';
import { endSmall } from './small-reply.js';

/** How long a listing is reused (ms). */
const LISTING_TTL_MS = 10_000;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jpipd viewer</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; background: #111; color: #ddd; }
  header { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; padding: 6px 10px; background: #222; }
  main { display: flex; gap: 8px; padding: 8px; align-items: flex-start; }
  #view { display: block; background: #000; touch-action: none; cursor: grab; }
  #meta { flex: 1; min-width: 12em; max-height: 600px; overflow: auto; margin: 0; font-size: 11px; white-space: pre-wrap; background: #1a1a1a; padding: 6px; }
  #status { font-variant-numeric: tabular-nums; }
  #fps { width: 4em; }
</style>
</head>
<body>
<header>
  <label>Image <select id="images"></select></label>
  <button id="play" disabled>Play</button>
  <label>Frame <input id="frame" type="range" min="0" max="0" value="0" disabled></label>
  <label>fps <input id="fps" type="number" min="1" max="60" value="10"></label>
  <span id="status">loading…</span>
</header>
<main><canvas id="view" width="800" height="600"></canvas><pre id="meta"></pre></main>
<script src="/viewer/openjpegwasm_decode.js"></script>
<script src="/viewer/viewer.js"></script>
</body>
</html>
`;

/** A static file of the viewer, read on its first request (an idle server does not hold ~0.7 MB of them per thread). */
interface Asset {
  type: string;
  read: () => Uint8Array | null;
  body?: Uint8Array | null;
}

function send(res: HttpResponse, status: string, type: string, body: Uint8Array | string, head: boolean): void {
  endSmall(res, status, [['Content-Type', type], ['Cache-Control', 'no-cache'], ['X-Content-Type-Options', 'nosniff']], body, head);
}

/** Adds the /viewer routes to `app` (before the JPIP route, which takes every other path). */
export function addViewerRoutes(app: TemplatedApp, opts: { root: string; listing: boolean }): void {
  const assets = new Map<string, Asset>([
    ['/viewer/viewer.js', { type: 'text/javascript; charset=utf-8', read: readViewerBundle }],
    ['/viewer/openjpegwasm_decode.js', { type: 'text/javascript; charset=utf-8', read: () => readViewerDecoder('openjpegwasm_decode.js') }],
    ['/viewer/openjpegwasm_decode.wasm', { type: 'application/wasm', read: () => readViewerDecoder('openjpegwasm_decode.wasm') }],
  ]);
  let listed: { at: number; json: string } | null = null;
  const handler = (res: HttpResponse, url: string, head: boolean): void => {
    if (url === '/viewer' || url === '/viewer/') return send(res, '200 OK', 'text/html; charset=utf-8', PAGE, head);
    if (url === '/viewer/images.json') {
      if (!opts.listing) return send(res, '404 Not Found', 'text/plain; charset=utf-8', 'ERR_NOT_FOUND: the image listing is turned off on this server\n', head);
      if (!listed || performance.now() - listed.at > LISTING_TTL_MS) listed = { at: performance.now(), json: JSON.stringify({ images: listImages(opts.root) }) };
      return send(res, '200 OK', 'application/json', listed.json, head);
    }
    const a = assets.get(url);
    if (!a) return send(res, '404 Not Found', 'text/plain; charset=utf-8', 'ERR_NOT_FOUND: no such viewer file\n', head);
    if (a.body === undefined) a.body = a.read();
    if (!a.body) return send(res, '503 Service Unavailable', 'text/plain; charset=utf-8', 'ERR_BUSY: the viewer is not built on this server (npm run build)\n', head);
    send(res, '200 OK', a.type, a.body, head);
  };
  app.get('/viewer', (res, req) => handler(res, req.getUrl(), false));
  app.get('/viewer/*', (res, req) => handler(res, req.getUrl(), false));
  app.head('/viewer', (res, req) => handler(res, req.getUrl(), true));
  app.head('/viewer/*', (res, req) => handler(res, req.getUrl(), true));
}
