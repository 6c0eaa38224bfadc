/**
 * Messages between front-end threads and the worker pool: one TypeScript type per task kind and per
 * result. The pool does the heavy work a front end must not do inline — loading a large layout (a
 * header scan or a big index cache file) and indexing resolution levels with many PLT bytes — and
 * every task is a pure function of its message plus the file and shared memory, so a task whose
 * worker died is simply run again. Everything is structured-clone safe; index tables are shared.
 */
import type { ErrorData } from '../errors.js';
import type { TargetLayout } from '../j2k/types.js';

/** A file version: size and modification time. */
export interface Stamp {
  size: number;
  mtimeMs: number;
}

/** Load the layout of a target (scan or index cache file, links resolved) and cache it on disk. */
export interface OpenTask {
  kind: 'open';
  /** Absolute path (stays on the server; never sent to clients). */
  abs: string;
  /** Path relative to the image root (names the cache file). */
  rel: string;
  /** Realpath of the image root (links of a hyperlinked JPX must resolve inside it). */
  root: string;
  cacheDir: string | null;
}

/** Result of an OpenTask: the layout and the version it describes (`fromCache`: read from the index cache, not scanned). */
export type OpenResult = { ok: true; layout: TargetLayout; stamp: Stamp; fromCache?: boolean } | { ok: false; error: ErrorData; stamp?: Stamp };

/** Index resolution levels 0..upTo of codestream `cs` of one file version into its shared table. */
export interface IndexTask {
  kind: 'index';
  abs: string;
  rel: string;
  root: string;
  cacheDir: string | null;
  /** The version the table belongs to; a file that no longer matches is ERR_TARGET_CHANGED. */
  stamp: Stamp;
  /** Codestream number inside this file. */
  cs: number;
  upTo: number;
  sab: SharedArrayBuffer;
}

/** Result of an IndexTask; `timing`: [levels, seconds] of each publish the task made (metrics). */
export type IndexResult = { ok: true; timing?: Array<[number, number]> } | { ok: false; error: ErrorData };

/**
 * Warm a target's caches ahead of serving (`jpipd index`): its layout (as OpenTask), and for each
 * embedded codestream with tile-parts lacking PLT, every packet header decoded once so the learnt
 * lengths are kept beside the index cache file (io/lengths-cache.ts).
 */
export interface WarmTask extends Omit<OpenTask, 'kind'> {
  kind: 'warm';
}

/** Result of a WarmTask: `learnt` codestreams had their packet headers decoded and kept. */
export type WarmResult = { ok: true; fromCache: boolean; learnt: number } | { ok: false; error: ErrorData };

/** Any task. */
export type Task = OpenTask | IndexTask | WarmTask;
