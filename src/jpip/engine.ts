/**
 * The JPIP response engine (15444-9 C, D): given a normalised request, a target, the packet index
 * and the session's cache model, produce one JPP-stream response body and update the model. It knows
 * nothing of HTTP, sockets or threads: HTTP, WebSocket and in-process harnesses all drive a
 * `Response` (jpip/response.ts) piece by piece; `serve()` runs one to completion.
 */
import type { ByteSource } from '../bytes/source.js';
import type { CodestreamLayout, TargetLayout, TileGeometry } from '../j2k/types.js';
import type { SlotDirectory } from '../packet-index/directory.js';
import { Arena } from './arena.js';
import type { CacheModel } from './cache-model.js';
import type { MetaReq } from './metareq.js';
import type { Round, UintRange } from './request.js';
import { DEFAULT_MAX_RESPONSE_BYTES, Response, UndoLog, type ResponseOptions } from './response.js';

export { Arena, arenaIn, sharedMemory, type SharedMemory } from './arena.js';
export { DEFAULT_MAX_RESPONSE_BYTES, Response, UndoLog, type ResponseOptions } from './response.js';

/** Everything the engine reads about one codestream (cached by the implementation). */
export interface CodestreamAccess {
  layout: CodestreamLayout;
  /** Bytes of the file holding the codestream. */
  source: ByteSource;
  /** Geometry of tile t. */
  tile(t: number): TileGeometry;
  /** Smallest decomposition level count over all tile-components (bounds fsiz rounding). */
  minLevels: number;
  /** Slot numbering of the codestream's packet index. */
  directory: SlotDirectory;
  /**
   * Ensures resolution levels 0..upTo are indexed, then copies the absolute file offset and length
   * of `count` packet slots into the output arrays (under the index's read lock).
   */
  readPackets(upTo: number, slots: Int32Array, count: number, offsets: Float64Array, lengths: Uint32Array): void;
}

/**
 * Everything the engine reads about one target. Codestream numbers are the target's (a movie's frame
 * numbers); for a hyperlinked JPX the implementation maps them to the linked files.
 */
export interface TargetAccess {
  /** The target file's layout (boxes and metadata-bin 0). */
  layout: TargetLayout;
  /** Number of codestreams of the target. */
  codestreamCount: number;
  /** Bytes of the target file (metadata boxes). */
  targetSource: ByteSource;
  /** Codestream `cs` (only requested codestreams need to be available). */
  stream(cs: number): CodestreamAccess;
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

/** What one whole response produced. */
export interface ServeResult {
  body: Uint8Array;
  eor: number;
  /** The window reported in headers (the first requested codestream's). */
  served?: ServedWindow;
  messages: number;
  /** Body bytes taken from the image (excluding message headers). */
  dataBytes: number;
  /** Model changes the response made (0 for a response that sent nothing new). */
  changes: number;
}

/**
 * Produces one whole response into a new buffer and updates `model` (tests, tools and the in-process
 * harness; the servers stream a Response piece by piece instead). Throws JpipdError for image faults.
 */
export function serve(target: TargetAccess, req: ServeRequest, model: CacheModel, maxBytes = DEFAULT_MAX_RESPONSE_BYTES, opts: Omit<ResponseOptions, 'maxBytes'> = {}): ServeResult {
  const undo = opts.undo ?? new UndoLog();
  const mark = undo.length;
  const r = new Response(target, req, model, { ...opts, maxBytes, undo });
  const arena = new Arena(64 * 1024, 64 * 1024);
  const parts: Uint8Array[] = [];
  let total = 0;
  while (!r.done) {
    const piece = r.fill(arena).slice();
    parts.push(piece);
    total += piece.length;
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return { body, eor: r.eor, served: r.served, messages: r.messages, dataBytes: r.dataBytes, changes: undo.length - mark };
}

