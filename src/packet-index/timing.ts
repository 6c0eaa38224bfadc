/**
 * How long indexing resolution levels takes, for metrics (jpipd_index_level_seconds): the thread that
 * builds levels reports each publish here, and whoever counts for this thread (a front end's
 * ThreadMetrics; in a pool worker, the task that hands the figures back to the pool's owner) listens.
 * No listener: nothing is kept.
 */

/** Where levels were built: by a front end itself, or by a pool worker. */
export type IndexedWhere = 'inline' | 'pool';

type Listener = (levels: number, seconds: number, where: IndexedWhere) => void;
let listener: Listener | null = null;

/** Sets (or clears) this thread's listener. */
export function onLevelsIndexed(l: Listener | null): void {
  listener = l;
}

/** `levels` resolution levels were built and published in `seconds`. */
export function levelsIndexed(levels: number, seconds: number, where: IndexedWhere = 'inline'): void {
  listener?.(levels, seconds, where);
}
