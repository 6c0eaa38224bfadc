/**
 * The JPIP response engine (15444-9 C, D): given a normalised request, a target, the packet index
 * and the session's cache model, produce one JPP-stream response body and the model delta. It knows
 * nothing of HTTP, sockets or threads: HTTP, WebSocket and in-process harnesses all call `serve()`.
 *
 * Delivery order (docs/jpip-support.md): metadata-bin 0 until complete, then per codestream its main
 * header, the tile headers of the window's tiles, and the window's precinct packets layer by layer
 * (LRCP restricted to the window: every precinct's layer 0, then every precinct's layer 1, ...), so
 * quality rises evenly over the whole window as in the ESA paper. Requests shaped like the newest
 * JHelioviewer's (region past the frame's edge) get each precinct whole instead, the only order its
 * decoder can use before the window is complete.
 */
import { BlockReader } from '../bytes/block-reader.js';
import type { PacketTable } from '../packet-index/packet-table.js';
import type { ByteSource } from '../bytes/source.js';
import { CLASS_MAIN_HEADER, CLASS_METADATA, CLASS_PRECINCT, CLASS_TILE_HEADER, EOR_BYTE_LIMIT, EOR_IMAGE_DONE, EOR_RESPONSE_LIMIT, EOR_WINDOW_DONE } from '../bytes/jpp.js';
import type { CodestreamLayout, MetadataBin, TargetLayout, TileGeometry } from '../j2k/types.js';
import { precinctBinId, tileCount } from '../j2k/geometry.js';
import { BinKind, COMPLETE, heldIn, type ModelDelta, type ModelSnapshot } from './cache-model.js';
import { JppBuilder } from './jpp-builder.js';
import { mainHeaderPieces, metadataBin0Pieces, metadataBinPieces, tileHeaderPieces, type Piece } from './pieces.js';
import type { MetaReq } from './metareq.js';
import type { Round, UintRange } from './request.js';
import { expandSampledRanges } from './ranges.js';
import { chooseFrame, frameRegionToCanvas, isEmpty, mapRegion, tilePrecinctSpans, tilesInRegion, type Rect } from './window.js';

export type { PacketTable } from '../packet-index/packet-table.js';

/**
 * Everything the engine reads about one target. Codestream numbers are the target's (a movie's frame
 * numbers); for a hyperlinked JPX the implementation maps them to the linked files.
 */
export interface TargetAccess {
  /** The target file's layout (boxes and metadata-bin 0). */
  layout: TargetLayout;
  /** Number of codestreams of the target. */
  codestreamCount: number;
  /** Layout of codestream `cs` (only requested codestreams need to be available). */
  codestream(cs: number): CodestreamLayout;
  /** Bytes of the target file (metadata boxes). */
  targetSource: ByteSource;
  /** Bytes of the file holding codestream `cs`. */
  codestreamSource(cs: number): ByteSource;
  /** Geometry of tile t of codestream cs (cached by the implementation). */
  tile(cs: number, t: number): TileGeometry;
  /** Smallest decomposition level count over all tile-components of `cs` (bounds fsiz rounding). */
  minLevels(cs: number): number;
  packets: PacketTable;
}

/** A request reduced to what the engine acts on (built by the request normaliser). */
export interface ServeRequest {
  /** Codestreams of interest, in delivery order. */
  codestreams: number[];
  /** The view window; absent = no image data (headers and metadata only). */
  window?: {
    fx: number;
    fy: number;
    round: Round;
    roff?: { x: number; y: number };
    rsiz?: { x: number; y: number };
  };
  /** Components of interest (`comps` ranges); null = all. */
  comps: UintRange[] | null;
  /** Only the first `layers` quality layers; undefined = all. */
  layers?: number;
  /** Message byte budget (EOR excluded); undefined = unlimited. */
  len?: number;
  /** `metareq=...!!`: metadata only. */
  metadataOnly: boolean;
  /** The `metareq` field: which metadata-bins beyond bin 0 are wanted. */
  metareq?: MetaReq;
}

/** The window actually served, for JPIP-fsiz/roff/rsiz/layers response headers. */
export interface ServedWindow {
  fsiz: [number, number];
  roff: [number, number];
  rsiz: [number, number];
  layers: number;
}

/** What one response produced. */
export interface ServeResult {
  body: Uint8Array;
  eor: number;
  delta: ModelDelta[];
  /** Per requested codestream: the served window (first codestream's is reported in headers). */
  served?: ServedWindow;
  messages: number;
  /** Body bytes taken from the image (excluding message headers). */
  dataBytes: number;
}

/** Largest body buffer allocated up front; bigger responses grow it by doubling (few copies). */
const INITIAL_BODY_CAPACITY = 256 * 1024;
/** Room for the EOR message. */
const EOR_RESERVE = 16;

