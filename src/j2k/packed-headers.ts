/**
 * Packed packet headers (15444-1 A.7.4 PPM, A.7.5 PPT): where the headers of each tile-part's packets
 * lie when a codestream keeps them in marker segments instead of in front of each packet body.
 *
 * - PPM (main header): the Ippm bytes of every PPM segment, in Zppm order, form one stream of
 *   [Nppm (32 bits), Nppm bytes of packet headers] per tile-part, in codestream order; a tile-part's
 *   run may continue from one segment into the next.
 * - PPT (tile-part header): the Ippt bytes of the tile-part's PPT segments, in Zppt order, are the
 *   headers of that tile-part's packets.
 *
 * Each tile-part's headers are a "virtual" byte stream made of file ranges (spans); SpanSource reads
 * it like a file so the packet-header decoder (packet-header.ts) runs on it unchanged.
 */
import { be, checkRange, type ByteSource } from '../bytes/source.js';
import { corrupt } from '../errors.js';
import { PPM, PPT } from './markers.js';
import type { CodestreamLayout, MarkerSegment } from './types.js';

/** A file range. */
export interface Span {
  offset: number;
  length: number;
}

/** Bytes of a PPM/PPT segment before its Ixxx data: marker (2), Lxxx (2), Zxxx (1). */
const PACKED_SEGMENT_HEAD = 5;

/** A byte stream made of file ranges of `src`, read as if contiguous. */
export class SpanSource implements ByteSource {
  readonly size: number;
  /** Virtual offset at which each span starts. */
  private readonly starts: number[] = [];

  constructor(
    private readonly src: ByteSource,
    readonly spans: readonly Span[],
  ) {
    let at = 0;
    for (const s of spans) {
      this.starts.push(at);
      at += s.length;
    }
    this.size = at;
  }

  /** Index of the span holding virtual offset `v` (v < size). */
  private spanAt(v: number): number {
    let lo = 0;
    let hi = this.spans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The file ranges of virtual range [v, v+length), in order (empty spans skipped). */
  fileRanges(v: number, length: number): Span[] {
    checkRange(this.size, v, length, 'packed packet headers');
    const out: Span[] = [];
    if (length === 0) return out;
    for (let i = this.spanAt(v); length > 0; i++) {
      const s = this.spans[i];
      const skip = v - this.starts[i];
      const n = Math.min(length, s.length - skip);
      if (n > 0) out.push({ offset: s.offset + skip, length: n });
      v += n;
      length -= n;
    }
    return out;
  }

  read(offset: number, length: number): Uint8Array {
    const ranges = this.fileRanges(offset, length);
    if (ranges.length === 1) return this.src.read(ranges[0].offset, length);
    const out = new Uint8Array(length);
    this.readInto(out, 0, offset, length);
    return out;
  }

  readInto(dest: Uint8Array, at: number, offset: number, length: number): void {
    for (const r of this.fileRanges(offset, length)) {
      this.src.readInto(dest, at, r.offset, r.length);
      at += r.length;
    }
  }
}

/** Ixxx spans of the given PPM/PPT segments, ordered by their Zxxx index (stable for equal ones). */
function orderedData(src: ByteSource, segments: readonly MarkerSegment[], what: string): Span[] {
  const withZ = segments.map((s, i) => {
    if (s.length < PACKED_SEGMENT_HEAD) throw corrupt(`${what} segment too short`);
    return { z: src.read(s.offset + 4, 1)[0], i, span: { offset: s.offset + PACKED_SEGMENT_HEAD, length: s.length - PACKED_SEGMENT_HEAD } };
  });
  withZ.sort((a, b) => a.z - b.z || a.i - b.i);
  return withZ.map((x) => x.span);
}

/**
 * The packed packet headers of each tile-part of `cs` (index = position in cs.tileParts) as a
 * SpanSource, null for tile-parts whose headers are in the packet data; null overall when the
 * codestream packs no headers. Throws ERR_IMAGE_CORRUPT for PPM and PPT together, or a PPM stream
 * that does not hold one run per tile-part.
 */
export function packedHeaders(src: ByteSource, cs: CodestreamLayout): Array<SpanSource | null> | null {
  const ppm = cs.mainSegments.filter((s) => s.code === PPM);
  const anyPpt = cs.tileParts.some((tp) => tp.segments.some((s) => s.code === PPT));
  if (ppm.length === 0 && !anyPpt) return null;
  if (ppm.length > 0 && anyPpt) throw corrupt('packed packet headers in both PPM and PPT segments (15444-1 A.7.4)');
  if (anyPpt) {
    // A tile packs its headers if any of its tile-parts has PPT; then every tile-part of it does.
    const packedTiles = new Set(cs.tileParts.filter((tp) => tp.segments.some((s) => s.code === PPT)).map((tp) => tp.Isot));
    return cs.tileParts.map((tp) =>
      packedTiles.has(tp.Isot) ? new SpanSource(src, orderedData(src, tp.segments.filter((s) => s.code === PPT), 'PPT')) : null,
    );
  }
  const stream = new SpanSource(src, orderedData(src, ppm, 'PPM'));
  const out: SpanSource[] = [];
  let v = 0;
  for (let i = 0; i < cs.tileParts.length; i++) {
    if (v + 4 > stream.size) throw corrupt(`PPM holds packet headers for ${i} of ${cs.tileParts.length} tile-parts`);
    const n = be.u32(stream.read(v, 4), 0);
    v += 4;
    if (v + n > stream.size) throw corrupt(`PPM: the packet headers of tile-part ${i} run past the PPM data`);
    out.push(new SpanSource(src, stream.fileRanges(v, n)));
    v += n;
  }
  return out;
}

/** Whether the codestream packs packet headers into PPM or PPT segments. */
export function hasPackedHeaders(cs: CodestreamLayout): boolean {
  return cs.mainSegments.some((s) => s.code === PPM) || cs.tileParts.some((tp) => tp.segments.some((s) => s.code === PPT));
}

/** Bytes of packed packet headers in the codestream's PPM and PPT segments (0 without them). */
export function packedHeaderBytes(cs: CodestreamLayout): number {
  let n = 0;
  for (const s of cs.mainSegments) if (s.code === PPM) n += s.length;
  for (const tp of cs.tileParts) for (const s of tp.segments) if (s.code === PPT) n += s.length;
  return n;
}
