/**
 * Packet-header decoding (15444-1 B.9, B.10; HT code-blocks 15444-15 B.3): finds where each packet of
 * a tile ends when the tile-parts carry no PLT list. A packet is [SOP] header [EPH] body; the header
 * says, for every code-block of the precinct, whether it contributes to this layer and the lengths of
 * its codeword segments, whose sum is the body's length. Nothing of the body is read.
 *
 * Header state lives across a precinct's layers (inclusion and zero bit-plane tag trees, Lblock,
 * coding passes so far), so packets are decoded in codestream order, one PrecinctState per precinct
 * until its last layer. Every count and loop is bounded by the packet's bytes and MAX_* limits.
 */
import { corrupt, overLimit, unsupported } from '../errors.js';
import type { ByteSource } from '../bytes/source.js';
import type { TileComponentGeometry, TileGeometry } from './types.js';
import { pow2 } from './geometry.js';

/** Code-block style bits (15444-1 Table A.19; 15444-15 Table A.4 for HT). */
export const CB_BYPASS = 0x01;
export const CB_TERMALL = 0x04;
export const CB_HT = 0x40;
export const CB_HT_MIXED = 0x80;

/** Most code-blocks one precinct may have (all its subbands): bounds the state one packet creates. */
export const MAX_CODEBLOCKS_PER_PRECINCT = 1 << 20;
/**
 * Most code-blocks whose header state may be held at once (~35 bytes each): in layer-major orders
 * every precinct of a tile is open from its layer 0 to its last layer.
 */
export const MAX_OPEN_CODEBLOCKS = 1 << 22;
/** Largest zero bit-plane count accepted (a Part 1 code-block has at most 38 + 37 magnitude bit-planes). */
const MAX_ZERO_BITPLANES = 74;
/** Largest length-field width: Lblock + floor(log2(passes)) (a segment length fits in 32 bits). */
const MAX_LENGTH_BITS = 32;

/**
 * A tag tree (15444-1 B.10.2) over w×h leaves: each node holds the minimum of its children, coded
 * top-down in increments against a threshold. `value` starts "unknown" (Infinity in effect).
 */
export class TagTree {
  private readonly value: Int32Array;
  private readonly low: Int32Array;
  private readonly parent: Int32Array;
  private readonly path: Int32Array;

  constructor(readonly w: number, readonly h: number) {
    // Levels from the leaves up to one root node.
    const sizes: Array<[number, number]> = [];
    let lw = w;
    let lh = h;
    for (;;) {
      sizes.push([lw, lh]);
      if (lw === 1 && lh === 1) break;
      lw = Math.ceil(lw / 2);
      lh = Math.ceil(lh / 2);
    }
    let total = 0;
    for (const [a, b] of sizes) total += a * b;
    this.value = new Int32Array(total).fill(0x7fffffff);
    this.low = new Int32Array(total);
    this.parent = new Int32Array(total).fill(-1);
    this.path = new Int32Array(sizes.length);
    let base = 0;
    for (let k = 0; k + 1 < sizes.length; k++) {
      const [a, b] = sizes[k];
      const up = base + a * b;
      const aw = sizes[k + 1][0];
      for (let y = 0; y < b; y++) for (let x = 0; x < a; x++) this.parent[base + y * a + x] = up + (y >> 1) * aw + (x >> 1);
      base = up;
    }
  }

  /**
   * Decodes leaf `leaf` against `threshold` (B.10.2): reads bits until its value is known to be below
   * the threshold or at least the threshold; returns whether it is below.
   */
  decode(bits: BitReader, leaf: number, threshold: number): boolean {
    let depth = 0;
    for (let n = leaf; n >= 0; n = this.parent[n]) this.path[depth++] = n;
    let low = 0;
    for (let k = depth - 1; k >= 0; k--) {
      const n = this.path[k];
      if (low > this.low[n]) this.low[n] = low;
      else low = this.low[n];
      while (low < threshold && low < this.value[n]) {
        if (bits.bit()) this.value[n] = low;
        else low++;
      }
      this.low[n] = low;
    }
    return this.value[leaf] < threshold;
  }

  /** The leaf's value, decoded to the end (zero bit-planes); bounded by `max`. */
  decodeValue(bits: BitReader, leaf: number, max: number): number {
    let t = 1;
    while (!this.decode(bits, leaf, t)) {
      if (++t > max + 1) throw corrupt(`a tag-tree value exceeds ${max}`);
    }
    return t - 1;
  }
}

