/**
 * Keeps every thread's V8 heap close to its live size (ADR 0003): the young generation at its
 * initial size, the old generation within half its live size of garbage.
 *
 * Each thread that serves requests allocates short-lived objects at a high rate, and V8 answers by
 * doubling the thread's semi-spaces up to 16 MiB each: 32 MiB of mostly empty new space per thread
 * (measured under 100 clients), a fifth of the memory budget. Worker threads take a limit at start
 * (resourceLimits); the main thread's limit (--max-semi-space-size) can only be given on the node
 * command line, which `node bin/jpipd.js` does not carry. At run time `--semi-space-growth-factor=1`
 * stops the growth instead — but V8 resets that flag to 2 whenever it sets up a new isolate, i.e. on
 * every worker start, so it is applied again each time a worker (front end or pool) comes up.
 *
 * The old generation: objects that outlive two scavenges (a request's state while its body drains,
 * a session's model entries) are promoted, and a thread whose mutator is rarely interrupted gets
 * V8's largest growing factor (4x): after a mark-compact that left 8 MiB live the next one waits until
 * ~30 MiB are in use (measured on the main thread under 16 movie clients). `--heap-growing-percent`
 * (read at each mark-compact) caps the factor at 1.5x, plus V8's minimum step: old space peaked at
 * 15 instead of 29 MiB there, for one more 3 ms mark-compact every ~2 s.
 *
 * The flags are process-wide, so only the process owner (the CLI) turns this on; a program embedding
 * jpipd keeps its own heap settings.
 */
import { setFlagsFromString } from 'node:v8';

let held = false;

/** Old-generation growth after a mark-compact: live size × (1 + this / 100), V8's minimum step aside. */
export const HEAP_GROWING_PERCENT = 50;

function apply(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** Stops young-generation growth and slows old-generation growth for the rest of the process's life. */
export function holdHeap(): void {
  held = true;
  apply();
}

/** Call once a new worker thread runs (its isolate is set up): re-applies the hold if it is on. */
export function afterWorkerStart(): void {
  if (held) apply();
}
