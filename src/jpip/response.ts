/**
 * One JPP-stream response in progress (15444-9 C, D): walks the data the request selects in delivery
 * order, decides per data-bin what the client still lacks within the byte budget, updates the
 * session's cache model in place, and has a BodyWriter lay the messages out piece by piece. The
 * walk is a generator that suspends only when a piece is full, so a large response is produced in
 * bounded pieces as the transport drains them, and a small one in a single call.
 *
 * Delivery order (docs/decisions/0002): metadata-bin 0 until complete, the `metareq` bins, then per
 * codestream its main header, the tile headers of the window's tiles, and the window's packets layer
 * by layer (LRCP restricted to the window), or precinct by precinct for JHelioviewer's request shape
 * and whenever the rest of the window fits in the budget.
 */
import { CLASS_MAIN_HEADER, CLASS_METADATA, CLASS_PRECINCT, CLASS_TILE_HEADER, EOR_BYTE_LIMIT, EOR_IMAGE_DONE, EOR_RESPONSE_LIMIT, EOR_WINDOW_DONE, MAX_HEADER_LENGTH } from '../bytes/jpp.js';
import type { ByteSource } from '../bytes/source.js';
import { precinctBinId, tileCount } from '../j2k/geometry.js';
import type { TargetLayout } from '../j2k/types.js';
import type { Arena } from './arena.js';
import { BodyWriter } from './body-writer.js';
import { BinKind, COMPLETE, type CacheModel, type Holdings } from './cache-model.js';
import type { CodestreamAccess, ServedWindow, ServeRequest, TargetAccess } from './engine.js';
import { mainHeaderPieces, metadataBin0Pieces, metadataBinPieces, tileHeaderPieces, type Piece } from './pieces.js';
import { coversTarget, planWindow, requestedBins, type WindowPlan } from './plan.js';
import { expandSampledRanges } from './ranges.js';
import { frameRegionToCanvas, isEmpty, tilePrecinctSpans, tilesInRegion, type PrecinctSpan, type Rect } from './window.js';

/** Server-side bound on one response when the request sets no `len` (then EOR 7). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Why the walk stopped. */
const enum Stop {
  None = 0,
  Budget = 1,
  ServerLimit = 2,
}

/**
 * The model changes of one response, oldest first, so they can be undone when the response never
 * reaches the client: (kind, codestream, id, holding before), four Float64 values each. A thread
 * reuses one log (`clear`) for the first piece of every response.
 */
export class UndoLog {
  private data = new Float64Array(4 * 256);
  private n = 0;

  /** Number of recorded changes. */
  get length(): number {
    return this.n;
  }

  /** Records that bin (kind, cs, id) held `before` until now. */
  push(kind: BinKind, cs: number, id: number, before: number): void {
    let d = this.data;
    if (4 * this.n === d.length) {
      const bigger = new Float64Array(2 * d.length);
      bigger.set(d);
      this.data = d = bigger;
    }
    const at = 4 * this.n++;
    d[at] = kind;
    d[at + 1] = cs;
    d[at + 2] = id;
    d[at + 3] = before;
  }

  /** Restores the holdings recorded since change `mark` (newest first), and forgets them. */
  rollback(model: CacheModel, mark = 0): void {
    const d = this.data;
    for (let i = this.n - 1; i >= mark; i--) model.set(d[4 * i] as BinKind, d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]);
    this.n = Math.min(this.n, mark);
  }

  /** Forgets every change (they stand). */
  clear(): void {
    this.n = 0;
  }
}

/** Options of one response. */
export interface ResponseOptions {
  /** Server-side cap on the body (EOR 7 when the request has no `len` and reaches it). */
  maxBytes?: number;
  /** Window plans already computed by the caller (the service plans to index the levels first). */
  plans?: Map<number, WindowPlan | undefined>;
  /** Record model changes so that they can be undone. */
  undo?: UndoLog;
  /**
   * Only count: nothing is written or read, and the walk runs to the end in one fill. The model is
   * still updated (pass `undo` and roll back), so a measured walk equals the real one that follows.
   */
  measure?: boolean;
}

