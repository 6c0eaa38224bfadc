/**
 * Fault injection for tests of worker replacement. Only a pool created with `faults` (never from a
 * request) carries these counters; each is a shared Int32 word decremented once per injected fault,
 * so exactly N tasks fail across all workers.
 */

/** Shared countdowns, one Int32 word each. */
export interface FaultPlan {
  /** Tasks that end their worker thread mid-task (process.exit in a worker ends that thread). */
  exitOnTask?: Int32Array;
  /** Tasks that throw an unexpected error mid-task. */
  throwOnTask?: Int32Array;
  /** Tasks that allocate until the worker's heap limit ends it. */
  oomOnTask?: Int32Array;
  /** Index tasks that end their worker while it holds the index write lock (inside publishLevels). */
  exitInPublish?: Int32Array;
}

/** Makes a countdown word for a FaultPlan. */
export function countdown(n: number): Int32Array {
  const a = new Int32Array(new SharedArrayBuffer(4));
  a[0] = n;
  return a;
}

function take(word: Int32Array | undefined): boolean {
  // Atomics.sub returns the old value: only the first N callers across all threads see a positive one.
  return word !== undefined && Atomics.sub(word, 0, 1) > 0;
}

/** Called by the worker at an injection point; does nothing unless the pool was built with a plan. */
export function maybeInjectFault(data: unknown, point: 'task' | 'publish' = 'task'): void {
  const plan = (data as { faults?: FaultPlan } | null | undefined)?.faults;
  if (!plan) return;
  if (point === 'publish') {
    if (take(plan.exitInPublish)) process.exit(71);
    return;
  }
  if (take(plan.exitOnTask)) process.exit(70);
  if (take(plan.throwOnTask)) throw new Error('injected fault');
  if (take(plan.oomOnTask)) {
    const hog: number[][] = [];
    for (;;) hog.push(new Array<number>(1 << 20).fill(hog.length));
  }
}
