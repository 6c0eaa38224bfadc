/**
 * Piscina worker entry. Workers hold no state a client depends on: only caches (open files, parsed
 * layouts, tile geometry) that can be rebuilt at any time, so a replaced worker simply re-runs the task.
 * Packet records live in the shared index (SharedArrayBuffer) passed with each task.
 */
import { workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { Piscina } from 'piscina';
import type { ByteSource } from '../bytes/source.js';
import { errorData, JpipdError, toErrorData } from '../errors.js';
import { FileCache } from '../io/file-source.js';
import { loadTarget } from '../io/targets.js';
import { packDelta } from '../jpip/cache-model.js';
import { serve, type PacketTable, type TargetAccess } from '../jpip/engine.js';
import { tileCount, tileGeometry } from '../j2k/geometry.js';
import type { CodestreamLayout, TargetLayout, TileGeometry } from '../j2k/types.js';
import { buildDirectory } from '../packet-index/directory.js';
import { SharedPackets } from '../packet-index/shared-packets.js';
import { maybeInjectFault } from './faults.js';
import type { ImageRef, OpenResult, OpenTask, ServeTask, ServeTaskResult, Task } from './messages.js';

const files = new FileCache(64);

/** Per-thread cache of prepared images, least recently used dropped beyond MAX_PREPARED. */
const MAX_PREPARED = 256;
const prepared = new Map<string, PreparedImage>();

/** An image file prepared for reading on this thread (its own codestreams, not linked ones). */
interface PreparedImage {
  layout: TargetLayout;
  source(): ByteSource;
  tile(cs: number, t: number): TileGeometry;
  minLevels(cs: number): number;
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

function prepare(image: ImageRef, root: string, cacheDir: string | null): PreparedImage {
  const hit = prepared.get(image.key);
  if (hit) {
    prepared.delete(image.key);
    prepared.set(image.key, hit);
    return hit;
  }
  const { layout, stamp } = loadTarget(image.abs, image.rel, root, cacheDir, files);
  const tiles = new Map<string, TileGeometry>();
  const tile = (cs: number, t: number): TileGeometry => memo(tiles, `${cs}:${t}`, () => tileGeometry(layout.codestreams[cs], t));
  const levels = new Map<number, number>();
  const source = (): ByteSource => files.get(image.abs, stamp);
  const sabs = new Map<number, SharedArrayBuffer>();
  const p: PreparedImage = {
    layout,
    source,
    tile,
    minLevels: (cs) =>
      memo(levels, cs, () => {
        let m = Infinity;
        for (let t = 0; t < tileCount(layout.codestreams[cs].siz); t++) for (const tc of tile(cs, t).components) m = Math.min(m, tc.style.NL);
        return m;
      }),
    packets: new SharedPackets(layout.codestreams, tile, source, (cs) => sabs.get(cs)),
    sabs,
  };
  prepared.set(image.key, p);
  while (prepared.size > MAX_PREPARED) prepared.delete(prepared.keys().next().value as string);
  return p;
}

/**
 * The engine's view of a task: metadata from the target, each requested codestream from the image
 * that holds it (the target itself, or a file a hyperlinked JPX links to).
 */
function accessFor(task: ServeTask): { access: TargetAccess; used: PreparedImage[] } {
  const target = prepare(task.image, task.root, task.cacheDir);
  const where = new Map<number, { img: PreparedImage; cs: number }>();
  task.request.codestreams.forEach((cs, i) => {
    const ref = task.streams[i];
    const img = ref.image.key === task.image.key ? target : prepare(ref.image, task.root, task.cacheDir);
    img.sabs.set(ref.cs, ref.sab);
    where.set(cs, { img, cs: ref.cs });
  });
  const at = (cs: number): { img: PreparedImage; cs: number } => {
    const w = where.get(cs);
    if (!w) throw new JpipdError('ERR_INTERNAL', `codestream ${cs} was not prepared`);
    return w;
  };
  const packets: PacketTable = {
    slotOf: (cs, t, c, r, p, l) => at(cs).img.packets.slotOf(at(cs).cs, t, c, r, p, l),
    read: (cs, upTo, slots, offsets, lengths) => at(cs).img.packets.read(at(cs).cs, upTo, slots, offsets, lengths),
  };
  // One file check (fstat) per image per task, not one per read.
  const sources = new Map<PreparedImage, ByteSource>();
  const sourceOf = (img: PreparedImage): ByteSource => memo(sources, img, () => img.source());
  const access: TargetAccess = {
    layout: target.layout,
    codestreamCount: target.layout.links?.length ?? target.layout.codestreams.length,
    codestream: (cs): CodestreamLayout => at(cs).img.layout.codestreams[at(cs).cs],
    get targetSource() {
      return sourceOf(target);
    },
    codestreamSource: (cs) => sourceOf(at(cs).img),
    tile: (cs, t) => at(cs).img.tile(at(cs).cs, t),
    minLevels: (cs) => at(cs).img.minLevels(at(cs).cs),
    packets,
  };
  return { access, used: [target, ...[...where.values()].map((w) => w.img)] };
}

function runOpen(task: OpenTask): OpenResult {
  try {
    const { layout, stamp, fromCache } = loadTarget(task.abs, task.rel, task.root, task.cacheDir, files);
    const slotCounts = layout.codestreams.map((cs) => buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t)).slotCount);
    return {
      ok: true,
      summary: {
        key: `${task.rel}|${stamp.size}|${stamp.mtimeMs}`,
        size: stamp.size,
        mtimeMs: stamp.mtimeMs,
        kind: layout.kind,
        codestreams: layout.links?.length ?? layout.codestreams.length,
        slotCounts,
        codestreamOffsets: layout.codestreams.map((cs) => cs.offset),
        links: layout.links?.map((l) => (l.error ? { offset: l.offset, error: errorData(l.error.code, l.error.message) } : { offset: l.offset, rel: l.rel })),
        layers: layout.layers,
        fromCache,
      },
    };
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  }
}

function runServe(task: ServeTask): ServeTaskResult {
  let view: { access: TargetAccess; used: PreparedImage[] } | undefined;
  try {
    view = accessFor(task);
    maybeInjectFault(workerData, 'serve');
    const r = serve(view.access, task.request, task.model, task.maxBytes);
    const body = task.gzip ? new Uint8Array(gzipSync(r.body)) : r.body;
    return { ok: true, body, gzipped: task.gzip, plainLength: r.body.length, eor: r.eor, delta: packDelta(r.delta), served: r.served, messages: r.messages, dataBytes: r.dataBytes };
  } catch (e) {
    const data = toErrorData(e);
    if (data.code === 'ERR_INTERNAL') throw e; // a bug or a broken thread: let the pool re-run the task
    return { ok: false, error: data };
  } finally {
    // Keep no SharedArrayBuffer between tasks: the registry's budget is then the real bound.
    for (const img of view?.used ?? []) {
      img.sabs.clear();
      img.packets.detach();
    }
  }
}

/** Piscina task entry point. A response body goes back by transfer, not copy. */
export default function run(task: Task): unknown {
  if (task.kind === 'open') return runOpen(task);
  const result = runServe(task);
  if (!result.ok) return result;
  return Piscina.move({ [Piscina.transferableSymbol]: [result.body.buffer, result.delta.buffer], [Piscina.valueSymbol]: result } as never);
}