/** The window's precincts of one codestream with their packet records, in delivery order. */
/** Arrays of a window's precincts, kept for reuse: a response in progress holds one set (see lease). */
interface WindowPrecincts {
  /** Precincts (the arrays may be longer: they are reused). */
  n: number;
  /** The first nCore precincts are those the window's own samples fall in; the rest only the margin needs. */
  nCore: number;
  ids: Float64Array;
  /** Index of each precinct's first record (layer 0, first piece). */
  first: Int32Array;
  /** Records to send: layers (the request's `layers` limit applied) × pieces per packet. */
  layers: Int32Array;
  /** Records of all its layers (the last completes the bin). */
  total: Int32Array;
  offsets: Float64Array;
  lengths: Uint32Array;
  /** Per precinct: bytes of the bin walked so far (layer-major order). */
  binOffset: Float64Array;
  /** Packet slots of the precincts' layers (read from the index into offsets/lengths). */
  slots: Int32Array;
  maxLayers: number;
}

/**
 * Free sets of precinct arrays. A response leases a set for the walk of one codestream and gives it
 * back when that walk ends, so responses on a thread — mostly one at a time — allocate nothing per
 * request; a set still leased by a response that was abandoned is simply collected.
 */
const FREE: WindowPrecincts[] = [];
/** Free sets kept at most. */
const MAX_FREE = 8;

function lease(n: number, m: number): WindowPrecincts {
  let pr = FREE.pop();
  if (!pr || pr.ids.length < n || pr.offsets.length < m) {
    const cn = Math.max(n, 256, pr?.ids.length ?? 0);
    const cm = Math.max(m, 2048, pr?.offsets.length ?? 0);
    // One allocation carved into the arrays (8-byte arrays first, so every view is aligned).
    const buf = new ArrayBuffer(8 * (2 * cn + cm) + 4 * (3 * cn + 2 * cm));
    let at = 0;
    const f64 = (k: number): Float64Array => new Float64Array(buf, (at += 8 * k) - 8 * k, k);
    const i32 = (k: number): Int32Array => new Int32Array(buf, (at += 4 * k) - 4 * k, k);
    pr = {
      n: 0,
      nCore: 0,
      ids: f64(cn),
      offsets: f64(cm),
      binOffset: f64(cn),
      first: i32(cn),
      layers: i32(cn),
      total: i32(cn),
      lengths: new Uint32Array(buf, (at += 4 * cm) - 4 * cm, cm),
      slots: i32(cm),
      maxLayers: 0,
    };
  }
  pr.n = n;
  pr.maxLayers = 0;
  pr.binOffset.fill(0, 0, n);
  return pr;
}

/**
 * True when record k + 1 starts where record k ends in the file: the precinct-major walk sends such
 * records as one message, and restFits counts messages the same way.
 */
function continues(pr: WindowPrecincts, k: number): boolean {
  return pr.offsets[k + 1] === pr.offsets[k] + pr.lengths[k];
}

function giveBack(pr: WindowPrecincts): void {
  if (FREE.length < MAX_FREE) FREE.push(pr);
}

/** A response being produced; `fill` until `done`. */
export class Response {
  /** EOR reason (set when the walk has finished). */
  eor = 0;
  /** True once the last piece (with the EOR message) has been produced. */
  done = false;
  private readonly w: BodyWriter;
  private readonly walk: Generator<void, void, void>;
  private stop = Stop.None;
  private readonly budget: number;
  private readonly limit: Stop;
  private readonly plans: Map<number, WindowPlan | undefined>;
  private undo: UndoLog | null;
  private sentPackets = 0;

  constructor(
    private readonly target: TargetAccess,
    private readonly req: ServeRequest,
    private readonly model: CacheModel,
    opts: ResponseOptions = {},
  ) {
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.budget = req.len === undefined ? maxBytes : Math.min(req.len, maxBytes);
    this.limit = req.len === undefined || req.len > maxBytes ? Stop.ServerLimit : Stop.Budget;
    this.plans = opts.plans ?? new Map();
    this.undo = opts.undo ?? null;
    this.w = new BodyWriter(opts.measure === true);
    this.walk = this.run();
  }

