/**
 * Planning a response before any byte is written (15444-9 C.4, D.3): the frame and region a request
 * selects on each codestream, the resolution levels the index must hold for it, the metadata-bins a
 * `metareq` names, and whether the request covers the whole target (EOR "image done"). Pure.
 */
import type { MetadataBin, TargetLayout } from '../j2k/types.js';
import type { CodestreamAccess, ServedWindow, ServeRequest, TargetAccess } from './engine.js';
import type { MetaReq } from './metareq.js';
import { expandSampledRanges } from './ranges.js';
import { chooseFrame, mapRegion, type Rect } from './window.js';

/** A request's window on one codestream: what is served, at which level, and how it is ordered. */
export interface WindowPlan {
  served: ServedWindow;
  /** Discard levels of the chosen frame. */
  frameD: number;
  /** The region on the chosen frame (frame coordinates). */
  region: Rect;
  /** JHelioviewer's request shape (region past the frame's edge): precinct-major order. */
  pastEdge: boolean;
  /** Highest resolution level the window needs from the index. */
  topLevel: number;
}

/** The frame and region a request selects on codestream `cs` (undefined when it asks no window). */
export function planWindow(req: ServeRequest, s: CodestreamAccess): WindowPlan | undefined {
  const w = req.window;
  if (!w) return undefined;
  const layout = s.layout;
  const frame = chooseFrame(layout.siz, s.minLevels, w.fx, w.fy, w.round);
  const region = mapRegion(frame, { fx: w.fx, fy: w.fy }, w.roff, w.rsiz);
  let maxLayers = layout.cod.layers;
  for (const o of layout.tiles) if (o?.cod) maxLayers = Math.max(maxLayers, o.cod.layers);
  const served: ServedWindow = {
    fsiz: [frame.fx, frame.fy],
    roff: [region.x0, region.y0],
    rsiz: [Math.max(0, region.x1 - region.x0), Math.max(0, region.y1 - region.y0)],
    layers: Math.min(req.layers ?? maxLayers, maxLayers),
  };
  // A region asked past the frame's edge at the frame's own size is JHelioviewer's request shape
  // (rsiz = W+1,H+1): it decodes complete precincts only, so it gets precinct-major order.
  const exact = frame.fx === w.fx && frame.fy === w.fy;
  const pastEdge = exact && w.rsiz !== undefined && ((w.roff?.x ?? 0) + w.rsiz.x > frame.fx || (w.roff?.y ?? 0) + w.rsiz.y > frame.fy);
  // The deepest tile-component decides: levels 0..maxNL-d (a superset where components differ).
  const topLevel = Math.max(0, s.directory.levels - 1 - frame.d);
  return { served, frameD: frame.d, region, pastEdge, topLevel };
}

/**
 * The metadata-bins a `metareq` asks for (15444-9 C.5.2), in bin order, each with the byte limit of
 * its box body. Every content bin is a child of bin 0 (depth 1). A box-prop matches by box type (`*`
 * matches all); `R<n>` roots a group at bin n (0 or that bin), `D0` asks for the root only. Scope
 * letters (w, s, g, a) are not used to narrow the answer: JHelioviewer asks `[*]` with `stream=0` and
 * needs the metadata of every frame.
 */
export function requestedBins(layout: TargetLayout, mr: MetaReq): Array<{ bin: MetadataBin; limit: number }> {
  const out: Array<{ bin: MetadataBin; limit: number }> = [];
  for (const bin of layout.metadataBins ?? []) {
    let limit = -1;
    for (const g of mr.groups) {
      const root = g.root ?? 0;
      if (root !== 0 && root !== bin.id) continue;
      if (root === 0 && g.maxDepth === 0) continue;
      for (const p of g.props) if (p.type === '*' || p.type === bin.box.type) limit = Math.max(limit, p.limit ?? Infinity);
    }
    if (limit >= 0) out.push({ bin, limit });
  }
  return out;
}

/**
 * True when the request asks for the whole target (15444-9 D.3, EOR "image done"): every codestream,
 * the full frame at full resolution, every component and every layer. Once such a window is done,
 * everything of the target has been sent.
 */
export function coversTarget(target: TargetAccess, req: ServeRequest, planOf: (cs: number) => WindowPlan | undefined): boolean {
  const n = target.codestreamCount;
  if (!req.window || req.metadataOnly || req.codestreams.length !== n) return false;
  for (const cs of req.codestreams) {
    const plan = planOf(cs);
    if (!plan || plan.frameD !== 0) return false;
    const { region, served } = plan;
    if (region.x0 !== 0 || region.y0 !== 0 || region.x1 !== served.fsiz[0] || region.y1 !== served.fsiz[1]) return false;
    const Nc = target.stream(cs).layout.siz.Csiz;
    if (req.comps && expandSampledRanges(req.comps, Nc - 1, Nc).length !== Nc) return false;
    if (req.layers !== undefined && req.layers < served.layers) return false;
  }
  return true;
}