/**
 * Bits of a packet header, most significant first, with bit stuffing (B.10.1): after a 0xFF byte the
 * next byte carries 7 bits. Bytes come from `src` in chunks; reading past `end` is corrupt.
 */
export class BitReader {
  private buf: Uint8Array = new Uint8Array(0);
  private bufAt = 0;
  /** Offset of the next byte to load. */
  pos = 0;
  private end = 0;
  private byte = 0;
  private left = 0;

  constructor(private readonly src: ByteSource, private readonly chunk = 1 << 16) {}

  /** Starts reading bits at `pos`; bytes at or after `end` are out of bounds. */
  start(pos: number, end: number): void {
    this.pos = pos;
    this.end = end;
    this.left = 0;
    this.byte = 0;
  }

  /** The byte at `at` (inside [start, end)), read through the chunk buffer. */
  peek(at: number): number {
    if (at >= this.end) throw corrupt('a packet header runs past the end of its tile-part');
    if (at < this.bufAt || at >= this.bufAt + this.buf.length) {
      this.bufAt = at;
      this.buf = this.src.read(at, Math.min(this.chunk, this.end - at));
    }
    return this.buf[at - this.bufAt];
  }

  bit(): number {
    if (this.left === 0) {
      const stuffed = this.byte === 0xff;
      this.byte = this.peek(this.pos++);
      this.left = stuffed ? 7 : 8;
    }
    this.left--;
    return (this.byte >> this.left) & 1;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  /** Ends the header (B.10.1): the rest of the byte is padding, and a final 0xFF is followed by a stuffed byte. */
  align(): number {
    if (this.byte === 0xff) {
      this.peek(this.pos++);
      this.byte = 0;
    }
    this.left = 0;
    return this.pos;
  }
}

/** Number of coding passes (Table B.4). */
function codingPasses(b: BitReader): number {
  if (!b.bit()) return 1;
  if (!b.bit()) return 2;
  const two = b.bits(2);
  if (two < 3) return 3 + two;
  const five = b.bits(5);
  if (five < 31) return 6 + five;
  return 37 + b.bits(7);
}

/** floor(log2(n)) for n ≥ 1. */
const floorLog2 = (n: number): number => 31 - Math.clz32(n);

/** The code-blocks of one subband of one precinct, with their header state. */
interface BandState {
  n: number;
  incl: TagTree;
  zbp: TagTree;
}

/** Header state of one precinct across its layers. */
interface PrecinctState {
  bands: BandState[];
  /** Per code-block, over all bands: Lblock (0 = not yet included). */
  lblock: Uint8Array;
  /** Per code-block: coding passes so far (placeholders of HT code-blocks included). */
  passes: Uint16Array;
}

/** Subband extent on the subband grid (15444-1 B.5, equation B-15). */
function bandExtent(tc: TileComponentGeometry, r: number, xob: number, yob: number): { x0: number; y0: number; x1: number; y1: number } {
  const nb = r === 0 ? tc.style.NL : tc.style.NL - r + 1;
  const s = pow2(nb);
  const ox = r === 0 ? 0 : xob * pow2(nb - 1);
  const oy = r === 0 ? 0 : yob * pow2(nb - 1);
  return {
    x0: Math.ceil((tc.x0 - ox) / s),
    y0: Math.ceil((tc.y0 - oy) / s),
    x1: Math.ceil((tc.x1 - ox) / s),
    y1: Math.ceil((tc.y1 - oy) / s),
  };
}

/** Bands of resolution r in packet order (B.10: LL, or HL, LH, HH) as (xob, yob). */
const BANDS_R0: Array<[number, number]> = [[0, 0]];
const BANDS_R: Array<[number, number]> = [
  [1, 0],
  [0, 1],
  [1, 1],
];

/**
 * Code-block grid of precinct p (raster index within the resolution) in each band of (tc, r):
 * columns × rows of code-blocks the precinct's area covers in that band (15444-1 B.6, B.7).
 */
export function precinctCodeBlocks(tc: TileComponentGeometry, r: number, p: number): Array<{ w: number; h: number }> {
  const res = tc.resolutions[r];
  const { PPx, PPy } = res;
  if (r > 0 && (PPx === 0 || PPy === 0)) throw corrupt(`precinct size 2^0 at resolution ${r} > 0`);
  const xcb = Math.min(tc.style.xcb, r === 0 ? PPx : PPx - 1);
  const ycb = Math.min(tc.style.ycb, r === 0 ? PPy : PPy - 1);
  const pw = pow2(r === 0 ? PPx : PPx - 1);
  const ph = pow2(r === 0 ? PPy : PPy - 1);
  const px = Math.floor(res.x0 / pow2(PPx)) + (p % res.npx);
  const py = Math.floor(res.y0 / pow2(PPy)) + Math.floor(p / res.npx);
  const out: Array<{ w: number; h: number }> = [];
  for (const [xob, yob] of r === 0 ? BANDS_R0 : BANDS_R) {
    const b = bandExtent(tc, r, xob, yob);
    const x0 = Math.max(b.x0, px * pw);
    const y0 = Math.max(b.y0, py * ph);
    const x1 = Math.min(b.x1, (px + 1) * pw);
    const y1 = Math.min(b.y1, (py + 1) * ph);
    if (x1 <= x0 || y1 <= y0) {
      out.push({ w: 0, h: 0 });
      continue;
    }
    out.push({
      w: Math.ceil(x1 / pow2(xcb)) - Math.floor(x0 / pow2(xcb)),
      h: Math.ceil(y1 / pow2(ycb)) - Math.floor(y0 / pow2(ycb)),
    });
  }
  return out;
}

/** Coding options that shape packets (COD Scod bits 1 and 2, 15444-1 Table A.13). */
export interface PacketCoding {
  sop: boolean;
  eph: boolean;
}

/**
 * Decodes the packet headers of one tile in codestream order and returns each packet's length.
 * Call packetLength() for the tile's packets in the order the progression gives (the state of a
 * precinct's layer l depends on its layers 0..l-1).
 */
export class TilePacketHeaders {
  private readonly states = new Map<number, PrecinctState>();
  /** Code-blocks of the open precinct states. */
  private openBlocks = 0;
  private readonly bases: number[][];
  private readonly bits: BitReader;

