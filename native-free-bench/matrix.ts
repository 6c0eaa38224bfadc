/**
 * Runs one scenario against several already-running servers, alternating them run by run (A B A B …), with
 * an unmeasured warm-up per server first, and prints a markdown table: median and (min–max) over the runs.
 * It starts and stops no server; pass each as name=URL@PID (the PID is sampled for RSS and CPU).
 * bench.ts runs the whole comparison, starting and stopping the servers itself.
 *
 * Usage: node --import tsx native-free-bench/matrix.ts --server jpipd=http://127.0.0.1:18190@1234
 *          --server esajpip=http://127.0.0.1:18191@5678 --scenario movie --runs 3 --duration 20 --clients 8
 *          [--warmup 3] [--out results.json] [loadgen options: --len --fpr --session-frames --windows …]
 */
import { writeFileSync } from 'node:fs';
import { loadOptionsFrom } from './loadgen.js';
import { cliArgs } from './lib/cli.js';
import { checkLocalUrl } from './lib/http-client.js';
import { matrixTable, runMatrix, type ServerRef } from './lib/matrix.js';

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
const { url: _url, pid: _pid, ...load } = loadOptionsFrom(a, servers[0].url);
const runs = Number(a.get('runs') ?? 3);
const results = await runMatrix(servers, { load, runs, warmupS: Number(a.get('warmup') ?? 3), progress: (l) => console.error(l) });
console.log(`Scenario ${load.name}, ${load.clients} clients, len=${load.len}, ${load.durationS ? `${load.durationS} s` : `${load.requests} requests`} per run, ${runs} runs per server (alternating), median (min–max):\n`);
console.log(matrixTable(servers, results));
const first = servers.map((s) => [s.name, results.get(s.name)?.[0]?.firstSession ?? []] as const);
console.log(`\nBody bytes of one fresh session (client 0, first run): ${first.map(([n, f]) => `${n}: ${f.map((w) => `${w.label}=${w.bytes}`).join(' ')}`).join('; ')}`);
for (const [n, rs] of results) for (const r of rs) if (r.errorSamples.length) console.log(`${n} errors: ${r.errorSamples.join(' | ')}`);
if (a.has('out')) writeFileSync(a.get('out') as string, JSON.stringify(Object.fromEntries(results), null, 2));
