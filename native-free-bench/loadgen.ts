/**
 * A bounded JPIP load generator (plain Node, node:http, 127.0.0.1 only). N concurrent simulated clients
 * each open a channel (cnew=http), request the windows of a scenario (lib/scenarios.ts) with a `len`
 * budget, repeating each until EOR 1 or 2, close the channel (cclose) and start a new session, until the
 * duration or the request count is reached. Reports responses/s, MB/s, latency percentiles, errors and,
 * when given the server's PID, its RSS and CPU time.
 *
 * Usage: node --import tsx native-free-bench/loadgen.ts --url http://127.0.0.1:8090 --scenario movie
 *          [--clients 8] [--duration 20 | --requests 2000] [--len 2097152] [--pid N] [--seed 1] [--json]
 *          [--frames 60 --session-frames 30 --fpr 1] [--windows 16 --side 256] [--target NAME]
 */
import { checkLocalUrl, Connection, parseCnew, query, type Exchange } from './lib/http-client.js';
import { ProcSampler, type ProcSummary } from './lib/proc.js';
import { planSession, prng, SCENARIOS, type ScenarioName, type ScenarioOptions } from './lib/scenarios.js';
import { fmt, percentile } from './lib/stats.js';
import { cliArgs } from './lib/cli.js';

/** Load parameters. */
export interface LoadOptions extends ScenarioOptions {
  url: string;
  clients: number;
  /** Stop issuing requests after this many seconds … */
  durationS?: number;
  /** … or after this many data requests (whichever is given; one of them is required). */
  requests?: number;
  /** `len` of every window request. */
  len: number;
  /** `len` of the channel-opening request (JHelioviewer sends 512). */
  openLen?: number;
  seed?: number;
  /** Server PID to sample (RSS, CPU). */
  pid?: number;
  /** Give up on a window after this many rounds (a guard against a server that never says done). */
  maxRounds?: number;
}

/** One run's results. */
export interface LoadResult {
  scenario: string;
  clients: number;
  len: number;
  elapsedS: number;
  /** Data responses (channel opens and window requests), channel closes, sessions and windows completed. */
  responses: number;
  closes: number;
  sessions: number;
  windows: number;
  bytes: number;
  responsesPerS: number;
  mbPerS: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  errors: number;
  errorSamples: string[];
  /** Body bytes per window label, summed over completed windows, and how many windows each. */
  perWindow: Record<string, { count: number; bytes: number; rounds: number }>;
  /** Body bytes of the first completed session of client 0 (open + windows), per window label. */
  firstSession: Array<{ label: string; bytes: number; rounds: number }>;
  server?: ProcSummary;
  /** CPU seconds the load generator itself used. */
  loadgenCpuS: number;
}

class Stop extends Error {}

