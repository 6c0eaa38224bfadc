/**
 * Messages between the front-end thread and the worker pool: one TypeScript type per task kind and
 * per result. Everything is structured-clone safe; SharedArrayBuffers are shared, not copied, and
 * response bodies come back by transfer (Piscina.move).
 */
import type { ErrorData } from '../errors.js';
import type { ModelDelta, ModelSnapshot } from '../jpip/cache-model.js';
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
  cacheDir: string | null;
}

/** What the front end needs to know about an opened image. */
export interface ImageSummary {
  key: string;
  size: number;
  mtimeMs: number;
  kind: 'raw' | 'jp2' | 'jpx';
  codestreams: number;
  /** Packet slots per codestream (sizes the shared index of each). */
  slotCounts: number[];
  fromCache: boolean;
}

/** Produce one JPP-stream response. */
export interface ServeTask {
  kind: 'serve';
  image: ImageRef;
  cacheDir: string | null;
  request: ServeRequest;
  /** Shared packet index per requested codestream (same order as request.codestreams). */
  sabs: SharedArrayBuffer[];
  model: ModelSnapshot;
  maxBytes: number;
}

/** Any task. */
export type Task = OpenTask | ServeTask;

/** Result of an OpenTask. */
export type OpenResult = { ok: true; summary: ImageSummary } | { ok: false; error: ErrorData };

/** Result of a ServeTask. */
export type ServeTaskResult =
  | { ok: true; body: Uint8Array; eor: number; delta: ModelDelta[]; served?: ServedWindow; messages: number; dataBytes: number }
  | { ok: false; error: ErrorData };
