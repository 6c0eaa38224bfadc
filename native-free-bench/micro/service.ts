/**
 * The JPIP engine in-process, without sockets: createHarness() (worker pool + JpipService) and
 * service.handle() per request. Measures one request at a time (latency) and K concurrent in-process
 * clients (throughput), for the movie frame request and the paper's zoom sequence, so the cost of the
 * engine + pool can be told apart from the HTTP front end.
 * Usage: node --import tsx native-free-bench/micro/service.ts --root /tmp/jpipd-bench/images [--threads 2]
 *          [--clients 4] [--seconds 5]
 */
import { createHarness } from '../../src/server/server.js';
import { collect, type IncomingRequest, type JpipService, type Reply } from '../../src/server/service.js';
import { cliArgs } from '../lib/cli.js';
import { planSession, prng, type ScenarioOptions } from '../lib/scenarios.js';
import { query } from '../lib/http-client.js';
import { fmt, percentile } from '../lib/stats.js';

const a = cliArgs(process.argv.slice(2));
const root = a.get('root') ?? '/tmp/jpipd-bench/images';
const threads = Number(a.get('threads') ?? 2);
const clients = Number(a.get('clients') ?? 4);
const seconds = Number(a.get('seconds') ?? 5);

const get = (path: string, q: string): IncomingRequest => ({ method: 'GET', path, query: q });

/** The EOR reason at the end of a response body. */
function eorOf(r: Reply): number | undefined {
  const b = r.body;
  return b.length >= 3 && b[b.length - 3] === 0 && b[b.length - 1] === 0 ? b[b.length - 2] : undefined;
}

/** One session of a scenario through service.handle(); returns [responses, bytes, latencies]. */
async function session(service: JpipService, o: ScenarioOptions, len: number, rand: () => number, lat: number[]): Promise<[number, number]> {
  const plan = planSession(o, rand);
  const timed = async (req: IncomingRequest): Promise<Reply> => {
    const t = process.hrtime.bigint();
    const r = await collect(service.handle(req));
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 200) throw new Error(`status ${r.status}: ${new TextDecoder().decode(r.body)}`);
    return r;
  };
  const opened = await timed(get(`/${plan.target}`, query({ cnew: 'http', type: 'jpp-stream', tid: 0, len: 512 })));
  const cnew = opened.headers.find(([k]) => k.toLowerCase() === 'jpip-cnew')?.[1] ?? '';
  const cid = /cid=([^,]+)/.exec(cnew)?.[1];
  if (!cid) throw new Error('no channel');
  let n = 1;
  let bytes = opened.body.length;
  for (const w of plan.windows) {
    for (let round = 0; round < 2000; round++) {
      const r = await timed(get('/jpip', query({ cid, ...w.fields, len })));
      n++;
      bytes += r.body.length;
      const e = eorOf(r);
      if (e === 1 || e === 2) break;
    }
  }
  await service.handle(get('/jpip', query({ cclose: cid, len: 0 })));
  return [n, bytes];
}

async function measure(service: JpipService, label: string, o: ScenarioOptions, len: number, k: number): Promise<string> {
  const lat: number[] = [];
  let responses = 0;
  let bytes = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: k }, async (_, i) => {
      const rand = prng(7 + i);
      while (performance.now() < end) {
        const [n, b] = await session(service, o, len, rand, lat);
        responses += n;
        bytes += b;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return `| ${label} | ${k} | ${fmt(responses / s)} | ${fmt(bytes / 1e6 / s, 1)} | ${fmt(percentile(lat, 0.5), 2)} | ${fmt(percentile(lat, 0.95), 2)} | ${fmt(percentile(lat, 0.99), 2)} |`;
}

const h = createHarness({ root, threads, cacheDir: null });
try {
  const movie: ScenarioOptions = { name: 'movie', frames: Number(a.get('frames') ?? 60) };
  const zoom: ScenarioOptions = { name: 'zoom' };
  const random: ScenarioOptions = { name: 'random' };
  // Warm the index and the workers.
  await session(h.service, movie, 2097152, prng(1), []);
  await session(h.service, zoom, 131072, prng(1), []);
  console.log(`# service.handle() in-process, ${threads} worker threads, ${seconds} s per row, node ${process.version}\n`);
  console.log('| scenario | in-process clients | responses/s | MB/s | p50 ms | p95 ms | p99 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const k of [1, clients]) {
    console.log(await measure(h.service, 'movie frame 1024² (len 2 MiB)', movie, 2097152, k));
    console.log(await measure(h.service, 'zoom sequence (len 128 KiB)', zoom, 131072, k));
    console.log(await measure(h.service, 'random 256² (len 32 KiB)', random, 32768, k));
  }
} finally {
  await h.close();
}