  /**
   * Produces the next piece of the body, at most `capacity` bytes, at the start of `arena.bytes`;
   * returns a view of it (valid until the arena is used again). The last piece ends with the EOR.
   */
  fill(arena: Arena, capacity = arena.pieceBytes): Uint8Array {
    if (this.done) return arena.bytes.subarray(arena.base, arena.base);
    const w = this.w;
    w.begin(arena, capacity);
    // The walk itself waits (yields) while carried bytes fill the piece or no message fits.
    this.walk.next();
    const n = w.finishPiece();
    if (w.finished) this.done = true;
    return arena.bytes.subarray(arena.base, arena.base + n);
  }

  /** Stops recording model changes (the caller will not undo what comes next). */
  forgetUndo(): void {
    this.undo = null;
  }

  /** Body bytes produced so far (all pieces, the EOR included once written). */
  get bodyBytes(): number {
    return this.w.length + (this.done ? 3 : 0);
  }

  /** Message bytes of the whole body before the EOR (headers and bodies), so far. */
  get messageBytes(): number {
    return this.w.length;
  }

  /** Messages written so far. */
  get messages(): number {
    return this.w.messages;
  }

  /**
   * Packets whose bytes went out so far, whole or in part (index records: P per packet where headers
   * are packed in PPM/PPT); one message may carry several.
   */
  get packets(): number {
    return this.sentPackets;
  }

  /** Body bytes taken from the image so far (headers excluded). */
  get dataBytes(): number {
    return this.w.dataBytes;
  }

  /** The window reported in JPIP-fsiz/roff/rsiz/layers: the first requested codestream's. */
  get served(): ServedWindow | undefined {
    return this.req.codestreams.length > 0 ? this.planOf(this.req.codestreams[0])?.served : undefined;
  }

  /** The window plan of codestream `cs` (computed once). */
  planOf(cs: number): WindowPlan | undefined {
    if (!this.plans.has(cs)) this.plans.set(cs, planWindow(this.req, this.target.stream(cs)));
    return this.plans.get(cs);
  }

  private *run(): Generator<void, void, void> {
    const { req, target, w } = this;
    if (req.len !== 0) {
      // Bin 0 is offered in every response until complete; once it is, skip forming it (it reads a
      // box header per placeholder: one per frame of a movie).
      if (this.model.held(BinKind.Metadata, 0, 0) !== COMPLETE) {
        const src = target.targetSource;
        const si = w.source(src);
        for (const p of bin0Pieces(target.layout, src)) {
          while (!w.ready()) yield;
          if (!this.offerPiece(BinKind.Metadata, CLASS_METADATA, 0, 0, p, si)) break;
        }
      }
      if (req.metareq) {
        const si = w.source(target.targetSource);
        for (const { bin, limit } of requestedBins(target.layout, req.metareq)) {
          if (this.stop !== Stop.None) break;
          for (const p of metadataBinPieces(bin, limit)) {
            while (!w.ready()) yield;
            if (!this.offerPiece(BinKind.Metadata, CLASS_METADATA, 0, bin.id, p, si)) break;
          }
        }
      }
      if (!req.metadataOnly) {
        for (const cs of req.codestreams) {
          if (this.stop !== Stop.None) break;
          yield* this.codestream(cs);
        }
      }
    }
    let eor = EOR_WINDOW_DONE;
    if (this.stop === Stop.Budget || req.len === 0) eor = EOR_BYTE_LIMIT;
    else if (this.stop === Stop.ServerLimit) eor = EOR_RESPONSE_LIMIT;
    else if (coversTarget(target, req, (cs) => this.planOf(cs))) eor = EOR_IMAGE_DONE;
    this.eor = eor;
    while (!w.eor(eor)) yield;
  }

