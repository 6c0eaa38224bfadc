/**
 * Memory scenarios against a running server (127.0.0.1 only), sampled through /proc (lib/proc.ts):
 *
 *   stalled   N connections each ask for a whole 4096² image (every layer, every resolution) and never
 *             read: how much the server grows while those responses wait on full sockets. A server that
 *             builds each response whole before sending grows by N × the image; one that produces
 *             bounded pieces as the socket drains grows by N × one piece at most.
 *   channels  N channels opened (cnew, len=512, one per new session) and left open: memory per channel.
 *
 * Usage: node --import tsx native-free-bench/memory.ts --url http://127.0.0.1:18190 --pid N
 *          [--stalled 40] [--channels 10000] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkLocalUrl, Connection, parseCnew, query } from './lib/http-client.js';
import { processTree, rssKiB } from './lib/proc.js';
import { IMAGES } from './lib/scenarios.js';
import { cliArgs } from './lib/cli.js';

/** RSS of the server's process tree in MiB. */
export function treeRssMiB(pid: number): number {
  return processTree(pid).reduce((s, p) => s + rssKiB(p), 0) / 1024;
}

/** Highest RSS seen while `ms` pass (sampled every 100 ms). */
async function peakOver(pid: number, ms: number): Promise<number> {
  let peak = treeRssMiB(pid);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(100);
    peak = Math.max(peak, treeRssMiB(pid));
  }
  return peak;
}

export interface StalledResult {
  clients: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  addedMiB: number;
  /** Response bytes the clients had received (unread, in their kernel buffers) when they stopped. */
  bytesReceivedMiB: number;
  rssAfterCloseMiB: number;
  /** A normal request answered after the stalled connections were closed. */
  healthyAfter: boolean;
}

/** N connections ask for a whole 4096² image each and never read (as a new channel: esajpip answers 500 without one; it also needs stream= and len=). */
export async function stalledClients(url: string, pid: number, clients = 40, settleMs = 4000): Promise<StalledResult> {
  const base = checkLocalUrl(url);
  const rssBeforeMiB = treeRssMiB(pid);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < clients; i++) {
    const s = net.connect(Number(base.port), '127.0.0.1');
    s.on('error', () => {});
    const target = IMAGES[i % IMAGES.length];
    // Read only the first bytes (the response started), then stop reading for good.
    s.once('data', () => s.pause());
    s.write(`GET /${target}?${query({ cnew: 'http', type: 'jpp-stream', tid: 0, stream: 0, fsiz: '4096,4096', rsiz: '4096,4096', roff: '0,0', len: 100_000_000 })} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    sockets.push(s);
  }
  const rssPeakMiB = await peakOver(pid, settleMs);
  const bytesReceivedMiB = sockets.reduce((n, k) => n + k.bytesRead, 0) / 1048576;
  for (const s of sockets) s.destroy();
  await sleep(1500);
  const rssAfterCloseMiB = treeRssMiB(pid);
  let healthyAfter = false;
  const c = new Connection(base);
  try {
    const ex = await c.get(`/${IMAGES[0]}?${query({ cnew: 'http', type: 'jpp-stream', tid: 0, stream: 0, fsiz: '256,256', len: 20000 })}`, false);
    healthyAfter = ex.status === 200 && ex.bytes > 0;
  } catch {
    healthyAfter = false;
  } finally {
    c.destroy();
  }
  return {
    clients,
    rssBeforeMiB,
    rssPeakMiB,
    addedMiB: rssPeakMiB - rssBeforeMiB,
    bytesReceivedMiB,
    rssAfterCloseMiB,
    healthyAfter,
  };
}

export interface ChannelsResult {
  channels: number;
  opened: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  bytesPerChannel: number;
  seconds: number;
}

/** Opens `channels` channels (one new session each, len=512) over 8 keep-alive connections and keeps them open. */
export async function idleChannels(url: string, pid: number, channels = 10_000, target = 'gray4096.jp2'): Promise<ChannelsResult> {
  const base = checkLocalUrl(url);
  const rssBeforeMiB = treeRssMiB(pid);
  const t0 = performance.now();
  let opened = 0;
  const conns = Array.from({ length: 8 }, () => new Connection(base));
  let next = 0;
  await Promise.all(
    conns.map(async (c) => {
      while (next < channels) {
        next++;
        const ex = await c.get(`/${target}?${query({ cnew: 'http', type: 'jpp-stream', tid: 0, stream: 0, len: 512 })}`, false);
        if (ex.status === 200 && parseCnew(ex.headers['jpip-cnew'])) opened++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await sleep(3000);
  const rssAfterMiB = treeRssMiB(pid);
  for (const c of conns) c.destroy();
  return { channels, opened, rssBeforeMiB, rssAfterMiB, bytesPerChannel: ((rssAfterMiB - rssBeforeMiB) * 1048576) / Math.max(1, opened), seconds };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = cliArgs(process.argv.slice(2));
  const url = a.get('url') ?? 'http://127.0.0.1:18190';
  const pid = Number(a.get('pid'));
  if (!pid) throw new Error('give --pid of the server');
  const out: Record<string, unknown> = {};
  if (a.has('stalled')) out.stalled = await stalledClients(url, pid, Number(a.get('stalled')));
  if (a.has('channels')) out.channels = await idleChannels(url, pid, Number(a.get('channels')));
  console.log(JSON.stringify(out, null, 2));
  if (a.has('json')) writeFileSync(a.get('json') as string, JSON.stringify(out, null, 2));
}
