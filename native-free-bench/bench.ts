/**
 * `npm run bench`: the whole performance comparison in one command (127.0.0.1 only).
 *
 *   1. makes the image folder if it is missing (make-images.ts; needs opj_compress);
 *   2. the in-process engine benchmark (micro/engine.ts: one thread, no sockets) — always;
 *   3. with --esajpip BINARY (and/or --baseline DIR, an older jpipd checkout with its dist built):
 *      starts the servers, runs every scenario at each client count, alternating servers run by run
 *      (lib/matrix.ts), then jpipd with 1 and with 2 front-end threads (which thread is hot), then
 *      memory: idle RSS of fresh servers, 40 clients that stop reading whole-image responses, and
 *      10,000 idle channels; stops every server it started (by PID) and writes a markdown report.
 *   Without a server to compare with, step 3 runs jpipd alone unless --engine-only is given.
 *
 * esajpip is never built here: pass the path of a binary built outside the repository. It reads
 * server.cfg from its working directory, so a temporary run folder with one is made for it; only one
 * esajpip can run per machine (fixed /tmp paths), so stop any other first.
 *
 * Usage: npm run bench -- [--esajpip /path/to/esajpip] [--baseline /path/to/old/jpipd] [--engine-only]
 *          [--images /tmp/jpipd-bench/images] [--clients 16,100] [--scenarios movie,movie15,zoom,random,images,linked,large]
 *          [--runs 3] [--duration 10] [--warmup 3] [--threads 2] [--engine-runs 3] [--engine-seconds 4]
 *          [--out /tmp/jpipd-bench/report.md] [--skip-scaling] [--skip-memory]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cliArgs } from './lib/cli.js';
import { DEFAULT_LEN, runLoad, summaryLine, type LoadOptions, type LoadResult } from './loadgen.js';
import { cpuPer1000, matrixTable, runMatrix, type ServerRef } from './lib/matrix.js';
import { processTree, threadCpuSeconds, threadShares } from './lib/proc.js';
import { fmt, median } from './lib/stats.js';
import { idleChannels, stalledClients, treeRssMiB, type ChannelsResult, type StalledResult } from './memory.js';
import type { EngineResult } from './micro/engine.js';

/** Thrown to end the run early (--engine-only); the report is still written. */
class Finished extends Error {}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const a = cliArgs(process.argv.slice(2));
const images = resolve(a.get('images') ?? '/tmp/jpipd-bench/images');
const runs = Number(a.get('runs') ?? 3);
const durationS = Number(a.get('duration') ?? 10);
const warmupS = Number(a.get('warmup') ?? 3);
const threads = Number(a.get('threads') ?? 2);
const clientCounts = (a.get('clients') ?? '16,100').split(',').map(Number);
const outFile = resolve(a.get('out') ?? join(dirname(images), `report-${new Date().toISOString().replace(/[:.]/g, '-')}.md`));
const work = mkdtempSync(join(tmpdir(), 'jpipd-bench-'));
const report: string[] = [];
const json: Record<string, unknown> = {};
const say = (s = ''): void => {
  report.push(s);
  console.log(s);
};

/** The scenarios of docs/benchmarks.md by name: load options besides URL, clients and timing. */
const SCENARIO_SPECS: Record<string, { label: string; load: Partial<LoadOptions> & Pick<LoadOptions, 'name'> }> = {
  movie: { label: 'movie: 1024² frame of a 60-frame 4096² JPX per request, len 2 MiB', load: { name: 'movie' } },
  movie15: { label: 'movie, 15 frames per request (context=jpxl<a-b>), len 2 MiB', load: { name: 'movie', framesPerRequest: 15 } },
  zoom: { label: "zoom: the paper's three windows of a 4096² JP2, len 128 KiB", load: { name: 'zoom' } },
  random: { label: 'random 256² windows at 0–3 discard levels, len 32 KiB', load: { name: 'random' } },
  images: { label: '1024² views of five different 4096² images, one channel per view, len 100000', load: { name: 'images' } },
  linked: { label: 'linked 5-frame JPX movie (frames in separate JP2 files), 1024² frames, len 2 MiB', load: { name: 'linked' } },
  large: { label: 'whole 4096² frames (~1.7 MB responses), len 2 MiB', load: { name: 'large' } },
};
const scenarioNames = (a.get('scenarios') ?? Object.keys(SCENARIO_SPECS).join(',')).split(',');
for (const n of scenarioNames) if (!SCENARIO_SPECS[n]) throw new Error(`unknown scenario ${n} (${Object.keys(SCENARIO_SPECS).join(', ')})`);

