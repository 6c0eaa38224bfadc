/**
 * Piscina worker entry: loads layouts and indexes resolution levels for the front ends. Workers hold
 * nothing a client depends on: only caches (open files, loaded layouts) that can be rebuilt at any
 * time, so a replaced worker simply re-runs the task. Index records go straight into the shared
 * table the task brings; the worker keeps no SharedArrayBuffer after the task.
 */
import { workerData } from 'node:worker_threads';
import { JpipdError, toErrorData } from '../errors.js';
import { versionKey } from '../io/catalog.js';
import { FileCache } from '../io/file-source.js';
import { LengthsFile } from '../io/lengths-cache.js';
import { loadTarget, stampOf, type LoadedTarget } from '../io/targets.js';
import { learnsLengths } from '../packet-index/builder.js';
import { CodestreamIndex, slotCount } from '../packet-index/codestream-index.js';
import { SharedPacketIndex } from '../packet-index/shared-index.js';
import { onLevelsIndexed } from '../packet-index/timing.js';
import { maybeInjectFault } from './faults.js';
import type { IndexResult, IndexTask, OpenResult, OpenTask, Task, WarmResult, WarmTask } from './messages.js';

const files = new FileCache(64);

/** Layouts loaded by this thread, by file version, least recently used dropped beyond MAX_LOADED. */
const MAX_LOADED = 32;
const loaded = new Map<string, LoadedTarget>();

function load(abs: string, rel: string, root: string, cacheDir: string | null): LoadedTarget {
  const t = loadTarget(abs, rel, root, cacheDir, files);
  const key = versionKey(abs, t.stamp);
  loaded.delete(key);
  loaded.set(key, t);
  while (loaded.size > MAX_LOADED) loaded.delete(loaded.keys().next().value as string);
  return t;
}

function runOpen(task: OpenTask): OpenResult {
  let stamp: OpenResult['stamp'];
  try {
    stamp = stampOf(task.abs);
    const t = load(task.abs, task.rel, task.root, task.cacheDir);
    return { ok: true, layout: t.layout, stamp: t.stamp, fromCache: t.fromCache };
  } catch (e) {
    // The version refused, so that the front end remembers the refusal until the file changes.
    return { ok: false, error: toErrorData(e), stamp };
  }
}

function runIndex(task: IndexTask): IndexResult {
  const timing: Array<[number, number]> = [];
  onLevelsIndexed((levels, seconds) => timing.push([levels, seconds]));
  try {
    const t = loaded.get(versionKey(task.abs, task.stamp)) ?? load(task.abs, task.rel, task.root, task.cacheDir);
    if (t.stamp.size !== task.stamp.size || t.stamp.mtimeMs !== task.stamp.mtimeMs) {
      throw new JpipdError('ERR_TARGET_CHANGED', 'the image changed since this channel opened it');
    }
    const layout = t.layout.codestreams[task.cs];
    if (!layout) throw new JpipdError('ERR_INTERNAL', `no codestream ${task.cs}`);
    const learnt = task.cacheDir ? new LengthsFile(task.cacheDir, task.abs, t.stamp, task.cs) : undefined;
    new CodestreamIndex(layout, files.get(task.abs, t.stamp), task.sab, undefined, learnt, () => maybeInjectFault(workerData, 'publish')).ensure(task.upTo);
    return { ok: true, timing };
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  } finally {
    onLevelsIndexed(null);
  }
}

function runWarm(task: WarmTask): WarmResult {
  try {
    const t = load(task.abs, task.rel, task.root, task.cacheDir);
    let learnt = 0;
    if (task.cacheDir) {
      for (const [cs, layout] of t.layout.codestreams.entries()) {
        if (layout.broken || !learnsLengths(layout)) continue;
        // A private table, dropped after the task: only the learnt lengths are kept (on disk).
        const sab = SharedPacketIndex.allocate(Math.max(1, slotCount(layout))).sab;
        const index = new CodestreamIndex(layout, files.get(task.abs, t.stamp), sab, undefined, new LengthsFile(task.cacheDir, task.abs, t.stamp, cs));
        index.ensure(index.directory.levels - 1);
        learnt++;
      }
    }
    return { ok: true, fromCache: t.fromCache, learnt };
  } catch (e) {
    return { ok: false, error: toErrorData(e) };
  }
}

/** Piscina task entry point. An unexpected failure (a bug, a broken thread) throws: the pool re-runs it. */
export default function run(task: Task): OpenResult | IndexResult | WarmResult {
  maybeInjectFault(workerData);
  const r = task.kind === 'open' ? runOpen(task) : task.kind === 'warm' ? runWarm(task) : runIndex(task);
  // A table failed because a thread died holding its lock is not retried here: the front end takes a
  // fresh table and asks again.
  const recovered = task.kind === 'index' && SharedPacketIndex.attach(task.sab).failure() === 'ERR_INTERNAL';
  if (!r.ok && r.error.code === 'ERR_INTERNAL' && !recovered) throw new Error(r.error.message);
  return r;
}
