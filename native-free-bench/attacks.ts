/**
 * Resource attacks of the hardening issue, one at a time, against a running jpipd while honest clients
 * load it (random 256² windows, 127.0.0.1 only): what the attack achieves, the server's RSS, and the
 * honest clients' p99 against a quiet baseline. It starts no server: give its URL and PID.
 *
 *   model  POSTs of model= with 100,000 precinct bins each (the model memory bomb)
 *   cnew   four loops opening channels as fast as they can (session-table exhaustion)
 *   ws     one WebSocket sending 10,000 requests of 60 KB without reading (queue growth)
 *   loris  --sockets N (default 2000) connections that send a partial request head, then one header
 *          line every 5 s, reopened when the server closes them (slowloris)
 *   stall  --sockets N (default 400) connections that each pipeline 4 requests for a whole 4096²
 *          frame (~1.7 MB each) and never read (slow readers)
 *
 * Soak (--soak SECONDS, e.g. 600 with --clients 100): honest clients load the server the whole time
 * while the attacks run one after another, each for an equal share; prints the server's RSS every
 * 10 s and, per attack, the honest clients' p99 and errors.
 *
 * Usage: node --import tsx native-free-bench/attacks.ts --url http://127.0.0.1:18190 --pid N
 *          [--seconds 15] [--attacks model,cnew,ws,loris,stall] [--clients 16] [--sockets N] [--soak 600]
 */
import * as net from 'node:net';
import WebSocket from 'ws';
import { runLoad, type LoadResult } from './loadgen.js';
import { cliArgs } from './lib/cli.js';
import { checkLocalUrl } from './lib/http-client.js';
import { rssKiB } from './lib/proc.js';

const a = cliArgs(process.argv.slice(2));
const url = checkLocalUrl(a.get('url') ?? 'http://127.0.0.1:18190').origin;
const pid = Number(a.get('pid'));
if (!Number.isInteger(pid) || pid <= 0) throw new Error('--pid N: the server process to watch');
const seconds = Number(a.get('seconds') ?? 15);
const clients = Number(a.get('clients') ?? 16);
const attacks = (a.get('attacks') ?? 'model,cnew,ws').split(',');
const TARGET = 'gray4096.jp2';
const sockets = a.get('sockets') === undefined ? undefined : Number(a.get('sockets'));
const { hostname, port } = new URL(url);

/** A raw TCP connection to the server, resolved once connected. */
function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: hostname, port: Number(port) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Median of a non-empty list. */
const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] ?? NaN;

const honest = (): Promise<LoadResult> => runLoad({ url, name: 'random', clients, durationS: seconds, len: 32768, pid });

/** Samples the server's RSS (MiB) every 200 ms until `done` settles; resolves with the peak. */
async function peakRss(done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let over = false;
  void done.finally(() => (over = true));
  while (!over) {
    peak = Math.max(peak, rssKiB(pid) / 1024);
    await new Promise((r) => setTimeout(r, 200));
  }
  return peak;
}

/** Runs `attack` until `stop`; returns a line describing what it achieved. */
type Attack = (stop: () => boolean) => Promise<string>;

