/**
 * Index warm-up rate (issue 10, item 6): `jpipd index` (the built CLI, as an operator runs it) on a
 * folder of N frames, cold (empty cache folder) and warm (every cache file current: what a resumed
 * run skips), with 1..T pool threads. Frames are copies of one 4096² image (distinct paths, so
 * distinct cache files): the sample with PLT, and with --noplt a re-encoding without PLT, whose
 * packet headers `index` decodes once and keeps. Reports images/s and wall time.
 *
 * Usage: node --import tsx native-free-bench/index-rate.ts [--frames 1000] [--threads 1,2] [--noplt]
 *          [--work /tmp/jpipd-index-rate]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliArgs } from './lib/cli.js';
import { fmt } from './lib/stats.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const a = cliArgs(process.argv.slice(2));
const frames = Number(a.get('frames') ?? 1000);
const threadCounts = (a.get('threads') ?? '1,2').split(',').map(Number);
const noplt = a.has('noplt');
const work = resolve(a.get('work') ?? '/tmp/jpipd-index-rate');
const SAMPLE = join(REPO, 'samples/gray4096-rpcl-p128-l8.jp2');

mkdirSync(work, { recursive: true });
let source = SAMPLE;
if (noplt) {
  // The sample re-encoded with the same parameters but no PLT (opj_compress without -PLT).
  source = join(work, 'noplt.jp2');
  if (!existsSync(source)) {
    const pgm = join(work, 'sample.pgm');
    execFileSync('opj_decompress', ['-i', SAMPLE, '-o', pgm], { stdio: 'ignore' });
    const P128 = Array.from({ length: 8 }, () => '[128,128]').join(',');
    execFileSync('opj_compress', ['-i', pgm, '-o', source, '-n', '8', '-p', 'RPCL', '-c', P128, '-r', '1024,512,256,128,64,32,16,10'], { stdio: 'ignore' });
  }
}
const folder = join(work, noplt ? `frames-noplt-${frames}` : `frames-${frames}`);
if (!existsSync(folder)) {
  mkdirSync(folder);
  for (let i = 0; i < frames; i++) copyFileSync(source, join(folder, `f${String(i).padStart(5, '0')}.jp2`));
}

interface Report {
  images: number;
  indexed: number;
  cached: number;
  failed: number;
  withoutPlt: number;
  seconds: number;
  perSecond: number;
}

function index(cache: string, threads: number): Report {
  const out = execFileSync(process.execPath, [join(REPO, 'bin/jpipd.js'), 'index', folder, '--cache-dir', cache, '--threads', String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.trim().split('\n').pop() as string) as Report;
}

console.log(`# jpipd index on ${frames} copies of a 4096² frame${noplt ? ' without PLT' : ' with PLT'}, node ${process.version}\n`);
console.log('| threads | run | images | indexed | read back | without PLT | seconds | images/s |');
console.log('|---|---|---|---|---|---|---|---|');
for (const t of threadCounts) {
  const cache = join(work, `cache-${t}`);
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { mode: 0o700 });
  for (const run of ['cold', 'warm']) {
    const r = index(cache, t);
    console.log(`| ${t} | ${run} | ${r.images} | ${r.indexed} | ${r.cached} | ${r.withoutPlt} | ${fmt(r.seconds, 2)} | ${fmt(r.perSecond)} |`);
  }
  rmSync(cache, { recursive: true, force: true });
}
