/**
 * Run as a child process by test/unit/heap-hold.test.ts (a fresh V8 per case): keeps a few
 * MiB live, then allocates batches that live just long enough to be promoted, and prints the largest
 * old space seen in MiB. 'hold' applies holdHeap(); 'young-only' pins the young generation
 * alone (what the hold did before it also slowed the old generation's growth): its small new space
 * promotes more, and the old space grows to several times its live size before a mark-compact.
 * Usage: node --import tsx test/helpers/old-gen-probe.ts hold|young-only
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { holdHeap } from '../../src/pool/heap-hold.js';

if (process.argv[2] === 'hold') holdHeap();
else setFlagsFromString('--semi-space-growth-factor=1');
const live: unknown[] = [];
for (let i = 0; i < 20_000; i++) live.push({ i, s: `${'x'.repeat(200)}${i}` });
const ring: unknown[][] = [];
let peak = 0;
for (let r = 0; r < 4000; r++) {
  const batch: unknown[] = [];
  for (let i = 0; i < 500; i++) batch.push({ i, a: [i, i + 1, i + 2], t: `y${i}` });
  ring.push(batch);
  if (ring.length > 40) ring.shift();
  if (r % 20 === 0) peak = Math.max(peak, getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_size ?? 0);
}
process.stdout.write(`${peak / 1048576} ${live.length}`);