// ---------------------------------------------------------------------------------------------
// Processes: every server started here is remembered and stopped by its PID, nothing else.

interface Started {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}
const started = new Set<Started>();

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(false);
    });
    s.once('error', () => res(true));
  });
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    if (!(await portFree(port))) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within 30 s`);
}

async function stopChild(child: ChildProcess, pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const exited = child.exitCode !== null ? Promise.resolve() : new Promise<void>((res) => child.once('exit', () => res()));
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.pid) child.kill('SIGKILL');
}

/** Starts jpipd (this checkout, or `dir`) on `port`. */
async function startJpipd(name: string, port: number, opts: { dir?: string; threads: number; minThreads?: number }): Promise<Started> {
  const dir = opts.dir ?? REPO;
  if (!(await portFree(port))) throw new Error(`port ${port} is in use`);
  const bin = join(dir, 'bin', 'jpipd.js');
  const args = [bin, 'serve', '--root', images, '--host', '127.0.0.1', '--port', String(port), '--threads', String(opts.threads), '--cache-dir', join(work, `${name}-cache`)];
  // Default log level (one JSON line per request, to /dev/null): esajpip logs to stdout as well.
  if (!opts.dir) args.push('--min-threads', String(opts.minThreads ?? 1));
  // Every simulated client shares 127.0.0.1: the per-client session limit must not apply to them
  // (the idle-channels memory scenario holds 10,000 sessions from one address). Older builds lack it.
  if (!opts.dir) args.push('--max-sessions-per-client', '1000000');
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  await waitForPort(port, child, name);
  const s: Started = { name, url: `http://127.0.0.1:${port}`, pid: child.pid as number, child, stop: () => stopChild(child, [child.pid as number]) };
  started.add(s);
  return s;
}

/** Starts esajpip from a temporary run folder holding its server.cfg (it reads ./server.cfg). */
async function startEsajpip(binary: string, port: number): Promise<Started> {
  if (!existsSync(binary)) throw new Error(`no esajpip binary at ${binary}`);
  if (!(await portFree(port))) throw new Error(`port ${port} is in use`);
  const run = join(work, 'esajpip-run');
  mkdirSync(join(run, 'log'), { recursive: true });
  writeFileSync(
    join(run, 'server.cfg'),
    [
      `listen_at = { port = ${port}; address = "127.0.0.1"; };`,
      `folders = { images = "${images}/"; logging = "${run}/log/"; cache = "${run}/cache/"; };`,
      'connections = { time_out = 60; max_number = 500; };',
      'general = { logging = 0; log_requests = 0; cache_max_time = -1; max_chunk_size = 64000; };',
      '',
    ].join('\n'),
  );
  const child = spawn(resolve(binary), ['start'], { cwd: run, stdio: 'ignore' });
  await waitForPort(port, child, 'esajpip');
  const pid = child.pid as number;
  // The father forks one child that serves the connections: stop the father first (it would fork a new one).
  const s: Started = { name: 'esajpip', url: `http://127.0.0.1:${port}`, pid, child, stop: () => stopChild(child, processTree(pid)) };
  started.add(s);
  return s;
}

async function stop(s: Started): Promise<void> {
  await s.stop();
  started.delete(s);
}

async function stopAll(): Promise<void> {
  for (const s of [...started]) await stop(s);
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

// ---------------------------------------------------------------------------------------------

function ensureImages(): void {
  const needed = ['gray4096.jp2', 'movie.jpx', 'img0.jp2', 'img4.jp2', 'linked5.jpx'];
  if (needed.every((f) => existsSync(join(images, f)))) return;
  console.error(`making the benchmark images in ${images} (a few minutes; needs opj_compress) …`);
  execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'native-free-bench', 'make-images.ts'), '--out', images, '--frames', '60', '--distinct', '4'], { stdio: 'inherit', cwd: REPO });
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let os = '';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* not Linux */
  }
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    commit = 'unknown';
  }
  return `${cpu}, ${cpus().length} cores, ${os}, Node ${process.version}, jpipd ${commit}`;
}