/** Runs the load and resolves with the results (never runs unbounded). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const base = checkLocalUrl(o.url);
  if (!(o.durationS && o.durationS > 0) && !(o.requests && o.requests > 0)) throw new Error('give --duration or --requests');
  const maxRounds = o.maxRounds ?? 2000;
  const latencies: number[] = [];
  const errors: string[] = [];
  const perWindow: LoadResult['perWindow'] = {};
  let firstSession: LoadResult['firstSession'] = [];
  let responses = 0;
  let closes = 0;
  let sessions = 0;
  let windows = 0;
  let bytes = 0;
  let issued = 0;
  let lastDone = 0;
  const sampler = o.pid ? new ProcSampler(o.pid) : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = o.durationS ? t0 + o.durationS * 1000 : Number.POSITIVE_INFINITY;
  const more = (): boolean => performance.now() < deadline && (o.requests === undefined || issued < o.requests);

  const data = async (conn: Connection, path: string): Promise<Exchange> => {
    if (!more()) throw new Stop();
    issued++;
    const ex = await conn.get(path, false);
    lastDone = performance.now();
    responses++;
    bytes += ex.bytes;
    latencies.push(ex.ms);
    if (ex.status !== 200) throw new Error(`HTTP ${ex.status} for ${path.slice(0, 120)}`);
    return ex;
  };

  const client = async (index: number): Promise<void> => {
    const rand = prng((o.seed ?? 1) * 1000 + index);
    const conn = new Connection(base);
    try {
      while (more()) {
        const plan = planSession(o, rand);
        const record: LoadResult['firstSession'] = [];
        let cid: string | undefined;
        let chan = 'jpip';
        try {
          const target = `/${plan.target.split('/').map(encodeURIComponent).join('/')}`;
          const opened = await data(conn, `${target}?${query({ cnew: 'http', type: 'jpp-stream', tid: 0, len: o.openLen ?? 512 })}`);
          const cnew = parseCnew(opened.headers['jpip-cnew']);
          if (!cnew) throw new Error('no JPIP-cnew in the reply to cnew=http');
          cid = cnew.cid;
          chan = cnew.path;
          record.push({ label: 'open', bytes: opened.bytes, rounds: 1 });
          for (const w of plan.windows) {
            let got = 0;
            let rounds = 0;
            for (;;) {
              const ex = await data(conn, `/${chan}?${query({ cid, ...w.fields, len: o.len })}`);
              got += ex.bytes;
              rounds++;
              if (ex.eor === 1 || ex.eor === 2) break;
              if (ex.eor !== 4 && ex.eor !== 7) throw new Error(`unexpected EOR ${ex.eor} for ${w.label}`);
              if (rounds >= maxRounds) throw new Error(`window ${w.label} not done after ${rounds} rounds`);
            }
            windows++;
            const pw = (perWindow[w.label] ??= { count: 0, bytes: 0, rounds: 0 });
            pw.count++;
            pw.bytes += got;
            pw.rounds += rounds;
            record.push({ label: w.label, bytes: got, rounds });
          }
          sessions++;
          if (index === 0 && firstSession.length === 0) firstSession = record;
        } catch (e) {
          if (!(e instanceof Stop)) {
            errors.push(e instanceof Error ? e.message : String(e));
            conn.reset();
            cid = undefined;
          }
        }
        if (cid !== undefined) {
          try {
            const ex = await conn.get(`/${chan}?${query({ cclose: cid, len: 0 })}`);
            closes++;
            if (ex.status !== 200) errors.push(`cclose: HTTP ${ex.status}`);
          } catch (e) {
            errors.push(`cclose: ${e instanceof Error ? e.message : String(e)}`);
          }
          conn.reset();
        }
      }
    } finally {
      conn.destroy();
    }
  };

  sampler?.start();
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  const server = sampler?.stop();
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = Math.max(1e-9, (lastDone - t0) / 1000);
  return {
    scenario: o.name,
    clients: o.clients,
    len: o.len,
    elapsedS,
    responses,
    closes,
    sessions,
    windows,
    bytes,
    responsesPerS: responses / elapsedS,
    mbPerS: bytes / 1e6 / elapsedS,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
      max: latencies.length ? latencies.reduce((m, v) => (v > m ? v : m), 0) : Number.NaN,
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    },
    errors: errors.length,
    errorSamples: [...new Set(errors)].slice(0, 5),
    perWindow,
    firstSession,
    server,
    loadgenCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

/** Default `len` per scenario: JHelioviewer's 2 MiB for movies, smaller budgets for browsing. */
export const DEFAULT_LEN: Record<ScenarioName, number> = { movie: 2097152, zoom: 131072, random: 32768, images: 100000, linked: 2097152, large: 2097152 };

export { cliArgs };

/** Load options from parsed CLI arguments. */
export function loadOptionsFrom(a: Map<string, string>, url: string): LoadOptions {
  const num = (k: string): number | undefined => (a.has(k) ? Number(a.get(k)) : undefined);
  const name = (a.get('scenario') ?? 'movie') as ScenarioName;
  if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name} (${SCENARIOS.join(', ')})`);
  return {
    url,
    name,
    clients: num('clients') ?? 8,
    durationS: num('duration'),
    requests: num('requests'),
    len: num('len') ?? DEFAULT_LEN[name],
    seed: num('seed'),
    pid: num('pid'),
    target: a.get('target'),
    frames: num('frames'),
    sessionFrames: num('session-frames'),
    framesPerRequest: num('fpr'),
    windowsPerSession: num('windows'),
    side: num('side'),
  };
}

/** A one-line human summary of a result. */
export function summaryLine(label: string, r: LoadResult): string {
  const mem = r.server ? ` rss peak ${fmt(r.server.rssPeakMiB)} MiB mean ${fmt(r.server.rssMeanMiB)} cpu ${fmt(r.server.cpuSeconds, 2)} s` : '';
  return (
    `${label} ${r.scenario} c=${r.clients} len=${r.len}: ${fmt(r.responsesPerS)} resp/s ${fmt(r.mbPerS, 2)} MB/s ` +
    `p50 ${fmt(r.latencyMs.p50, 2)} p95 ${fmt(r.latencyMs.p95, 2)} p99 ${fmt(r.latencyMs.p99, 2)} ms, ${r.responses} resp ` +
    `${r.windows} windows ${r.sessions} sessions in ${fmt(r.elapsedS, 2)} s, errors ${r.errors}${mem}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = cliArgs(process.argv.slice(2));
  const url = a.get('url');
  if (!url) throw new Error('--url http://127.0.0.1:PORT is required');
  const r = await runLoad(loadOptionsFrom(a, url));
  if (a.has('json')) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(summaryLine(url, r));
    if (r.errorSamples.length) console.log('errors:', r.errorSamples);
    console.log('first session bytes:', r.firstSession.map((w) => `${w.label}=${w.bytes}${w.rounds > 1 ? `/${w.rounds} rounds` : ''}`).join(' '));
  }
}
