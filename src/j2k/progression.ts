/**
 * Packet order of one tile (15444-1 B.12): the five progressions and progression order changes.
 *
 * Position-driven orders (RPCL, PCRL, CPRL; B.12.1.3-B.12.1.5) iterate canvas positions (y, x) of the
 * tile and emit a precinct of (c, r) at the first position where the standard's divisibility test
 * holds. That position is the precinct's top-left corner on the reference grid clipped to the tile:
 * (max(tx0, px_abs * XRsiz * 2^(PPx+NL-r)), max(ty0, py_abs * YRsiz * 2^(PPy+NL-r))). So the packet
 * order is the precincts sorted by the loop nest's keys, which avoids visiting every canvas position
 * and is exact for any subsampling and any per-resolution precinct size.
 */
import { overLimit } from '../errors.js';
import { Progression, type PacketOrder, type Poc, type TileComponentGeometry, type TileGeometry } from './types.js';
import { pow2 } from './geometry.js';

/** Most packets accepted in one tile. */
export const MAX_PACKETS_PER_TILE = 1 << 24;

/** A progression volume (15444-1 B.12.2): layers [0, LYE), resolutions [RS, RE), components [CS, CE). */
interface Volume {
  LYE: number;
  RS: number;
  RE: number;
  CS: number;
  CE: number;
  order: Progression;
}

/** A precinct with the canvas position at which position-driven orders reach it. */
interface PrecinctAt {
  c: number;
  r: number;
  p: number;
  x: number;
  y: number;
}

/** Builds the packet list while skipping packets that an earlier volume already emitted. */
class Emitter {
  readonly out: PacketOrder;
  private readonly seen: Uint8Array | null;
  private readonly base: number[][];
  private readonly L: number;

  constructor(tile: TileGeometry, total: number, dedupe: boolean) {
    this.L = tile.layers;
    this.out = {
      length: 0,
      layer: new Uint16Array(total),
      resolution: new Uint8Array(total),
      component: new Uint16Array(total),
      precinct: new Uint32Array(total),
    };
    let first = 0;
    this.base = tile.components.map((tc) => {
      const bases = tc.resolutions.map((res) => first + res.precinctBase);
      first += tc.precinctCount;
      return bases;
    });
    this.seen = dedupe ? new Uint8Array(total) : null;
  }

  emit(l: number, r: number, c: number, p: number): void {
    if (this.seen) {
      const slot = (this.base[c][r] + p) * this.L + l;
      if (this.seen[slot]) return;
      this.seen[slot] = 1;
    }
    const o = this.out;
    const n = o.length++;
    o.layer[n] = l;
    o.resolution[n] = r;
    o.component[n] = c;
    o.precinct[n] = p;
  }
}

/** Precincts of (c, r) with their trigger positions on the reference grid (see the module comment). */
function precinctsAt(tile: TileGeometry, tc: TileComponentGeometry, r: number, into: PrecinctAt[]): void {
  const res = tc.resolutions[r];
  if (res.npx === 0 || res.npy === 0) return;
  const n = tc.style.NL - r;
  const stepX = tc.XRsiz * pow2(res.PPx + n);
  const stepY = tc.YRsiz * pow2(res.PPy + n);
  const px0 = Math.floor(res.x0 / pow2(res.PPx));
  const py0 = Math.floor(res.y0 / pow2(res.PPy));
  for (let py = 0; py < res.npy; py++) {
    const y = Math.max(tile.y0, (py0 + py) * stepY);
    for (let px = 0; px < res.npx; px++) {
      into.push({ c: tc.c, r, p: py * res.npx + px, x: Math.max(tile.x0, (px0 + px) * stepX), y });
    }
  }
}

/** Emits one volume in its progression order (15444-1 B.12.1.1-B.12.1.5). */
function runVolume(tile: TileGeometry, v: Volume, em: Emitter): void {
  const comps = tile.components;
  const inVolume = (c: number, r: number): boolean => r <= comps[c].style.NL;
  if (v.order === Progression.LRCP || v.order === Progression.RLCP) {
    const lrcp = v.order === Progression.LRCP;
    const outerN = lrcp ? v.LYE : v.RE;
    const innerS = lrcp ? v.RS : 0;
    const innerE = lrcp ? v.RE : v.LYE;
    for (let a = lrcp ? 0 : v.RS; a < outerN; a++) {
      for (let b = innerS; b < innerE; b++) {
        const l = lrcp ? a : b;
        const r = lrcp ? b : a;
        for (let c = v.CS; c < v.CE; c++) {
          if (!inVolume(c, r)) continue;
          const res = comps[c].resolutions[r];
          const np = res.npx * res.npy;
          for (let p = 0; p < np; p++) em.emit(l, r, c, p);
        }
      }
    }
    return;
  }
  const list: PrecinctAt[] = [];
  for (let c = v.CS; c < v.CE; c++) {
    for (let r = v.RS; r < v.RE; r++) if (inVolume(c, r)) precinctsAt(tile, comps[c], r, list);
  }
  const byPos = (a: PrecinctAt, b: PrecinctAt): number => a.y - b.y || a.x - b.x;
  if (v.order === Progression.RPCL) list.sort((a, b) => a.r - b.r || byPos(a, b) || a.c - b.c);
  else if (v.order === Progression.PCRL) list.sort((a, b) => byPos(a, b) || a.c - b.c || a.r - b.r);
  else list.sort((a, b) => a.c - b.c || byPos(a, b) || a.r - b.r);
  for (const q of list) for (let l = 0; l < v.LYE; l++) em.emit(l, q.r, q.c, q.p);
}

/** Clips a POC entry to the tile's layers, resolutions and components (15444-1 A.6.6, B.12.2). */
function volumeOf(poc: Poc, tile: TileGeometry, maxR: number): Volume {
  return {
    LYE: Math.min(poc.LYEpoc, tile.layers),
    RS: poc.RSpoc,
    RE: Math.min(poc.REpoc, maxR),
    CS: poc.CSpoc,
    CE: Math.min(poc.CEpoc, tile.components.length),
    order: poc.Ppoc,
  };
}

/**
 * The packets of one tile in codestream order (15444-1 B.12). With POC (B.12.2) the volumes run in
 * order and a packet already emitted by an earlier volume is skipped; packets no volume covers follow
 * in the last volume's progression order, so every (l, r, c, p) appears exactly once.
 */
export function packetOrder(tile: TileGeometry): PacketOrder {
  let precincts = 0;
  let maxR = 0;
  for (const tc of tile.components) {
    precincts += tc.precinctCount;
    maxR = Math.max(maxR, tc.style.NL + 1);
  }
  const total = precincts * tile.layers;
  if (total > MAX_PACKETS_PER_TILE) throw overLimit(`tile ${tile.t} has ${total} packets (at most ${MAX_PACKETS_PER_TILE})`);
  const full = (order: Progression): Volume => ({ LYE: tile.layers, RS: 0, RE: maxR, CS: 0, CE: tile.components.length, order });
  const em = new Emitter(tile, total, tile.pocs.length > 0);
  if (tile.pocs.length === 0) {
    runVolume(tile, full(tile.progression), em);
  } else {
    for (const poc of tile.pocs) runVolume(tile, volumeOf(poc, tile, maxR), em);
    if (em.out.length < total) runVolume(tile, full(tile.pocs[tile.pocs.length - 1].Ppoc), em);
  }
  return em.out;
}