  constructor(
    private readonly tile: TileGeometry,
    private readonly coding: PacketCoding,
    src: ByteSource,
    private readonly maxOpenBlocks = MAX_OPEN_CODEBLOCKS,
  ) {
    this.bits = new BitReader(src);
    let first = 0;
    this.bases = tile.components.map((tc) => {
      if (tc.style.cbStyle & CB_HT_MIXED) throw unsupported('mixed HT and Part 1 code-blocks');
      const b = tc.resolutions.map((res) => first + res.precinctBase);
      first += tc.precinctCount;
      return b;
    });
  }

  /** Bytes of the SOP marker segment in front of the last packet decoded (0 or 6). */
  sop = 0;
  /** Bytes of the last packet's header (EPH included, SOP not): the body follows it. */
  headerBytes = 0;

  /** Precincts whose state is held (all layers not yet seen). */
  get open(): number {
    return this.states.size;
  }

  /**
   * Length of the packet of (layer l, resolution r, component c, precinct p) that starts at `pos`,
   * within a tile-part whose packet data ends at `end`: SOP segment, header, EPH and body.
   */
  packetLength(pos: number, end: number, l: number, r: number, c: number, p: number): number {
    const b = this.bits;
    b.start(pos, end);
    this.sop = this.coding.sop ? sopLength(b, pos, end) : 0;
    b.start(pos + this.sop, end);
    const body = this.header(b, pos + this.sop, end, l, r, c, p);
    const total = this.sop + this.headerBytes + body;
    if (pos + total > end) throw corrupt('a packet runs past the end of its tile-part');
    return total;
  }

  /**
   * A packet whose header is packed (PPM/PPT, packed-headers.ts): decodes the header at `hpos` of
   * the header stream read by `h` (ending at `hend`), sets headerBytes, and returns the length of
   * the body, which lies in the tile-part data (after any SOP segment, which the caller skips).
   */
  packedBody(h: BitReader, hpos: number, hend: number, l: number, r: number, c: number, p: number): number {
    h.start(hpos, hend);
    this.sop = 0;
    return this.header(h, hpos, hend, l, r, c, p);
  }

  /** Decodes one packet header starting at `start` (B.10; EPH included); sets headerBytes, returns the body length. */
  private header(b: BitReader, start: number, end: number, l: number, r: number, c: number, p: number): number {
    const key = this.bases[c][r] + p;
    const tc = this.tile.components[c];
    let st = this.states.get(key);
    if (!st) {
      if (l !== 0) throw corrupt(`packet of layer ${l} before layer 0 of its precinct`);
      st = newPrecinctState(tc, r, p);
      this.openBlocks += st.lblock.length;
      if (this.openBlocks > this.maxOpenBlocks) throw overLimit(`packet headers of tile ${this.tile.t} need state for more than ${this.maxOpenBlocks} code-blocks at once`);
      this.states.set(key, st);
    }
    let body = 0;
    if (b.bit()) body = this.codeBlocks(b, st, tc.style.cbStyle, l);
    let hdrEnd = b.align();
    if (this.coding.eph) {
      if (hdrEnd + 2 > end || b.peek(hdrEnd) !== 0xff || b.peek(hdrEnd + 1) !== 0x92) throw corrupt('a packet header is not followed by EPH');
      hdrEnd += 2;
    }
    if (l === this.tile.layers - 1) {
      this.states.delete(key);
      this.openBlocks -= st.lblock.length;
    }
    this.headerBytes = hdrEnd - start;
    return body;
  }

