/**
 * From a parsed request to what the engine acts on (15444-9 C.4, C.5): the codestreams of interest
 * (`stream`, `context=jpxl<...>`, default codestream 0), the view window, components, layers, budget.
 * Every request is self-contained: nothing is inherited from an earlier request.
 */
import type { ServeRequest } from './engine.js';
import { expandSampledRanges, namesPast } from './ranges.js';
import type { JpipRequest } from './request.js';

/** Most codestreams one request may name (the paper's clients ask 15 frames at a time). */
export const MAX_CODESTREAMS_PER_REQUEST = 4096;

/**
 * Codestreams named by the request, in request order, limited to those that exist. A compositing
 * layer maps to the codestreams its jplh registers (`layers`), or layer i to codestream i when the
 * target declares no layers (15444-9 C.4.6).
 */
export function requestedCodestreams(req: JpipRequest, count: number, layers?: number[][]): number[] {
  const max = count - 1;
  const out: number[] = [];
  if (req.stream) out.push(...expandSampledRanges(req.stream, max, MAX_CODESTREAMS_PER_REQUEST));
  if (req.context) {
    for (const ctx of req.context) {
      if (ctx.kind !== 'jpxl') continue;
      const maxLayer = layers && layers.length > 0 ? layers.length - 1 : max;
      for (const l of expandSampledRanges(ctx.layers, maxLayer, MAX_CODESTREAMS_PER_REQUEST)) {
        for (const cs of layers && layers.length > 0 ? layers[l] : [l]) if (cs <= max && !out.includes(cs)) out.push(cs);
      }
    }
  }
  if (!req.stream && !req.context) out.push(0);
  return out.slice(0, MAX_CODESTREAMS_PER_REQUEST);
}

/** The engine's view of a request on a target with `count` codestreams. */
export function toServeRequest(req: JpipRequest, count: number, layers?: number[][]): ServeRequest {
  return {
    codestreams: requestedCodestreams(req, count, layers),
    window: req.fsiz ? { fx: req.fsiz.fx, fy: req.fsiz.fy, round: req.fsiz.round, roff: req.roff, rsiz: req.rsiz } : undefined,
    comps: req.comps ?? null,
    layers: req.layers,
    len: req.len,
    metadataOnly: req.metareq?.metadataOnly ?? false,
    metareq: req.metareq,
  };
}

/**
 * True when `stream` or a `context=jpxl<…>` names a codestream (compositing layer) past the target's
 * last: those are left out of the answer, which says so in JPIP-stream.
 */
export function namesPastEnd(req: JpipRequest, count: number, layers?: number[][]): boolean {
  if (req.stream && namesPast(req.stream, count - 1)) return true;
  const maxLayer = layers && layers.length > 0 ? layers.length - 1 : count - 1;
  return (req.context ?? []).some((ctx) => ctx.kind === 'jpxl' && namesPast(ctx.layers, maxLayer));
}