  /** Headers and window precincts of one codestream. */
  private *codestream(cs: number): Generator<void, void, void> {
    const w = this.w;
    const s = this.target.stream(cs);
    const layout = s.layout;
    const src = w.source(s.source, cs);
    for (const p of mainHeaderPieces(layout)) {
      while (!w.ready()) yield;
      if (!this.offerPiece(BinKind.MainHeader, CLASS_MAIN_HEADER, cs, 0, p, src)) return;
    }
    const plan = this.planOf(cs);
    const tiles = plan ? windowTiles(s, plan) : null;
    const headerTiles = tiles ?? allTiles(s);
    for (const t of headerTiles) {
      for (const p of tileHeaderPieces(layout, t)) {
        while (!w.ready()) yield;
        if (!this.offerPiece(BinKind.TileHeader, CLASS_TILE_HEADER, cs, t, p, src)) return;
      }
    }
    if (!plan || !tiles || tiles.length === 0) return;
    const canvas = frameRegionToCanvas(layout.siz, plan.frameD, plan.region);
    const pr = windowPrecincts(s, this.req, tiles, canvas, plan.frameD, plan.topLevel);
    try {
      // Precinct by precinct for JHelioviewer's request shape, and whenever all the window still lacks
      // on this codestream fits in the budget left: then the order inside the response decides no
      // quality (every byte arrives in it), and whole precincts make one message and one file run
      // each instead of one per packet (a 4096² frame: 1,382 messages instead of 11,054).
      const precinctMajor = plan.pastEdge || this.restFits(this.model.stream(cs).precincts, pr);
      yield* this.precincts(cs, src, precinctMajor, pr);
    } finally {
      giveBack(pr);
    }
  }

  /** The window's packets of one codestream: precinct by precinct, or layer by layer. */
  private *precincts(cs: number, src: number, precinctMajor: boolean, pr: WindowPrecincts): Generator<void, void, void> {
    if (pr.n === 0) return;
    const w = this.w;
    const h = this.model.stream(cs).precincts;
    if (precinctMajor) {
      // Each precinct complete before the next: its layers' packets as one message where they are
      // contiguous in the file (always in RPCL/PCRL/CPRL files), so every precinct sent is decodable.
      for (let i = 0; i < pr.n; i++) {
        const total = pr.total[i];
        const L = pr.layers[i];
        let at = 0;
        let start = pr.first[i];
        for (let l = 0; l < L; l++) {
          const k = pr.first[i] + l;
          if (l + 1 < L && continues(pr, k)) continue;
          let length = 0;
          for (let j = start; j <= k; j++) length += pr.lengths[j];
          const id = pr.ids[i];
          while (!w.ready()) yield;
          const before = w.messages;
          const more = this.offer(h, BinKind.Precinct, CLASS_PRECINCT, cs, id, h.get(id), at, length, l === total - 1, true, src, pr.offsets[start], null);
          if (w.messages !== before) this.sentPackets += k - start + 1;
          if (!more) return;
          at += length;
          start = k + 1;
        }
      }
      return;
    }
    // Layer-major (LRCP inside the window): every precinct's layer 0, then layer 1, ... — first for
    // the precincts the window's samples fall in, then for those only the synthesis margin needs.
    const binOffset = pr.binOffset;
    for (let phase = 0; phase < 2; phase++) {
      const from = phase === 0 ? 0 : pr.nCore;
      const to = phase === 0 ? pr.nCore : pr.n;
      for (let l = 0; l < pr.maxLayers; l++) {
        for (let i = from; i < to; i++) {
          if (l >= pr.layers[i]) continue;
          const k = pr.first[i] + l;
          const length = pr.lengths[k];
          const at = binOffset[i];
          binOffset[i] = at + length;
          const id = pr.ids[i];
          const held = h.get(id);
          const last = l === pr.total[i] - 1;
          // Already held (a continuation): skip without the general offer.
          if (held === COMPLETE || (held >= at + length && !last)) continue;
          // The common case — the whole packet is new and fits the budget and the piece — written
          // directly; anything else (a partial holding, the budget running out) by offer().
          if (held === at && this.stop === Stop.None && w.tryFileMessage(CLASS_PRECINCT, cs, id, at, length, last, src, pr.offsets[k], this.budget)) {
            this.undo?.push(BinKind.Precinct, cs, id, held);
            this.model.setIn(h, id, last ? COMPLETE : at + length);
            this.sentPackets++;
            continue;
          }
          while (!w.ready()) yield;
          const before = w.messages;
          const more = this.offer(h, BinKind.Precinct, CLASS_PRECINCT, cs, id, held, at, length, last, true, src, pr.offsets[k], null);
          if (w.messages !== before) this.sentPackets++;
          if (!more) return;
        }
      }
    }
  }

