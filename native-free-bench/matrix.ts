/**
 * Runs one scenario against several already-running servers, alternating them run by run (A B A B …), with
 * an unmeasured warm-up per server first, and prints a markdown table: median and (min–max) over the runs.
 * It starts and stops no server; pass each as name=URL@PID (the PID is sampled for RSS and CPU).
 *
 * Usage: node --import tsx native-free-bench/matrix.ts --server jpipd=http://127.0.0.1:18190@1234
 *          --server esajpip=http://127.0.0.1:18191@5678 --scenario movie --runs 3 --duration 20 --clients 8
 *          [--warmup 3] [--out results.json] [loadgen options: --len --fpr --session-frames --windows …]
 */
import { writeFileSync } from 'node:fs';
import { cliArgs, loadOptionsFrom, runLoad, summaryLine, type LoadResult } from './loadgen.js';
import { checkLocalUrl } from './lib/http-client.js';
import { spread } from './lib/stats.js';

interface ServerRef {
  name: string;
  url: string;
  pid: number | undefined;
}

function parseServers(argv: string[]): ServerRef[] {
  const out: ServerRef[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--server') continue;
    const m = /^([\w.-]+)=(http:\/\/[^@]+)(?:@(\d+))?$/.exec(argv[i + 1] ?? '');
    if (!m) throw new Error(`--server wants name=http://127.0.0.1:PORT@PID, got ${argv[i + 1]}`);
    checkLocalUrl(m[2]);
    out.push({ name: m[1], url: m[2], pid: m[3] ? Number(m[3]) : undefined });
  }
  if (out.length === 0) throw new Error('give at least one --server');
  return out;
}

const argv = process.argv.slice(2);
const servers = parseServers(argv);
const rest: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--server') i++;
  else rest.push(argv[i]);
}
const a = cliArgs(rest);
const runs = Number(a.get('runs') ?? 3);
const warmup = Number(a.get('warmup') ?? 3);
const results = new Map<string, LoadResult[]>(servers.map((s) => [s.name, []]));

for (const s of servers) {
  const o = loadOptionsFrom(a, s.url);
  await runLoad({ ...o, durationS: warmup, requests: undefined, pid: undefined, seed: 999 });
}
for (let run = 0; run < runs; run++) {
  const order = run % 2 === 0 ? servers : [...servers].reverse();
  for (const s of order) {
    const r = await runLoad({ ...loadOptionsFrom(a, s.url), pid: s.pid, seed: Number(a.get('seed') ?? 1) + run });
    results.get(s.name)?.push(r);
    console.error(summaryLine(`[run ${run + 1}] ${s.name}`, r));
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const col = (f: (r: LoadResult) => number, d = 1) => (name: string): string => spread((results.get(name) ?? []).map(f), d);
const rows: Array<[string, (name: string) => string]> = [
  ['responses/s', col((r) => r.responsesPerS)],
  ['MB/s', col((r) => r.mbPerS, 2)],
  ['windows/s', col((r) => r.windows / r.elapsedS)],
  ['latency p50 ms', col((r) => r.latencyMs.p50, 2)],
  ['latency p95 ms', col((r) => r.latencyMs.p95, 2)],
  ['latency p99 ms', col((r) => r.latencyMs.p99, 2)],
  ['server RSS peak MiB', col((r) => r.server?.rssPeakMiB ?? Number.NaN)],
  ['server RSS mean MiB', col((r) => r.server?.rssMeanMiB ?? Number.NaN)],
  ['server CPU s per 1000 responses', col((r) => ((r.server?.cpuSeconds ?? Number.NaN) * 1000) / Math.max(1, r.responses), 2)],
  ['load generator CPU s', col((r) => r.loadgenCpuS, 2)],
  ['errors (sum over runs)', (n) => String((results.get(n) ?? []).reduce((s, r) => s + r.errors, 0))],
];
const o0 = loadOptionsFrom(a, servers[0].url);
const lines = [
  `Scenario ${o0.name}, ${o0.clients} clients, len=${o0.len}, ${o0.durationS ? `${o0.durationS} s` : `${o0.requests} requests`} per run, ${runs} runs per server (alternating), median (min–max):`,
  '',
  `| metric | ${servers.map((s) => s.name).join(' | ')} |`,
  `|---|${servers.map(() => '---').join('|')}|`,
  ...rows.map(([label, f]) => `| ${label} | ${servers.map((s) => f(s.name)).join(' | ')} |`),
];
console.log(lines.join('\n'));
const first = servers.map((s) => [s.name, results.get(s.name)?.[0]?.firstSession ?? []] as const);
console.log(`\nBody bytes of one fresh session (client 0, first run): ${first.map(([n, f]) => `${n}: ${f.map((w) => `${w.label}=${w.bytes}`).join(' ')}`).join('; ')}`);
for (const [n, rs] of results) for (const r of rs) if (r.errorSamples.length) console.log(`${n} errors: ${r.errorSamples.join(' | ')}`);
if (a.has('out')) writeFileSync(a.get('out') as string, JSON.stringify(Object.fromEntries(results), null, 2));