/**
 * Runs micro/engine.ts bundled by esbuild, as the shipped server runs (bin/jpipd.js loads an esbuild
 * bundle): under tsx every function also pays for tsx's name-keeping helper. The bundle goes to
 * dist/bench so that its external packages resolve from the repository's node_modules, with the pool
 * worker as a second entry next to it (the pool finds its worker file beside its own module).
 */
function engineBench(): EngineResult[] {
  const out = join(work, 'engine.json');
  const dir = join(REPO, 'dist', 'bench');
  const esbuild = join(REPO, 'node_modules', '.bin', 'esbuild');
  execFileSync(
    esbuild,
    [join(REPO, 'native-free-bench', 'micro', 'engine.ts'), join(REPO, 'src', 'pool', 'worker.ts'), '--bundle', '--splitting', '--format=esm', '--platform=node', '--target=node20', `--outdir=${dir}`, '--entry-names=[name]', '--packages=external', '--log-level=warning'],
    { stdio: 'inherit', cwd: REPO },
  );
  // Several runs (this VM's speed drifts by ±15 % between runs): the median per scenario is reported.
  const all: EngineResult[][] = [];
  for (let i = 0; i < Number(a.get('engine-runs') ?? 3); i++) {
    execFileSync(process.execPath, [join(dir, 'engine.js'), '--root', images, '--seconds', String(a.get('engine-seconds') ?? 4), '--json', out], { stdio: ['ignore', 'inherit', 'inherit'], cwd: REPO });
    all.push(JSON.parse(readFileSync(out, 'utf8')) as EngineResult[]);
  }
  return all[0].map((first, k) => {
    const runsOf = all.map((r) => r[k]);
    const mid = [...runsOf].sort((x, y) => x.cpuUsPerResponse - y.cpuUsPerResponse)[runsOf.length >> 1];
    return { ...mid, label: (first as EngineResult & { label?: string }).label, cpuUsRange: [Math.min(...runsOf.map((r) => r.cpuUsPerResponse)), Math.max(...runsOf.map((r) => r.cpuUsPerResponse))] };
  });
}

/** Hot threads during one load run: CPU share of each busy thread of the process. */
async function threadsDuring(pid: number, load: LoadOptions): Promise<{ result: LoadResult; threads: Array<{ tid: number; main: boolean; share: number }> }> {
  const before = threadCpuSeconds(pid);
  const t0 = performance.now();
  const result = await runLoad(load);
  const s = (performance.now() - t0) / 1000;
  return { result, threads: threadShares(pid, before, threadCpuSeconds(pid), s) };
}

// ---------------------------------------------------------------------------------------------