  /**
   * True when every byte the client lacks of the window's precincts, with a header for every message
   * they could take (one per run of layers contiguous in the file), fits in what is left of the budget.
   */
  private restFits(h: Holdings, pr: WindowPrecincts): boolean {
    let room = this.budget - this.w.length;
    const lengths = pr.lengths;
    for (let i = 0; i < pr.n && room >= 0; i++) {
      const held = h.get(pr.ids[i]);
      if (held === COMPLETE) continue;
      const first = pr.first[i];
      const end = first + pr.layers[i];
      let bytes = 0;
      let messages = 1;
      for (let k = first; k < end; k++) {
        bytes += lengths[k];
        if (k > first && !continues(pr, k - 1)) messages++;
      }
      room -= Math.max(0, bytes - held) + messages * MAX_HEADER_LENGTH;
    }
    return room >= 0;
  }

  private offerPiece(kind: BinKind, cls: number, cs: number, id: number, p: Piece, src: number): boolean {
    const held = this.model.held(kind, cs, id);
    return this.offer(null, kind, cls, cs, id, held, p.binOffset, p.length, p.last, p.splittable, src, p.fileOffset ?? 0, p.bytes ?? null);
  }

  /**
   * Offers bytes [binOffset, binOffset+length) of a bin the client holds `held` bytes of (`h`: the
   * precinct holdings it was read from, or null for the other kinds), from source `src` at
   * `fileOffset` or from `inline`. Sends what the client lacks within the budget; returns false
   * once the response must stop.
   */
  private offer(
    h: Holdings | null,
    kind: BinKind,
    cls: number,
    cs: number,
    id: number,
    held: number,
    binOffset: number,
    length: number,
    last: boolean,
    splittable: boolean,
    src: number,
    fileOffset: number,
    inline: Uint8Array | null,
  ): boolean {
    if (this.stop !== Stop.None) return false;
    if (held === COMPLETE) return true;
    const end = binOffset + length;
    if (held < binOffset) return true; // an earlier piece is missing: never open a hole
    if (held >= end && !last) return true;
    const start = Math.min(held, end);
    const n = end - start;
    const w = this.w;
    const remaining = this.budget - w.length;
    // Progress rule (notes §7.2): a response with a non-zero budget always carries at least one new byte.
    const owed = w.dataBytes === 0 && this.budget > 0;
    const cut = splittable && n > 0;
    const header = w.headerLength(cls, cs, id, start, n);
    let send = n;
    let complete = last;
    if (header + n > remaining && !(owed && !cut)) {
      if (!cut) return this.halt();
      let fit = remaining - header;
      if (owed) fit = Math.max(fit, 1);
      if (fit < n) {
        if (fit <= 0) return this.halt();
        send = fit;
        complete = false;
        this.stop = this.limit;
      }
    }
    // The model is updated as the message is written, so it counts this response's bytes at once.
    const now = complete ? COMPLETE : start + send;
    this.undo?.push(kind, cs, id, held);
    if (h) this.model.setIn(h, id, now);
    else this.model.set(kind, cs, id, now);
    const skip = start - binOffset;
    if (inline) this.w.inlineMessage(cls, cs, id, start, send, complete, inline, skip);
    else this.w.fileMessage(cls, cs, id, start, send, complete, src, fileOffset + skip);
    return this.stop === Stop.None;
  }

  private halt(): false {
    this.stop = this.limit;
    return false;
  }
}

/**
 * Metadata-bin 0's pieces of a target (its placeholders read a box header from the file each), formed
 * once per layout: a movie's bin 0 has a placeholder per frame.
 */
const bin0 = new WeakMap<TargetLayout, Piece[]>();
function bin0Pieces(layout: TargetLayout, src: ByteSource): Piece[] {
  let p = bin0.get(layout);
  if (!p) {
    p = metadataBin0Pieces(layout, (o, n) => src.read(o, n));
    bin0.set(layout, p);
  }
  return p;
}

