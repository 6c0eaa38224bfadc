/**
 * Small complete replies of the routes beside JPIP (viewer files, health, metrics): status, headers
 * and body written in one cork; for HEAD the length without the body (through http.ts endHead, the
 * one safe way with this uWebSockets.js build).
 */
import type { HttpResponse } from 'uWebSockets.js';
import { endHead } from './http.js';

/** Writes a whole reply at once (inside a cork, so it also works after an await). */
export function endSmall(res: HttpResponse, status: string, headers: Array<[string, string]>, body: string | Uint8Array, head = false): void {
  res.cork(() => {
    res.writeStatus(status);
    for (const [k, v] of headers) res.writeHeader(k, v);
    if (head) endHead(res, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, false);
    else res.end(body);
  });
}