/** Server-side bound on one response when the request sets no `len` (then EOR 7). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Why the walk stopped. */
const enum Stop {
  None = 0,
  Budget = 1,
  ServerLimit = 2,
}

/** One response in progress: the builder, the budget and the model view. */
class Walk {
  readonly out: JppBuilder;
  readonly delta: ModelDelta[] = [];
  stop = Stop.None;
  private readonly budget: number;
  private readonly limit: Stop;

  constructor(
    private readonly model: ModelSnapshot,
    len: number | undefined,
    maxBytes: number,
  ) {
    this.budget = len === undefined ? maxBytes : Math.min(len, maxBytes);
    this.limit = len === undefined || len > maxBytes ? Stop.ServerLimit : Stop.Budget;
    // Size the body buffer for the budget (bounded), so it is not regrown and copied as it fills.
    this.out = new JppBuilder(Math.min(this.budget, INITIAL_BODY_CAPACITY) + EOR_RESERVE);
  }

  /** What this response has sent so far, by (kind, codestream) then bin id; the snapshot is never modified. */
  private readonly sent = new Map<number, Map<number, number>>();

  private sentIn(kind: BinKind, cs: number): Map<number, number> {
    const key = cs * 16 + kind;
    let m = this.sent.get(key);
    if (!m) this.sent.set(key, (m = new Map()));
    return m;
  }

  /** Bytes held by the client of a bin (snapshot, then what this response added). */
  held(kind: BinKind, cs: number, id: number): number {
    const mine = this.sent.get(cs * 16 + kind)?.get(id);
    if (mine !== undefined) return mine;
    if (kind === BinKind.Metadata) return heldIn(this.model.meta, id);
    const s = this.model.streams.get(cs);
    if (!s) return 0;
    if (kind === BinKind.MainHeader) return s.main;
    return heldIn(kind === BinKind.TileHeader ? s.tiles : s.precincts, id);
  }

  private setHeld(kind: BinKind, cs: number, id: number, held: number): void {
    this.delta.push([kind, cs, id, held]);
    this.sentIn(kind, cs).set(id, held);
  }

  /**
   * Offers one piece of a bin. Sends what the client lacks of it, within the budget; returns false
   * once the response must stop. `src` supplies file bytes for file-backed pieces.
   */
  offer(kind: BinKind, cls: number, cs: number, id: number, piece: Piece, src: ByteSource): boolean {
    if (this.stop !== Stop.None) return false;
    const held = this.held(kind, cs, id);
    if (held === COMPLETE) return true;
    const end = piece.binOffset + piece.length;
    if (held < piece.binOffset) return true; // an earlier piece is missing: never open a hole
    if (held >= end && !piece.last) return true;
    const start = Math.min(held, end);
    const n = end - start;
    const remaining = this.budget - this.out.length;
    // Progress rule (notes §7.2): a response with a non-zero budget always carries at least one new byte.
    const owed = this.out.dataBytes === 0 && this.budget > 0;
    const splittable = piece.splittable && n > 0;
    if (this.out.headerLength(cls, cs, id, start, n, piece.last) + n <= remaining || (owed && !splittable)) {
      this.emit(kind, cls, cs, id, piece, src, start, n, piece.last);
      return true;
    }
    if (!splittable) return this.halt();
    let fit = remaining - this.out.headerLength(cls, cs, id, start, n, false);
    if (owed) fit = Math.max(fit, 1);
    if (fit >= n) {
      this.emit(kind, cls, cs, id, piece, src, start, n, piece.last);
      return true;
    }
    if (fit > 0) this.emit(kind, cls, cs, id, piece, src, start, fit, false);
    return this.halt();
  }

  private emit(kind: BinKind, cls: number, cs: number, id: number, piece: Piece, src: ByteSource, start: number, n: number, complete: boolean): void {
    let body: Uint8Array;
    if (piece.bytes) body = piece.bytes.subarray(start - piece.binOffset, start - piece.binOffset + n);
    else body = n === 0 ? new Uint8Array(0) : src.read((piece.fileOffset as number) + (start - piece.binOffset), n);
    this.out.message(cls, cs, id, start, body, complete);
    this.setHeld(kind, cs, id, complete ? COMPLETE : start + n);
  }

  halt(): false {
    this.stop = this.limit;
    return false;
  }
}