const ATTACKS: Record<string, Attack> = {
  async model(stop) {
    const bins = Array.from({ length: 100_000 }, (_, i) => `P${i}`).join(',');
    const statuses = new Map<number, number>();
    let posts = 0;
    while (!stop()) {
      const r = await fetch(`${url}/${TARGET}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `cnew=http&type=jpp-stream&fsiz=64,64&len=100&model=${bins}` });
      await r.arrayBuffer();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      posts++;
    }
    return `${posts} POSTs of 100,000 bins: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}`;
  },
  async cnew(stop) {
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop()) {
          const r = await fetch(`${url}/${TARGET}?cnew=http&type=jpp-stream&len=0`);
          await r.arrayBuffer();
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }
      }),
    );
    const probe = await fetch(`${url}/${TARGET}?cnew=http&type=jpp-stream&len=0`);
    await probe.arrayBuffer();
    return `${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}; a new client's cnew afterwards: ${probe.status}`;
  },
  async ws(stop) {
    const sock = new WebSocket(`${url.replace('http', 'ws')}/jpip-ws`);
    await new Promise((resolve, reject) => {
      sock.once('open', resolve);
      sock.once('error', reject);
    });
    (sock as unknown as { _socket: { pause(): void } })._socket.pause();
    let code = 0;
    sock.once('close', (c) => (code = c));
    const pad = 'x'.repeat(60_000);
    let sent = 0;
    for (; sent < 10_000 && !stop() && sock.readyState === WebSocket.OPEN; sent++) {
      sock.send(`/${TARGET}?fsiz=4096,4096&qid=${sent}&pad=${pad}`);
      if (sent % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    (sock as unknown as { _socket: { resume(): void } })._socket.resume();
    await new Promise((r) => setTimeout(r, 1000));
    sock.terminate();
    return `${sent} requests of 60 KB sent without reading; ${code ? `closed by the server with ${code}` : 'still open'}`;
  },
  async loris(stop) {
    const n = sockets ?? 2000;
    const lifetimes: number[] = [];
    let opened = 0;
    let refused = 0;
    const open = new Set<net.Socket>();
    // Each slot keeps one trickling connection open; when the server closes it, a new one replaces it.
    const slot = async (): Promise<void> => {
      while (!stop()) {
        let s: net.Socket;
        try {
          s = await connect();
        } catch {
          refused++;
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        opened++;
        open.add(s);
        const t0 = Date.now();
        s.on('error', () => {});
        s.resume();
        s.write(`GET /${TARGET}?type=jpp-stream&fsiz=64,64 HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
        await new Promise<void>((resolve) => {
          const tick = setInterval(() => {
            if (stop()) {
              clearInterval(tick);
              s.destroy();
            } else s.write(`X-Slow-${Date.now() % 1000}: 1\r\n`);
          }, 5000);
          s.once('close', () => {
            clearInterval(tick);
            open.delete(s);
            if (!stop()) lifetimes.push((Date.now() - t0) / 1000);
            resolve();
          });
        });
      }
    };
    await Promise.all(Array.from({ length: n }, slot));
    for (const s of open) s.destroy();
    return `${n} trickling connections (${opened} opened, ${refused} connect failures); closed by the server after median ${median(lifetimes).toFixed(1)} s (max ${Math.max(...lifetimes).toFixed(1)} s, ${lifetimes.length} closes)`;
  },
  async stall(stop) {
    const n = sockets ?? 400;
    const socks: net.Socket[] = [];
    let closedByServer = 0;
    let failed = 0;
    const req = (i: number): string => `GET /movie.jpx?type=jpp-stream&stream=${i % 60}&fsiz=4096,4096&len=2000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    for (let i = 0; i < n && !stop(); i++) {
      try {
        const s = await connect();
        s.on('error', () => {});
        s.once('close', () => closedByServer++);
        s.pause(); // never read
        s.write(req(i) + req(i + 1) + req(i + 2) + req(i + 3));
        socks.push(s);
      } catch {
        failed++;
      }
    }
    while (!stop()) await new Promise((r) => setTimeout(r, 200));
    const closed = closedByServer;
    for (const s of socks) s.destroy();
    return `${socks.length} connections × 4 pipelined whole-frame requests, none read (${failed} connect failures); ${closed} closed by the server meanwhile`;
  },
};

const soak = Number(a.get('soak') ?? 0);
if (soak > 0) {
  const names = a.get('attacks') ? attacks : ['model', 'cnew', 'ws', 'loris', 'stall'];
  const share = soak / names.length;
  const t0 = Date.now();
  const rss: Array<[number, number]> = [];
  let over = false;
  const sampler = (async () => {
    while (!over) {
      rss.push([(Date.now() - t0) / 1000, rssKiB(pid) / 1024]);
      await new Promise((r) => setTimeout(r, 10_000));
    }
  })();
  console.log(`soak: ${soak} s, ${clients} honest clients, attacks ${names.join(', ')} (${share.toFixed(0)} s each); server RSS ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
  console.log('\n| phase | honest resp/s | honest p99 ms | honest errors | server RSS peak (MiB) | attack |');
  console.log('|---|---|---|---|---|---|');
  for (const name of names) {
    const attack = ATTACKS[name];
    if (!attack) throw new Error(`unknown attack ${name}`);
    const deadline = Date.now() + share * 1000;
    const run = Promise.all([attack(() => Date.now() > deadline), runLoad({ url, name: 'random', clients, durationS: share, len: 32768, pid })]);
    const peak = await peakRss(run);
    const [what, load] = await run;
    console.log(`| ${name} | ${load.responsesPerS.toFixed(0)} | ${load.latencyMs.p99.toFixed(1)} | ${load.errors} | ${peak.toFixed(1)} | ${what} |`);
  }
  over = true;
  await sampler;
  rss.push([(Date.now() - t0) / 1000, rssKiB(pid) / 1024]);
  console.log(`\nserver RSS (MiB) every 10 s: ${rss.map(([t, m]) => `${t.toFixed(0)}s ${m.toFixed(0)}`).join(', ')}`);
  process.exit(0);
}

const baseline = await honest();
console.log(`baseline: honest p99 ${baseline.latencyMs.p99.toFixed(1)} ms, ${baseline.responsesPerS.toFixed(0)} resp/s, ${baseline.errors} errors; server RSS ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
console.log('\n| attack | what it achieved | server RSS before → peak → after (MiB) | honest p99 ms (baseline) | honest errors |');
console.log('|---|---|---|---|---|');
for (const name of attacks) {
  const attack = ATTACKS[name];
  if (!attack) throw new Error(`unknown attack ${name}`);
  const before = rssKiB(pid) / 1024;
  const deadline = Date.now() + seconds * 1000;
  const run = Promise.all([attack(() => Date.now() > deadline), honest()]);
  const peak = await peakRss(run);
  const [what, load] = await run;
  await new Promise((r) => setTimeout(r, 2000));
  const afterRss = rssKiB(pid) / 1024;
  console.log(`| ${name} | ${what} | ${before.toFixed(1)} → ${peak.toFixed(1)} → ${afterRss.toFixed(1)} | ${load.latencyMs.p99.toFixed(1)} (${baseline.latencyMs.p99.toFixed(1)}) | ${load.errors} |`);
}
