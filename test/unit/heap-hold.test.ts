/**
 * The heap hold (src/pool/heap-hold.ts) against V8 itself, each case in a fresh
 * process (test/helpers/young-gen-probe.ts): with the hold, a thread that keeps many short-lived
 * objects alive keeps its new space at the initial size even after a worker thread started (V8
 * resets the growth flag when it sets up the worker's isolate, so the hold is re-applied); without
 * it, the same work grows the new space (the negative control). The hold also caps how far the old
 * space grows past its live size before a mark-compact (test/helpers/old-gen-probe.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const PROBE = path.resolve(import.meta.dirname, '../helpers/young-gen-probe.ts');
const OLD_PROBE = path.resolve(import.meta.dirname, '../helpers/old-gen-probe.ts');
const newSpaceMb = (mode: 'hold' | 'hold-once' | 'free'): number => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', PROBE, mode], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
};

test('without the hold the new space grows under allocation (negative control)', () => {
  assert.ok(newSpaceMb('free') >= 8);
});

test('with the hold, re-applied after a worker start, the new space stays small', () => {
  const mb = newSpaceMb('hold');
  assert.ok(mb <= 4, `new space ${mb} MiB`);
});

test('a worker start undoes a hold that is not re-applied (why afterWorkerStart exists)', () => {
  assert.ok(newSpaceMb('hold-once') >= 8);
});

const oldSpaceMb = (mode: 'hold' | 'young-only'): number => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', OLD_PROBE, mode], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.split(' ')[0]);
};

test('the hold keeps promoted garbage to about half the old space a pinned young generation alone leaves', () => {
  const held = oldSpaceMb('hold');
  const youngOnly = oldSpaceMb('young-only');
  // Measured: 33–34 MiB against 70–74 MiB (about 5 MiB live).
  assert.ok(held * 1.5 < youngOnly, `old space ${held} MiB with the hold, ${youngOnly} MiB without`);
});
