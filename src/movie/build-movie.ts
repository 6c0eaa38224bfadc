/**
 * Assembles a JPX movie (15444-2 Annex M) from inspected JP2 frames: pure planning over ByteSources,
 * then writing through a callback. Linked movies (the default, what `kdu_merge -links` makes for
 * Helioviewer) reference each frame's codestream with a fragment table and a data reference box;
 * embedded movies copy every codestream into a jp2c box. docs/movie.md shows the exact layout.
 */
import type { ByteSource } from '../bytes/source.js';
import { overLimit } from '../errors.js';
import {
  box,
  boxHeader,
  concatBytes,
  dtblBox,
  ftblBox,
  ftypBox,
  nlstBox,
  NLST_LAYER,
  readerRequirementsBox,
  signatureBox,
  type StandardFeature,
} from '../j2k/box-writer.js';
import type { BoxRef } from '../j2k/types.js';
import { MAX_FRAMES, MAX_HEADER_BOX, type MovieFrame } from './frames.js';

/** Largest LEN of a fragment (32 bits, 15444-2 M.11.3.2); longer codestreams cannot be linked. */
export const MAX_LINKED_CODESTREAM = 0xffffffff;
/** Bytes read per step when copying from a frame. */
export const COPY_CHUNK = 4 * 1024 * 1024;

/** Linked (fragment tables and URLs) or embedded (codestreams copied in). */
export type MovieMode = 'linked' | 'embed';

/** Bytes of the movie: literal bytes, or `length` bytes at `offset` of frame `frame`'s source. */
export type MoviePart = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'copy'; frame: number; offset: number; length: number };

/** The whole movie as parts: the head, one group per frame, the tail, and the total size in bytes. */
export interface MoviePlan {
  head: MoviePart[];
  frames: MoviePart[][];
  tail: MoviePart[];
  size: number;
}

/** Options of planMovie; `urls` (one per frame) are required in linked mode. */
export interface MovieOptions {
  mode: MovieMode;
  urls?: readonly string[];
}

/** Standard features (15444-2 M.11.1, Table M.14) declared by the movie's reader requirements box. */
export function movieFeatures(frames: readonly MovieFrame[], mode: MovieMode): StandardFeature[] {
  const features: StandardFeature[] = [
    // 5: compressed using JPEG 2000 (Part 1); 6: using JPEG 2000 extensions (Part 2).
    { SF: frames.some((f) => f.part2) ? 6 : 5, display: true },
  ];
  // 15: codestreams fragmented into multiple local files (12, "contiguous", is deprecated in Table M.14).
  if (mode === 'linked') features.push({ SF: 15, display: true });
  // 2: contains multiple compositing layers.
  if (frames.length > 1) features.push({ SF: 2, display: false });
  return features;
}

/** The bytes of a whole box of a frame (header boxes only, bounded). */
function boxBytes(src: ByteSource, b: BoxRef): Uint8Array {
  if (b.length > MAX_HEADER_BOX) throw overLimit(`a '${b.type}' header box of ${b.length} bytes`);
  return src.read(b.offset, b.length);
}

/**
 * A frame's colr box for a colour group: as in the frame, except APPROX 0 (a JP2 value) becomes 1,
 * "accurately represents" (15444-2 M.11.7.2: JPX colour specifications carry APPROX 1 to 4).
 */
function groupColr(src: ByteSource, b: BoxRef): Uint8Array {
  const bytes = new Uint8Array(boxBytes(src, b));
  const approx = b.headerLength + 2; // METH, PREC, APPROX (15444-1 I.5.3.3)
  if (bytes.length > approx && bytes[approx] === 0) bytes[approx] = 1;
  return bytes;
}

/** The codestream header box 'jpch' of a frame: its ihdr, and bpcc, pclr, cmap if any (15444-2 M.11.6). */
function jpchOf(src: ByteSource, f: MovieFrame): Uint8Array {
  const h = f.header;
  const kids = [h.ihdr, h.bpcc, h.pclr, h.cmap].filter((b): b is BoxRef => b !== null);
  return box('jpch', ...kids.map((b) => boxBytes(src, b)));
}

/** The compositing layer header box 'jplh': cgrp of the frame's colr boxes, then cdef and res if any (15444-2 M.11.7). */
function jplhOf(src: ByteSource, f: MovieFrame): Uint8Array {
  const h = f.header;
  const rest = [h.cdef, h.res].filter((b): b is BoxRef => b !== null);
  return box('jplh', box('cgrp', ...h.colr.map((b) => groupColr(src, b))), ...rest.map((b) => boxBytes(src, b)));
}