try {
  ensureImages();
  say(`# jpipd benchmark report (${new Date().toISOString()})`);
  say();
  say(`Machine: ${machine()}. Images: ${images}. Everything on 127.0.0.1.`);
  say();

  // 1. Engine in-process.
  const engine = engineBench();
  json.engine = engine;
  say(`## Engine in-process, one thread, no sockets (micro/engine.ts bundled; median of ${a.get('engine-runs') ?? 3} runs by CPU per response)`);
  say();
  say('| scenario | responses/s | CPU µs per response (min–max) | mean response | MB/s of JPP | ns per packet | ns per message |');
  say('|---|---|---|---|---|---|---|');
  for (const r of engine as Array<EngineResult & { label?: string; cpuUsRange?: number[] }>) {
    say(`| ${r.label ?? r.scenario} | ${fmt(r.responsesPerS)} | ${fmt(r.cpuUsPerResponse, 1)} (${fmt(r.cpuUsRange?.[0] ?? Number.NaN, 1)}–${fmt(r.cpuUsRange?.[1] ?? Number.NaN, 1)}) | ${fmt(r.meanBytes / 1000, 1)} kB | ${fmt(r.mbPerS)} | ${fmt(r.nsPerPacket)} | ${fmt(r.nsPerMessage)} |`);
  }
  say();

  const esaBinary = a.get('esajpip');
  const baselineDir = a.get('baseline');
  if (a.has('engine-only')) throw new Finished();

  // 2. Side by side.
  const servers: Started[] = [await startJpipd('jpipd', 18190, { threads })];
  if (esaBinary) servers.push(await startEsajpip(esaBinary, 18191));
  if (baselineDir) servers.push(await startJpipd('jpipd-before', 18192, { dir: resolve(baselineDir), threads }));
  const refs: ServerRef[] = servers.map((s) => ({ name: s.name, url: s.url, pid: s.pid }));
  say(`## HTTP, side by side (${runs} runs of ${durationS} s per server, alternating, after a ${warmupS} s warm-up each; median (min–max))`);
  say();
  const matrix: Record<string, Record<string, LoadResult[]>> = {};
  for (const clients of clientCounts) {
    for (const name of scenarioNames) {
      const spec = SCENARIO_SPECS[name];
      const load = { ...spec.load, clients, len: spec.load.len ?? DEFAULT_LEN[spec.load.name], durationS };
      const results = await runMatrix(refs, { load, runs, warmupS, progress: (l) => console.error(l) });
      matrix[`${name}@${clients}`] = Object.fromEntries(results);
      say(`### ${spec.label} — ${clients} clients`);
      say();
      say(matrixTable(refs, results));
      say();
      for (const [n, rs] of results) for (const r of rs) if (r.errorSamples.length) say(`${n} errors: ${r.errorSamples.slice(0, 3).join(' | ')}`);
    }
  }
  json.matrix = matrix;

  // Targets against esajpip, per cell.
  if (esaBinary) {
    say('### jpipd against esajpip, per scenario (medians)');
    say();
    say('| scenario | clients | responses/s ratio | CPU per 1000 (jpipd / esajpip, s) | p99 ms (jpipd / esajpip) | errors (jpipd / esajpip) |');
    say('|---|---|---|---|---|---|');
    for (const [key, byServer] of Object.entries(matrix)) {
      const [name, clients] = key.split('@');
      const j = byServer.jpipd ?? [];
      const e = byServer.esajpip ?? [];
      const m = (rs: LoadResult[], f: (r: LoadResult) => number): number => median(rs.map(f));
      const errs = (rs: LoadResult[]): number => rs.reduce((s, r) => s + r.errors, 0);
      say(
        `| ${name} | ${clients} | ${fmt(m(j, (r) => r.responsesPerS) / m(e, (r) => r.responsesPerS), 2)}× | ${fmt(m(j, cpuPer1000), 3)} / ${fmt(m(e, cpuPer1000), 3)} | ` +
          `${fmt(m(j, (r) => r.latencyMs.p99), 1)} / ${fmt(m(e, (r) => r.latencyMs.p99), 1)} | ${errs(j)} / ${errs(e)} |`,
      );
    }
    say();
  }
  for (const s of servers) await stop(s);

  // 3. One thread against two: throughput and the hot thread.
  if (!a.has('skip-scaling')) {
    say(`## Front-end threads: 1 against ${threads} (100 clients, ${durationS} s, one run each, alternating)`);
    say();
    say('| scenario | threads | responses/s | server CPU s per 1000 | p99 ms | busiest threads (CPU share of one core; M = main thread) |');
    say('|---|---|---|---|---|---|');
    const rows: unknown[] = [];
    for (const name of ['movie', 'images']) {
      for (const t of [1, threads]) {
        const s = await startJpipd(`jpipd-t${t}`, 18190, { threads: t, minThreads: t });
        const spec = SCENARIO_SPECS[name];
        const load = { ...spec.load, url: s.url, pid: s.pid, clients: 100, len: DEFAULT_LEN[spec.load.name], durationS } as LoadOptions;
        await runLoad({ ...load, durationS: warmupS, pid: undefined });
        const { result, threads: hot } = await threadsDuring(s.pid, load);
        rows.push({ name, threads: t, result, hot });
        console.error(summaryLine(`[threads ${t}]`, result));
        say(`| ${name} | ${t} | ${fmt(result.responsesPerS)} | ${fmt(cpuPer1000(result), 3)} | ${fmt(result.latencyMs.p99, 1)} | ${hot.slice(0, 5).map((h) => `${h.main ? 'M' : h.tid} ${fmt(h.share * 100, 0)} %`).join(', ')} |`);
        await stop(s);
      }
    }
    json.scaling = rows;
    say();
  }

  // 4. Memory.
  if (!a.has('skip-memory')) {
    say('## Memory');
    say();
    const mem: Record<string, unknown> = {};
    const jp = await startJpipd('jpipd-mem', 18190, { threads });
    await sleep(15_000);
    const idleJ = treeRssMiB(jp.pid);
    let idleE = Number.NaN;
    let stalledE: StalledResult | undefined;
    if (esaBinary) {
      const e = await startEsajpip(esaBinary, 18191);
      await sleep(5_000);
      idleE = treeRssMiB(e.pid);
      stalledE = await stalledClients(e.url, e.pid, 40);
      await stop(e);
    }
    // Warm the images the stalled clients ask for (their indexes), then measure.
    await runLoad({ url: jp.url, name: 'images', clients: 4, len: 100000, durationS: 2 });
    const stalledJ = await stalledClients(jp.url, jp.pid, 40);
    await stop(jp);
    const jc = await startJpipd('jpipd-channels', 18190, { threads });
    await runLoad({ url: jc.url, name: 'zoom', clients: 1, len: 1000, requests: 3 });
    const channels: ChannelsResult = await idleChannels(jc.url, jc.pid, 10_000);
    await stop(jc);
    Object.assign(mem, { idleJpipdMiB: idleJ, idleEsajpipMiB: idleE, stalledJpipd: stalledJ, stalledEsajpip: stalledE, channels });
    json.memory = mem;
    say('| measure | jpipd | esajpip |');
    say('|---|---|---|');
    say(`| idle RSS of a fresh server (MiB, after 15 s / 5 s) | ${fmt(idleJ)} | ${fmt(idleE)} |`);
    say(`| 40 clients ask for a whole 4096² image and stop reading: RSS added (MiB) | ${fmt(stalledJ.addedMiB)} (${fmt(stalledJ.rssBeforeMiB)} → ${fmt(stalledJ.rssPeakMiB)}) | ${stalledE ? `${fmt(stalledE.addedMiB)} (${fmt(stalledE.rssBeforeMiB)} → ${fmt(stalledE.rssPeakMiB)})` : '-'} |`);
    say(`| … server still answers afterwards | ${stalledJ.healthyAfter ? 'yes' : 'NO'} | ${stalledE ? (stalledE.healthyAfter ? 'yes' : 'NO') : '-'} |`);
    say(`| 10,000 idle channels (one session each): RSS before → after (MiB) | ${fmt(channels.rssBeforeMiB)} → ${fmt(channels.rssAfterMiB)} (${channels.opened} opened in ${fmt(channels.seconds, 1)} s) | - |`);
    say(`| … memory per channel | ${fmt(channels.bytesPerChannel / 1024, 1)} KiB | - |`);
    say();
    const peaks = Object.entries(json.matrix as Record<string, Record<string, LoadResult[]>>).map(([k, v]) => [k, Math.max(...(v.jpipd ?? []).map((r) => r.server?.rssPeakMiB ?? 0))] as const);
    if (peaks.length) say(`Peak RSS of jpipd over all HTTP runs: ${fmt(Math.max(...peaks.map(([, p]) => p)))} MiB (${peaks.map(([k, p]) => `${k} ${fmt(p)}`).join(', ')}).`);
    say();
  }
} catch (e) {
  if (!(e instanceof Finished)) {
    await stopAll();
    throw e;
  }
} finally {
  await stopAll();
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, report.join('\n') + '\n');
  writeFileSync(outFile.replace(/\.md$/, '') + '.json', JSON.stringify(json, null, 2));
  rmSync(work, { recursive: true, force: true });
  console.error(`report: ${outFile}`);
}