/** Produces one response. Throws JpipdError for image faults found while indexing (caller maps them). */
export function serve(target: TargetAccess, req: ServeRequest, model: ModelSnapshot, maxBytes = DEFAULT_MAX_RESPONSE_BYTES): ServeResult {
  const walk = new Walk(model, req.len, maxBytes);
  // Each codestream's window is planned once, for the data, the JPIP-* report and the EOR reason.
  const plans = new Map<number, WindowPlan | undefined>();
  const planOf = (cs: number): WindowPlan | undefined => {
    if (!plans.has(cs)) plans.set(cs, planWindow(target, req, cs));
    return plans.get(cs);
  };
  if (req.len !== 0) {
    // Bin 0 is offered in every response until complete; once it is, skip forming it (it reads a
    // box header per placeholder: one per frame of a movie).
    if (walk.held(BinKind.Metadata, 0, 0) !== COMPLETE) {
      const src = target.targetSource;
      const meta = metadataBin0Pieces(target.layout, (o, n) => src.read(o, n));
      for (const p of meta) if (!walk.offer(BinKind.Metadata, CLASS_METADATA, 0, 0, p, src)) break;
    }
    if (req.metareq) {
      for (const { bin, limit } of requestedBins(target.layout, req.metareq)) {
        if (walk.stop !== Stop.None) break;
        for (const p of metadataBinPieces(bin, limit)) if (!walk.offer(BinKind.Metadata, CLASS_METADATA, 0, bin.id, p, target.targetSource)) break;
      }
    }
    if (!req.metadataOnly) for (const cs of req.codestreams) if (walk.stop === Stop.None) serveCodestream(walk, target, req, cs, planOf(cs));
  }
  // The window reported in JPIP-fsiz/roff/rsiz is the first requested codestream's.
  const served = req.codestreams.length > 0 ? planOf(req.codestreams[0])?.served : undefined;
  let eor = EOR_WINDOW_DONE;
  if (walk.stop === Stop.Budget || req.len === 0) eor = EOR_BYTE_LIMIT;
  else if (walk.stop === Stop.ServerLimit) eor = EOR_RESPONSE_LIMIT;
  else if (coversTarget(target, req, planOf)) eor = EOR_IMAGE_DONE;
  walk.out.eor(eor);
  return { body: walk.out.finish(), eor, delta: walk.delta, served, messages: walk.out.messages, dataBytes: walk.out.dataBytes };
}

/**
 * The metadata-bins a `metareq` asks for (15444-9 C.5.2), in bin order, each with the byte limit of
 * its box body. Every content bin is a child of bin 0 (depth 1). A box-prop matches by box type (`*`
 * matches all); `R<n>` roots a group at bin n (0 or that bin), `D0` asks for the root only. Scope
 * letters (w, s, g, a) are not used to narrow the answer: JHelioviewer asks `[*]` with `stream=0` and
 * needs the metadata of every frame.
 */
