/**
 * Keeps every thread's V8 young generation at its initial size (ADR 0003).
 *
 * Each thread that serves requests allocates short-lived objects at a high rate, and V8 answers by
 * doubling the thread's semi-spaces up to 16 MiB each: 32 MiB of mostly empty new space per thread
 * (measured under 100 clients), a fifth of the memory budget. Worker threads take a limit at start
 * (resourceLimits); the main thread's limit (--max-semi-space-size) can only be given on the node
 * command line, which `node bin/jpipd.js` does not carry. At run time `--semi-space-growth-factor=1`
 * stops the growth instead — but V8 resets that flag to 2 whenever it sets up a new isolate, i.e. on
 * every worker start, so it is applied again each time a worker (front end or pool) comes up.
 *
 * The flag is process-wide, so only the process owner (the CLI) turns this on; a program embedding
 * jpipd keeps its own heap settings.
 */
import { setFlagsFromString } from 'node:v8';

let held = false;

/** Stops young-generation growth for the rest of the process's life. */
export function holdYoungGeneration(): void {
  held = true;
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** Call once a new worker thread runs (its isolate is set up): re-applies the hold if it is on. */
export function afterWorkerStart(): void {
  if (held) setFlagsFromString('--semi-space-growth-factor=1');
}
