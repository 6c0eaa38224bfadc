/**
 * Which data-bin ids an image has (15444-9 A.3): tile headers 0..Nt-1, precinct ids
 * I = t + (c + s·Nc)·Nt with s below the precinct count of tile-component (t, c), metadata-bins
 * 0..n. Used to refuse `model=` statements about bins that do not exist before they size anything.
 */
import { splitPrecinctBinId, tileCount, tileGeometry } from '../j2k/geometry.js';
import type { CodestreamLayout, TargetLayout } from '../j2k/types.js';
import { BinKind } from './cache-model.js';

/** Precinct counts per (tile, component) of a codestream, computed once per layout. */
const counts = new WeakMap<CodestreamLayout, { Nt: number; Nc: number; perTc: Int32Array }>();

function precinctCounts(layout: CodestreamLayout): { Nt: number; Nc: number; perTc: Int32Array } {
  let c = counts.get(layout);
  if (!c) {
    const Nt = tileCount(layout.siz);
    const Nc = layout.siz.Csiz;
    const perTc = new Int32Array(Nt * Nc);
    for (let t = 0; t < Nt; t++) for (const tc of tileGeometry(layout, t).components) perTc[t * Nc + tc.c] = tc.precinctCount;
    c = { Nt, Nc, perTc };
    counts.set(layout, c);
  }
  return c;
}

/**
 * True when the target has data-bin (kind, cs, id); null when this cannot be told without loading
 * another file (a frame of a hyperlinked JPX). Codestream numbers are already bounded by the caller.
 */
export function binExists(target: TargetLayout, kind: BinKind, cs: number, id: number): boolean | null {
  if (kind === BinKind.Metadata) return id <= (target.metadataBins?.length ?? 0);
  const layout = target.codestreams[cs];
  if (!layout) return target.links ? null : false;
  if (layout.broken) return false;
  if (kind === BinKind.MainHeader) return id === 0;
  const { Nt, Nc, perTc } = precinctCounts(layout);
  if (kind === BinKind.TileHeader) return id < Nt;
  const { t, c, s } = splitPrecinctBinId(id, Nc, Nt);
  return s < perTc[t * Nc + c];
}