function requestedBins(layout: TargetLayout, mr: MetaReq): Array<{ bin: MetadataBin; limit: number }> {
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
function coversTarget(target: TargetAccess, req: ServeRequest, planOf: (cs: number) => WindowPlan | undefined): boolean {
  const n = target.codestreamCount;
  if (!req.window || req.metadataOnly || req.codestreams.length !== n) return false;
  for (const cs of req.codestreams) {
    const plan = planOf(cs);
    if (!plan || plan.frameD !== 0) return false;
    const { region, served } = plan;
    if (region.x0 !== 0 || region.y0 !== 0 || region.x1 !== served.fsiz[0] || region.y1 !== served.fsiz[1]) return false;
    const Nc = target.codestream(cs).siz.Csiz;
    if (req.comps && expandSampledRanges(req.comps, Nc - 1, Nc).length !== Nc) return false;
    if (req.layers !== undefined && req.layers < served.layers) return false;
  }
  return true;
}

/** A request's window on one codestream: what is served, at which level, and how it is ordered. */
interface WindowPlan {
  served: ServedWindow;
  frameD: number;
  region: Rect;
  pastEdge: boolean;
}

/** The frame and region a request selects on codestream `cs`, and what to report about them. */
function planWindow(target: TargetAccess, req: ServeRequest, cs: number): WindowPlan | undefined {
  const w = req.window;
  if (!w) return undefined;
  const layout = target.codestream(cs);
  const frame = chooseFrame(layout.siz, target.minLevels(cs), w.fx, w.fy, w.round);
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
  return { served, frameD: frame.d, region, pastEdge };
}

/** Headers and window precincts of one codestream. */
function serveCodestream(walk: Walk, target: TargetAccess, req: ServeRequest, cs: number, plan: WindowPlan | undefined): void {
  const layout = target.codestream(cs);
  const src = new BlockReader(target.codestreamSource(cs));
  const siz = layout.siz;
  for (const p of mainHeaderPieces(layout)) if (!walk.offer(BinKind.MainHeader, CLASS_MAIN_HEADER, cs, 0, p, src)) return;
  if (!plan) {
    const nt = tileCount(siz);
    for (let t = 0; t < nt; t++) for (const p of tileHeaderPieces(layout, t)) if (!walk.offer(BinKind.TileHeader, CLASS_TILE_HEADER, cs, t, p, src)) return;
    return;
  }
  if (isEmpty(plan.region)) return;
  const canvas = frameRegionToCanvas(siz, plan.frameD, plan.region);
  const tiles = tilesInRegion(siz, canvas);
  for (const t of tiles) for (const p of tileHeaderPieces(layout, t)) if (!walk.offer(BinKind.TileHeader, CLASS_TILE_HEADER, cs, t, p, src)) return;
  servePrecincts(walk, target, req, cs, tiles, canvas, plan.frameD, src, plan.pastEdge);
}

/** One precinct of the window with its packets' records. */
interface WindowPrecinct {
  t: number;
  c: number;
  r: number;
  id: number;
  layers: number;
  /** Index of its layer-0 record in the records arrays. */
  first: number;
}

/** The window's precincts, packets read from the index in one locked copy, walked layer by layer. */
function servePrecincts(walk: Walk, target: TargetAccess, req: ServeRequest, cs: number, tiles: number[], canvas: Rect, d: number, src: ByteSource, precinctMajor: boolean): void {
  const layout = target.codestream(cs);
  const Nc = layout.siz.Csiz;
  const Nt = tileCount(layout.siz);
  const comps = req.comps ? expandSampledRanges(req.comps, Nc - 1, Nc) : Array.from({ length: Nc }, (_, i) => i);
  const precincts: WindowPrecinct[] = [];
  const slots: number[] = [];
  let topLevel = 0;
  let maxLayers = 0;
  for (const t of tiles) {
    const tile = target.tile(cs, t);
    const L = Math.min(tile.layers, req.layers ?? tile.layers);
    maxLayers = Math.max(maxLayers, L);
    for (const span of tilePrecinctSpans(tile, canvas, d, comps)) {
      const res = tile.components[span.c].resolutions[span.r];
      topLevel = Math.max(topLevel, span.r);
      for (let py = span.py0; py < span.py1; py++) {
        for (let px = span.px0; px < span.px1; px++) {
          const p = py * res.npx + px;
          precincts.push({ t, c: span.c, r: span.r, id: precinctBinId(t, span.c, res.precinctBase + p, Nc, Nt), layers: L, first: slots.length });
          for (let l = 0; l < tile.layers; l++) slots.push(target.packets.slotOf(cs, t, span.c, span.r, p, l));
        }
      }
    }
  }
  if (precincts.length === 0) return;
  // Resolution, then component, then tile and position (the order of the window's precincts).
  precincts.sort((a, b) => a.r - b.r || a.c - b.c || a.t - b.t || a.id - b.id);
  const slotArr = Int32Array.from(slots);
  const offsets = new Float64Array(slotArr.length);
  const lengths = new Uint32Array(slotArr.length);
  target.packets.read(cs, topLevel, slotArr, offsets, lengths);
  if (precinctMajor) {
    // Each precinct complete before the next: its layers' packets as one message where they are
    // contiguous in the file (always in RPCL/PCRL/CPRL files), so every precinct sent is decodable.
    for (const pr of precincts) {
      const total = target.tile(cs, pr.t).layers;
      let at = 0;
      let start = pr.first;
      for (let l = 0; l < pr.layers; l++) {
        const k = pr.first + l;
        const next = k + 1;
        const joins = l + 1 < pr.layers && offsets[next] === offsets[k] + lengths[k];
        if (joins) continue;
        let length = 0;
        for (let j = start; j <= k; j++) length += lengths[j];
        const piece: Piece = { binOffset: at, length, fileOffset: offsets[start], last: l === total - 1, splittable: true };
        if (!walk.offer(BinKind.Precinct, CLASS_PRECINCT, cs, pr.id, piece, src)) return;
        at += length;
        start = next;
      }
    }
    return;
  }
  // Layer-major (LRCP inside the window): every precinct's layer 0, then layer 1, ...
  const binOffset = new Float64Array(precincts.length);
  for (let l = 0; l < maxLayers; l++) {
    for (let i = 0; i < precincts.length; i++) {
      const pr = precincts[i];
      if (l >= pr.layers) continue;
      const k = pr.first + l;
      const total = target.tile(cs, pr.t).layers;
      const piece: Piece = { binOffset: binOffset[i], length: lengths[k], fileOffset: offsets[k], last: l === total - 1, splittable: true };
      binOffset[i] += lengths[k];
      if (!walk.offer(BinKind.Precinct, CLASS_PRECINCT, cs, pr.id, piece, src)) return;
    }
  }
}
