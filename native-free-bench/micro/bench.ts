/**
 * A tiny micro-benchmark runner: calibrates a batch size to ~20 ms, runs `rounds` timed batches after a
 * warm-up, and reports the median (and best) nanoseconds per operation. A result sink keeps V8 from
 * removing the work.
 */
import { median } from '../lib/stats.js';

/** One benchmark's result. */
export interface MicroResult {
  name: string;
  nsPerOp: number;
  bestNsPerOp: number;
  opsPerS: number;
  batch: number;
  rounds: number;
}

let sink = 0;

/** Consumes a value so the benchmarked work is not dead code. */
export function consume(v: unknown): void {
  sink = (sink + (typeof v === 'number' ? v : v === undefined || v === null ? 1 : 2)) | 0;
}

/** Times `fn` (synchronous); returns ns/op statistics. */
export function bench(name: string, fn: () => unknown, rounds = 15): MicroResult {
  let batch = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) consume(fn());
    const ns = Number(process.hrtime.bigint() - t);
    if (ns > 20e6 || batch >= 1 << 24) break;
    batch *= ns < 2e6 ? 8 : 2;
  }
  const per: number[] = [];
  for (let r = 0; r < rounds + 3; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) consume(fn());
    if (r >= 3) per.push(Number(process.hrtime.bigint() - t) / batch);
  }
  const ns = median(per);
  return { name, nsPerOp: ns, bestNsPerOp: Math.min(...per), opsPerS: 1e9 / ns, batch, rounds };
}

/** Times an asynchronous `fn` run `count` times sequentially after `warm` unmeasured runs. */
export async function benchAsync(name: string, fn: () => Promise<unknown>, count: number, warm = 20): Promise<MicroResult> {
  for (let i = 0; i < warm; i++) consume(await fn());
  const per: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    consume(await fn());
    per.push(Number(process.hrtime.bigint() - t));
  }
  const ns = median(per);
  return { name, nsPerOp: ns, bestNsPerOp: Math.min(...per), opsPerS: 1e9 / ns, batch: 1, rounds: count };
}

/** Prints results as a markdown table. */
export function printTable(results: MicroResult[]): void {
  console.log('| benchmark | median per op | best per op | ops/s |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    const unit = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
    console.log(`| ${r.name} | ${unit(r.nsPerOp)} | ${unit(r.bestNsPerOp)} | ${Math.round(r.opsPerS).toLocaleString('en-US')} |`);
  }
  if (sink === 0x7fffffff) console.log('');
}