/** The tiles a window touches (15444-1 B.3), or [] for an empty region. */
function windowTiles(s: CodestreamAccess, plan: WindowPlan): number[] {
  if (isEmpty(plan.region)) return [];
  return tilesInRegion(s.layout.siz, frameRegionToCanvas(s.layout.siz, plan.frameD, plan.region));
}

/** Every tile of a codestream (headers-only requests). */
function allTiles(s: CodestreamAccess): number[] {
  return Array.from({ length: tileCount(s.layout.siz) }, (_, t) => t);
}

/**
 * The window's precincts in delivery order, with the records of all their packets copied from the
 * shared index in one locked read: first the precincts the window's own samples fall in ("core"),
 * then those only the synthesis margin needs, each group in resolution, component, tile, position
 * (bin id) order. The walk sends every layer of the core before the margin that makes the window's
 * edges exact (notes §6.3): at any byte budget the window gets the quality a margin-free server
 * (esajpip) gives it, and then becomes exact.
 */
function windowPrecincts(s: CodestreamAccess, req: ServeRequest, tiles: number[], canvas: Rect, d: number, topLevel: number): WindowPrecincts {
  const Nc = s.layout.siz.Csiz;
  const comps = req.comps ? expandSampledRanges(req.comps, Nc - 1, Nc) : Array.from({ length: Nc }, (_, i) => i);
  const spans: PrecinctSpan[] = [];
  const core = new Map<number, PrecinctSpan>();
  const key = (sp: PrecinctSpan): number => (sp.t * Nc + sp.c) * 64 + sp.r;
  for (const t of tiles) {
    const tile = s.tile(t);
    for (const sp of tilePrecinctSpans(tile, canvas, d, comps)) spans.push(sp);
    for (const sp of tilePrecinctSpans(tile, canvas, d, comps, 0)) core.set(key(sp), sp);
  }
  // Within one span bin ids grow with the raster position, so ordering the spans orders the precincts.
  spans.sort((a, b) => a.r - b.r || a.c - b.c || a.t - b.t);
  const dir = s.directory;
  // A packet is P slots ("pieces": its header's file ranges, then its body, when headers are packed
  // in PPM/PPT; else the packet itself); below, layers count pieces.
  const P = dir.pieces;
  let n = 0;
  let m = 0;
  for (const sp of spans) {
    const k = (sp.px1 - sp.px0) * (sp.py1 - sp.py0);
    n += k;
    m += k * s.tile(sp.t).layers * P;
  }
  const Nt = tileCount(s.layout.siz);
  const pr = lease(n, m);
  const slots = pr.slots;
  let i = 0;
  let k = 0;
  for (const wantCore of [true, false]) {
    if (!wantCore) pr.nCore = i;
    for (const sp of spans) {
      const c = core.get(key(sp));
      const tile = s.tile(sp.t);
      const res = tile.components[sp.c].resolutions[sp.r];
      const L = tile.layers * P;
      const send = Math.min(tile.layers, req.layers ?? tile.layers) * P;
      if (send > pr.maxLayers) pr.maxLayers = send;
      const base = dir.base[(sp.t * dir.Nc + sp.c) * dir.levels + sp.r];
      for (let py = sp.py0; py < sp.py1; py++) {
        for (let px = sp.px0; px < sp.px1; px++) {
          const inCore = c !== undefined && px >= c.px0 && px < c.px1 && py >= c.py0 && py < c.py1;
          if (inCore !== wantCore) continue;
          const p = py * res.npx + px;
          pr.ids[i] = precinctBinId(sp.t, sp.c, res.precinctBase + p, Nc, Nt);
          pr.first[i] = k;
          pr.layers[i] = send;
          pr.total[i] = L;
          const s0 = base + p * L;
          for (let l = 0; l < L; l++) slots[k++] = s0 + l;
          i++;
        }
      }
    }
  }
  s.readPackets(topLevel, slots, m, pr.offsets, pr.lengths);
  return pr;
}
