/**
 * Run as a child process by test/unit/heap-hold.test.ts (a fresh V8 per case): starts and
 * stops a worker thread as the server does, with or without the heap hold, then keeps
 * many short-lived objects alive and prints the new space size in MiB.
 * Usage: node --import tsx test/helpers/young-gen-probe.ts hold|hold-once|free
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { afterWorkerStart, holdHeap } from '../../src/pool/heap-hold.js';

const mode = process.argv[2];
const hold = mode === 'hold' || mode === 'hold-once';
if (hold) holdHeap();
const w = new Worker('require("node:worker_threads").parentPort.once("message", () => process.exit(0))', { eval: true });
await new Promise((r) => w.once('online', r));
// 'hold-once' leaves out the re-application, to show V8 really resets the flag.
if (mode !== 'hold-once') afterWorkerStart();
w.postMessage('stop');
await new Promise((r) => w.once('exit', r));
const keep: unknown[][] = [];
for (let r = 0; r < 3000; r++) {
  const batch: unknown[] = [];
  for (let i = 0; i < 2000; i++) batch.push({ i, a: [i, i + 1, i + 2] });
  keep.push(batch);
  if (keep.length > 200) keep.splice(0, 100);
}
process.stdout.write(String((getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 1048576));