/**
 * The frame's metadata in an association box (15444-2 M.11.11): a number list naming compositing layer
 * `i` (NLST_LAYER | i), then every top-level xml and asoc box of the frame with its payload copied
 * byte for byte (the box header is rewritten in its shortest form). Null when the frame has none.
 */
function asocOf(f: MovieFrame, i: number): MoviePart[] | null {
  if (f.metadata.length === 0) return null;
  const nlst = nlstBox([NLST_LAYER + i]);
  const parts: MoviePart[] = [{ kind: 'bytes', bytes: nlst }];
  let size = nlst.length;
  for (const b of f.metadata) {
    const payload = b.length - b.headerLength;
    const head = boxHeader(b.type, payload);
    parts.push({ kind: 'bytes', bytes: head }, { kind: 'copy', frame: i, offset: b.offset + b.headerLength, length: payload });
    size += head.length + payload;
  }
  return [{ kind: 'bytes', bytes: boxHeader('asoc', size) }, ...parts];
}

/** Size in bytes of a list of parts. */
function partsSize(parts: readonly MoviePart[]): number {
  let n = 0;
  for (const p of parts) n += p.kind === 'bytes' ? p.bytes.length : p.length;
  return n;
}

/**
 * Plans a movie (15444-2 Annex M): jP, ftyp ('jpx '; 'jpx ', 'jp2 ', 'jpxb'), rreq, the first frame's
 * jp2h, then per frame i: jpch, jplh, the frame's metadata in an asoc, and an ftbl (linked: one
 * fragment at the codestream's offset and length in the frame file, data reference i + 1) or a jp2c
 * (embedded); linked movies end with a dtbl holding one url per frame.
 */
export function planMovie(frames: readonly MovieFrame[], sources: readonly ByteSource[], opts: MovieOptions): MoviePlan {
  if (frames.length === 0) throw new Error('a movie needs at least one frame');
  if (frames.length > MAX_FRAMES) throw overLimit(`${frames.length} frames (a movie holds at most ${MAX_FRAMES})`);
  if (sources.length !== frames.length) throw new Error('one source per frame');
  const urls = opts.urls ?? [];
  if (opts.mode === 'linked' && urls.length !== frames.length) throw new Error('linked movies need one URL per frame');
  const head: MoviePart[] = [
    {
      kind: 'bytes',
      bytes: concatBytes(
        signatureBox(),
        ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
        readerRequirementsBox(movieFeatures(frames, opts.mode)),
        boxBytes(sources[0], frames[0].jp2h),
      ),
    },
  ];
  const groups = frames.map((f, i): MoviePart[] => {
    const src = sources[i];
    const parts: MoviePart[] = [{ kind: 'bytes', bytes: concatBytes(jpchOf(src, f), jplhOf(src, f)) }];
    parts.push(...(asocOf(f, i) ?? []));
    const cs = f.codestream;
    if (opts.mode === 'linked') {
      if (cs.length > MAX_LINKED_CODESTREAM) throw overLimit(`${f.name}: a codestream of ${cs.length} bytes cannot be linked (4 GiB limit); use --embed`);
      parts.push({ kind: 'bytes', bytes: ftblBox([{ OFF: cs.offset, LEN: cs.length, DR: i + 1 }]) });
    } else {
      parts.push({ kind: 'bytes', bytes: boxHeader('jp2c', cs.length) }, { kind: 'copy', frame: i, offset: cs.offset, length: cs.length });
    }
    return parts;
  });
  const tail: MoviePart[] = opts.mode === 'linked' ? [{ kind: 'bytes', bytes: dtblBox(urls) }] : [];
  const size = partsSize(head) + groups.reduce((n, g) => n + partsSize(g), 0) + partsSize(tail);
  return { head, frames: groups, tail, size };
}

/**
 * Writes a planned movie through `write`, copying frame bytes in COPY_CHUNK steps; calls `onFrame`
 * after each frame's parts are written.
 */
export function writeMovie(
  plan: MoviePlan,
  sources: readonly ByteSource[],
  write: (chunk: Uint8Array) => void,
  onFrame?: (index: number) => void,
): void {
  const emit = (parts: readonly MoviePart[]): void => {
    for (const p of parts) {
      if (p.kind === 'bytes') {
        write(p.bytes);
        continue;
      }
      for (let done = 0; done < p.length; ) {
        const n = Math.min(COPY_CHUNK, p.length - done);
        write(sources[p.frame].read(p.offset + done, n));
        done += n;
      }
    }
  };
  emit(plan.head);
  plan.frames.forEach((g, i) => {
    emit(g);
    onFrame?.(i);
  });
  emit(plan.tail);
}