  /** Decodes the code-block part of a non-empty packet header (B.10.3-B.10.7); returns the body length. */
  private codeBlocks(b: BitReader, st: PrecinctState, style: number, l: number): number {
    const ht = (style & CB_HT) !== 0;
    let body = 0;
    let k = 0;
    for (const band of st.bands) {
      for (let i = 0; i < band.n; i++, k++) {
        const first = st.lblock[k] === 0;
        const included = first ? band.incl.decode(b, i, l + 1) : b.bit() === 1;
        if (!included) continue;
        let placeholders = 0;
        if (first) {
          band.zbp.decodeValue(b, i, MAX_ZERO_BITPLANES);
          st.lblock[k] = 3;
        }
        let n = codingPasses(b);
        while (b.bit()) if (++st.lblock[k] > MAX_LENGTH_BITS) throw corrupt('Lblock exceeds 32');
        const Lblock = st.lblock[k];
        let done = st.passes[k];
        if (ht && done === 0) {
          // 15444-15 B.3: passes before the last HT set of the first contribution are placeholders,
          // coded with the cleanup segment's length.
          placeholders = 3 * Math.floor((n - 1) / 3);
        }
        // One length per codeword segment this contribution touches (B.10.7.1 / D.4).
        while (n > 0) {
          const k1 = segmentPasses(style, ht, done, n, placeholders);
          const nb = Lblock + floorLog2(k1);
          if (nb > MAX_LENGTH_BITS) throw corrupt('a codeword-segment length field wider than 32 bits');
          body += b.bits(nb);
          done += k1;
          n -= k1;
          placeholders = 0;
        }
        if (done > 0xffff) throw corrupt('too many coding passes');
        st.passes[k] = done;
      }
    }
    return body;
  }
}

/** Length of the SOP marker segment (15444-1 A.8.1: FF91, Lsop = 4, Nsop) at `pos`, or 0 when there is none. */
export function sopLength(b: BitReader, pos: number, end: number): number {
  return end - pos >= 6 && b.peek(pos) === 0xff && b.peek(pos + 1) === 0x91 ? 6 : 0;
}

/**
 * Passes of the segment that starts at pass `done` (counted from the code-block's first pass) which
 * this contribution's `n` remaining passes fill: up to the segment's end (D.4 for Part 1 termination
 * modes; for HT code-blocks, the cleanup pass alone and SigProp + MagRef together, 15444-15).
 */
function segmentPasses(style: number, ht: boolean, done: number, n: number, placeholders: number): number {
  if (ht) {
    if (placeholders > 0) return placeholders + 1;
    const j = done % 3; // 0 = cleanup, 1 = SigProp, 2 = MagRef (after any placeholders, sets are aligned to 3)
    return Math.min(n, j === 0 ? 1 : 3 - j);
  }
  if (style & CB_TERMALL) return 1;
  if (style & CB_BYPASS) {
    if (done < 10) return Math.min(n, 10 - done);
    const j = (done - 10) % 3; // 0, 1: raw SigProp + MagRef; 2: arithmetic cleanup
    return Math.min(n, j === 2 ? 1 : 2 - j);
  }
  return n;
}

function newPrecinctState(tc: TileComponentGeometry, r: number, p: number): PrecinctState {
  const grids = precinctCodeBlocks(tc, r, p);
  let total = 0;
  for (const g of grids) total += g.w * g.h;
  if (total > MAX_CODEBLOCKS_PER_PRECINCT) throw overLimit(`a precinct has more than ${MAX_CODEBLOCKS_PER_PRECINCT} code-blocks`);
  return {
    bands: grids.map((g) => ({ n: g.w * g.h, incl: new TagTree(Math.max(1, g.w), Math.max(1, g.h)), zbp: new TagTree(Math.max(1, g.w), Math.max(1, g.h)) })),
    lblock: new Uint8Array(total),
    passes: new Uint16Array(total),
  };
}
