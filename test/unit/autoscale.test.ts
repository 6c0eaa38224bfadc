import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUTOSCALE_SUSTAIN_PERIODS,
  BACKOFF_PERIODS,
  IDLE_PERIODS,
  MAX_BACKOFF_PERIODS,
  ScalePolicy,
  TRIAL_EVAL_PERIODS,
  TRIAL_SETTLE_PERIODS,
  type Decision,
  type Period,
} from '../../src/server/autoscale.js';

const busy = (served: number, active = 1): Period => ({ meanElu: 0.9, idleCores: 0.8, served, active, min: 1, max: 2 });
const idle = (active = 2): Period => ({ meanElu: 0.01, idleCores: 1.9, served: 0, active, min: 1, max: 2 });

/** Feeds periods, returns every decision that was not null with the period it came in. */
function run(policy: ScalePolicy, periods: Period[]): Array<[number, Decision]> {
  const out: Array<[number, Decision]> = [];
  periods.forEach((p, i) => {
    const d = policy.next(p);
    if (d) out.push([i, d]);
  });
  return out;
}

describe('autoscale policy', () => {
  it('adds a front end after sustained load with a free core, and keeps it when the rate rises', () => {
    const p = new ScalePolicy();
    const before = Array.from({ length: AUTOSCALE_SUSTAIN_PERIODS }, () => busy(1000));
    const after = Array.from({ length: TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS + 40 }, () => busy(1300, 2));
    assert.deepEqual(run(p, [...before, ...after]), [[AUTOSCALE_SUSTAIN_PERIODS - 1, 'add']]);
  });

  it('pauses a new front end that did not raise the rate, then waits before trying again', () => {
    const p = new ScalePolicy();
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const trial = TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS;
    const periods = [
      ...Array.from({ length: n }, () => busy(1000)),
      ...Array.from({ length: trial }, () => busy(1050, 2)), // +5 %: not worth a thread
      ...Array.from({ length: BACKOFF_PERIODS + n }, () => busy(1000)),
    ];
    const d = run(p, periods);
    assert.deepEqual(d[0], [n - 1, 'add']);
    assert.deepEqual(d[1], [n - 1 + trial, 'pause']);
    // The next try waits out the backoff, however busy the one front end stays.
    assert.equal(d.length, 3);
    assert.equal(d[2][1], 'add');
    assert.ok(d[2][0] >= n - 1 + trial + BACKOFF_PERIODS, `retried at period ${d[2][0]}`);
  });

  it('waits twice as long after each trial that does not pay, up to the cap; a trial that pays starts over', () => {
    const p = new ScalePolicy();
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const trial = TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS;
    // Steady load that a second front end does not help: judge every trial a failure.
    const decisions: Array<[number, Decision]> = [];
    let active = 1;
    for (let i = 0; i < 4000; i++) {
      const d = p.next(busy(1000, active));
      if (d === 'add') active = 2;
      if (d === 'pause') active = 1;
      if (d) decisions.push([i, d]);
    }
    const adds = decisions.filter(([, d]) => d === 'add').map(([i]) => i);
    const gaps = adds.slice(1).map((a, k) => a - adds[k] - trial);
    // Each wait: the backoff (doubling from BACKOFF_PERIODS to MAX_BACKOFF_PERIODS) plus the sustain periods.
    const expected = [BACKOFF_PERIODS, 2 * BACKOFF_PERIODS, 4 * BACKOFF_PERIODS, 8 * BACKOFF_PERIODS, MAX_BACKOFF_PERIODS, MAX_BACKOFF_PERIODS];
    assert.ok(gaps.length >= expected.length, `${adds.length} trials`);
    expected.forEach((b, k) => assert.ok(gaps[k] >= Math.min(b, MAX_BACKOFF_PERIODS) && gaps[k] <= Math.min(b, MAX_BACKOFF_PERIODS) + n, `wait ${k}: ${gaps[k]} periods, backoff ${b}`));
    // A trial that pays resets the wait.
    const q = new ScalePolicy();
    let i = 0;
    const feed = (period: Period): Decision => (i++, q.next(period));
    const failOnce = (): void => {
      for (let k = 0; k < 2000 && feed(busy(1000, 1)) !== 'add'; k++);
      for (let k = 0; k < trial; k++) feed(busy(1000, 2));
    };
    failOnce();
    failOnce(); // the wait is now 2 × BACKOFF_PERIODS
    for (let k = 0; k < 2000 && feed(busy(1000, 1)) !== 'add'; k++);
    for (let k = 0; k < trial; k++) assert.notEqual(feed(busy(1500, 2)), 'pause', 'a trial that pays is kept');
    // Back to one front end (it went idle), then a failed trial waits BACKOFF_PERIODS again.
    for (let k = 0; k < IDLE_PERIODS; k++) feed(idle(2));
    for (let k = 0; k < 2000 && feed(busy(1000, 1)) !== 'add'; k++);
    for (let k = 0; k < trial; k++) feed(busy(1000, 2));
    const from = i;
    for (let k = 0; k < 2000 && feed(busy(1000, 1)) !== 'add'; k++);
    assert.ok(i - from <= BACKOFF_PERIODS + n, `retried after ${i - from} periods`);
  });

  it('where a pause under load would reset connections: tries only with a free core, and undoes a trial only when idle', () => {
    const p = new ScalePolicy(undefined, false);
    const saturatedNoCore = (active = 1): Period => ({ ...busy(1000, active), meanElu: 0.99, idleCores: 0.2 });
    assert.deepEqual(run(p, Array.from({ length: 40 }, () => saturatedNoCore())), [], 'saturation alone is not enough');
    const q = new ScalePolicy(undefined, false);
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const trial = TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS;
    const d = run(q, [
      ...Array.from({ length: n }, () => busy(1000)), // a free core: tried
      ...Array.from({ length: trial + 200 }, () => busy(1000, 2)), // it does not pay: kept while loaded
      ...Array.from({ length: IDLE_PERIODS }, () => idle(2)), // paused once idle
    ]);
    assert.deepEqual(d, [
      [n - 1, 'add'],
      [n + trial + 200 + IDLE_PERIODS - 1, 'pause'],
    ]);
    // With saturation counted (the kernel migrates queued connections) the same trial is paused at once.
    const r = new ScalePolicy(undefined, true);
    assert.deepEqual(run(r, [...Array.from({ length: n }, () => busy(1000)), ...Array.from({ length: trial }, () => busy(1000, 2))]).map(([, x]) => x), ['add', 'pause']);
  });

  it('does not add without a free core, or past the maximum', () => {
    const p = new ScalePolicy();
    assert.deepEqual(run(p, Array.from({ length: 20 }, () => ({ ...busy(1000), meanElu: 0.8, idleCores: 0.3 }))), []);
    assert.deepEqual(run(p, Array.from({ length: 20 }, () => busy(1000, 2))), []);
  });

  it('decides on the mean idle share of consecutive busy periods, not on one period', () => {
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    // Busy, not saturated (saturation alone would be enough here). A core free only every other
    // period (mean 0.35 cores): never tried.
    const now = (i: number): Period => ({ ...busy(1000), meanElu: 0.8, idleCores: i % 2 ? 0.6 : 0.1 });
    assert.deepEqual(run(new ScalePolicy(), Array.from({ length: 40 }, (_, i) => now(i))), []);
    // 0.44 cores free on average, though no single period has half a core … tried.
    const steady = (i: number): Period => ({ ...busy(1000), meanElu: 0.8, idleCores: i % 2 ? 0.42 : 0.46 });
    assert.deepEqual(run(new ScalePolicy(), Array.from({ length: n }, (_, i) => steady(i))), [[n - 1, 'add']]);
    // … but a period that is not busy starts the count again.
    const dip = Array.from({ length: 3 * n }, (_, i) => (i % (n - 1) === n - 2 ? { ...busy(200), meanElu: 0.3 } : busy(1000)));
    assert.deepEqual(run(new ScalePolicy(), dip), []);
  });

  it('with less than a whole core free, tries another front end only for heavy responses', () => {
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    // Loop time per response = utilisation × front ends × period / responses: 0.8 × 500 / 4000 = 0.1 ms.
    const light = (): Period => ({ ...busy(4000), meanElu: 0.8, idleCores: 0.6 });
    assert.deepEqual(run(new ScalePolicy(undefined, false), Array.from({ length: 4 * n }, light)), [], 'small responses, part of a core free');
    // 0.8 × 500 / 800 = 0.5 ms per response: tried.
    assert.deepEqual(run(new ScalePolicy(undefined, false), Array.from({ length: n }, () => ({ ...light(), served: 800 }))), [[n - 1, 'add']]);
    // A whole core free: tried whatever the response size.
    assert.deepEqual(run(new ScalePolicy(undefined, false), Array.from({ length: n }, () => ({ ...light(), idleCores: 1.2 }))), [[n - 1, 'add']]);
    // The mean over the streak decides: one heavy period among light ones is not enough.
    const mixed = (i: number): Period => (i % n === 0 ? { ...light(), served: 400 } : light());
    assert.deepEqual(run(new ScalePolicy(undefined, false), Array.from({ length: 4 * n }, (_, i) => mixed(i))), []);
  });

  it('judges a trial against the busy periods before it, not the idle ones before the burst', () => {
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const trial = TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS;
    const d = run(new ScalePolicy(), [
      ...Array.from({ length: 20 }, () => ({ ...idle(1), served: 0 })),
      ...Array.from({ length: n }, () => busy(1000)),
      ...Array.from({ length: trial }, () => busy(1050, 2)), // +5 % over the busy rate: does not pay
    ]);
    assert.deepEqual(d, [
      [20 + n - 1, 'add'],
      [20 + n - 1 + trial, 'pause'],
    ]);
  });

  it('forgets the backoff of failed trials once the server has been idle', () => {
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const trial = TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS;
    const p = new ScalePolicy(undefined, false);
    const d = run(p, [
      ...Array.from({ length: n }, () => busy(1000)),
      ...Array.from({ length: trial }, () => busy(1000, 2)), // does not pay: kept (no migration), backoff starts
      ...Array.from({ length: IDLE_PERIODS }, () => idle(2)), // idle: paused, backoff forgotten
      ...Array.from({ length: n }, () => busy(1000)), // the next burst is tried at once
    ]);
    assert.deepEqual(d, [
      [n - 1, 'add'],
      [n + trial + IDLE_PERIODS - 1, 'pause'],
      [n + trial + IDLE_PERIODS + n - 1, 'add'],
    ]);
    // Without the idle spell the same burst waits out the backoff.
    const q = new ScalePolicy(undefined, false);
    const e = run(q, [...Array.from({ length: n }, () => busy(1000)), ...Array.from({ length: trial + n }, () => busy(1000, 2)), ...Array.from({ length: 2 * n }, () => busy(1000, 1))]);
    assert.deepEqual(e, [[n - 1, 'add']]);
  });

  it('pauses extra front ends once idle, down to the minimum', () => {
    const p = new ScalePolicy();
    const d = run(p, Array.from({ length: IDLE_PERIODS }, () => idle(2)));
    assert.deepEqual(d, [[IDLE_PERIODS - 1, 'pause']]);
    assert.deepEqual(run(new ScalePolicy(), Array.from({ length: 3 * IDLE_PERIODS }, () => ({ ...idle(2), min: 2 }))), [], '--min-threads holds');
    assert.deepEqual(run(new ScalePolicy(), Array.from({ length: 3 * IDLE_PERIODS }, () => idle(1))), [], 'the main thread always accepts');
  });

  it('keeps a front end the minimum asks for even when the trial does not pay', () => {
    const p = new ScalePolicy();
    const n = AUTOSCALE_SUSTAIN_PERIODS;
    const periods = [...Array.from({ length: n }, () => ({ ...busy(1000), max: 3 })), ...Array.from({ length: 10 }, () => ({ ...busy(1000, 2), min: 2, max: 3 }))];
    const d = run(p, periods);
    assert.deepEqual(d[0], [n - 1, 'add']);
    assert.ok(!d.some(([, x]) => x === 'pause'), 'never below the minimum');
  });
});
