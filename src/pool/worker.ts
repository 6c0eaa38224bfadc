/**
 * Piscina worker entry. Workers hold no state a client depends on: only caches (open files, parsed
 * layouts, tile geometry) that can be rebuilt at any time, so a replaced worker simply re-runs the task.
 * Packet records live in the shared index (SharedArrayBuffer) passed with each task.
 */
import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { toErrorData } from '../errors.js';
import { FileCache } from '../io/file-source.js';
import { loadTarget } from '../io/targets.js';
import { serve, type TargetAccess } from '../jpip/engine.js';
import { tileGeometry } from '../j2k/geometry.js';
import type { TargetLayout, TileGeometry } from '../j2k/types.js';
import { buildDirectory } from '../packet-index/directory.js';
import { SharedPackets } from '../packet-index/shared-packets.js';
import type { OpenResult, OpenTask, ServeTask, ServeTaskResult, Task } from './messages.js';
import { maybeInjectFault } from './faults.js';

const files = new FileCache(64);

/** Per-thread cache of prepared targets, least recently used dropped beyond MAX_TARGETS. */
const MAX_TARGETS = 128;
const targets = new Map<string, PreparedTarget>();

/** A target prepared for serving on this thread. */
interface PreparedTarget {
  access: TargetAccess;
  packets: SharedPackets;
  /** SharedArrayBuffers by codestream, of the task being run only. */
  sabs: Map<number, SharedArrayBuffer>;
}

/** Cached value of `make()` under `key`. */
function memo<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

function tileCount(layout: TargetLayout, cs: number): number {
  const siz = layout.codestreams[cs].siz;
  return Math.ceil((siz.Xsiz - siz.XTOsiz) / siz.XTsiz) * Math.ceil((siz.Ysiz - siz.YTOsiz) / siz.YTsiz);
}

function prepare(task: ServeTask): PreparedTarget {
  const hit = targets.get(task.image.key);
  if (hit) {
    targets.delete(task.image.key);
    targets.set(task.image.key, hit);
    return hit;
  }
  const loaded = loadTarget(task.image.abs, task.image.rel, task.cacheDir, files);
  const layout = loaded.layout;
  const stamp = loaded.stamp;
  const tiles = new Map<string, TileGeometry>();
  const tileOf = (cs: number, t: number): TileGeometry => memo(tiles, `${cs}:${t}`, () => tileGeometry(layout.codestreams[cs], t));
  const minLevels = new Map<number, number>();
  const source = () => files.get(task.image.abs, stamp);
  const sabs = new Map<number, SharedArrayBuffer>();
  const packets = new SharedPackets(layout.codestreams, tileOf, () => source(), (cs) => sabs.get(cs));
  const access: TargetAccess = {
    layout,
    get targetSource() {
      return source();
    },
    codestreamSource: () => source(),
    tile: tileOf,
    minLevels(cs) {
      let m = minLevels.get(cs);
      if (m === undefined) {
        m = Infinity;
        for (let t = 0; t < tileCount(layout, cs); t++) for (const tc of tileOf(cs, t).components) m = Math.min(m, tc.style.NL);
        minLevels.set(cs, m);
      }
      return m;
    },
    packets,
  };
  const prepared = { access, packets, sabs };
  targets.set(task.image.key, prepared);
  while (targets.size > MAX_TARGETS) targets.delete(targets.keys().next().value as string);
  return prepared;
}

function runOpen(task: OpenTask): OpenResult {
  try {
    const loaded = loadTarget(task.abs, task.rel, task.cacheDir, files);
    const layout = loaded.layout;
    const slotCounts = layout.codestreams.map((cs, i) => {
      return buildDirectory(tileCount(layout, i), cs.siz.Csiz, (t) => tileGeometry(cs, t)).slotCount;
    });
    return {
      ok: true,
      summary: {
        key: `${task.rel}|${loaded.stamp.size}|${loaded.stamp.mtimeMs}`,
        size: loaded.stamp.size,
        mtimeMs: loaded.stamp.mtimeMs,
        kind: layout.kind,
        codestreams: layout.codestreams.length,
        slotCounts,
        fromCache: loaded.fromCache,
      },
    };
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  }
}

function runServe(task: ServeTask): ServeTaskResult {
  let prepared: PreparedTarget;
  try {
    prepared = prepare(task);
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  }
  task.request.codestreams.forEach((cs, i) => prepared.sabs.set(cs, task.sabs[i]));
  try {
    maybeInjectFault(workerData, 'serve');
    const r = serve(prepared.access, task.request, task.model, task.maxBytes);
    return { ok: true, body: r.body, eor: r.eor, delta: r.delta, served: r.served, messages: r.messages, dataBytes: r.dataBytes };
  } catch (e) {
    const data = toErrorData(e);
    if (data.code === 'ERR_INTERNAL') throw e; // a bug or a broken thread: let the pool re-run the task
    return { ok: false, error: data };
  } finally {
    prepared.sabs.clear();
    prepared.packets.detach();
  }
}

/** Piscina task entry point. A response body goes back by transfer, not copy. */
export default function run(task: Task): unknown {
  if (task.kind === 'open') return runOpen(task);
  const result = runServe(task);
  if (!result.ok) return result;
  return Piscina.move({ [Piscina.transferableSymbol]: [result.body.buffer], [Piscina.valueSymbol]: result } as never);
}
