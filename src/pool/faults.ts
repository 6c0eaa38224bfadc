/**
 * Fault injection for tests of worker replacement. Only a pool created with `faults` (never from a
 * request) carries these counters; each is a shared Int32 word decremented once per injected fault,
 * so exactly N tasks fail across all workers.
 */

/** Shared countdowns, one Int32 word each. */
export interface FaultPlan {
  /** Serve tasks that end their worker thread mid-request (process.exit in a worker ends that thread). */
  exitOnServe?: Int32Array;
  /** Serve tasks that throw an unexpected error mid-request. */
  throwOnServe?: Int32Array;
  /** Serve tasks that allocate until the worker's heap limit ends it. */
  oomOnServe?: Int32Array;
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

/** Called by the worker at the injection point; does nothing unless the pool was built with a plan. */
export function maybeInjectFault(data: unknown, point: 'serve'): void {
  const plan = (data as { faults?: FaultPlan } | null | undefined)?.faults;
  if (!plan || point !== 'serve') return;
  if (take(plan.exitOnServe)) process.exit(70);
  if (take(plan.throwOnServe)) throw new Error('injected fault');
  if (take(plan.oomOnServe)) {
    const hog: number[][] = [];
    for (;;) hog.push(new Array<number>(1 << 20).fill(hog.length));
  }
}
