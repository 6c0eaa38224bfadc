/**
 * Messages between the front-end thread and the worker pool: one TypeScript type per task kind and
 * per result. Everything is structured-clone safe; SharedArrayBuffers are shared, not copied, and
 * response bodies come back by transfer (Piscina.move).
 */
import type { ErrorData } from '../errors.js';
import type { ModelSnapshot } from '../jpip/cache-model.js';
import type { ServedWindow, ServeRequest } from '../jpip/engine.js';

/** Identity of an opened image version. */
export interface ImageRef {
  /** Absolute path (stays on the server; never sent to clients). */
  abs: string;
  /** Path relative to the image root (names the cache file). */
  rel: string;
  /** `${rel}|${size}|${mtimeMs}`: changes when the file changes. */
  key: string;
}

/** Open (or re-open) an image: index it and report its summary. */
export interface OpenTask {
  kind: 'open';
  abs: string;
  rel: string;
  /** Realpath of the image root (links of a hyperlinked JPX must resolve inside it). */
  root: string;
  cacheDir: string | null;
}

/** One link of a hyperlinked JPX as the front end needs it. */
export interface LinkSummary {
  /** The linked file, relative to the root, when it resolved. */
  rel?: string;
  /** Offset of the codestream inside the linked file (flst OFF). */
  offset: number;
  error?: ErrorData;
}

/** What the front end needs to know about an opened image. */
export interface ImageSummary {
  key: string;
  size: number;
  mtimeMs: number;
  kind: 'raw' | 'jp2' | 'jpx';
  codestreams: number;
  /** Packet slots per codestream (sizes the shared index of each); [] for a hyperlinked JPX. */
  slotCounts: number[];
  /** File offset of each codestream's SOC (matches flst OFF of movies linking this file). */
  codestreamOffsets: number[];
  /** Hyperlinked JPX: one entry per frame. */
  links?: LinkSummary[];
  /** JPX compositing layers: the codestreams each uses (absent: layer i is codestream i). */
  layers?: number[][];
  fromCache: boolean;
}

/** Where one requested codestream's data lives: codestream `cs` of `image`, with its shared index. */
export interface StreamRef {
  image: ImageRef;
  cs: number;
  sab: SharedArrayBuffer;
}

/** Produce one JPP-stream response. */
export interface ServeTask {
  kind: 'serve';
  /** The target (its boxes form metadata-bin 0). */
  image: ImageRef;
  root: string;
  cacheDir: string | null;
  request: ServeRequest;
  /** Where each requested codestream lives (same order as request.codestreams). */
  streams: StreamRef[];
  model: ModelSnapshot;
  maxBytes: number;
  /** Gzip the body (Content-Encoding: gzip). */
  gzip: boolean;
}

/** Any task. */
export type Task = OpenTask | ServeTask;

/** Result of an OpenTask. */
export type OpenResult = { ok: true; summary: ImageSummary } | { ok: false; error: ErrorData };

/** Result of a ServeTask. */
export type ServeTaskResult =
  | {
      ok: true;
      body: Uint8Array;
      /** The body was gzipped; `plainLength` is its length before. */
      gzipped: boolean;
      plainLength: number;
      eor: number;
      /** The model delta, packed by packDelta (4 values per entry). */
      delta: Float64Array;
      served?: ServedWindow;
      messages: number;
      dataBytes: number;
    }
  | { ok: false; error: ErrorData };
