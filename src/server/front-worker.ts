/**
 * Entry of a worker-thread front end: its own uWebSockets.js app on the shared port, its own JPIP
 * service (sessions, catalog, arena), the index registry and the worker pool reached through the
 * main thread (thread-links.ts), and links to the other front ends for forwarded channels.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { arenaIn } from '../jpip/arena.js';
import { JpipService } from './service.js';
import { startFrontEnd, type FrontEnd } from './front-end.js';
import { Forwarder } from './forward.js';
import { PoolLink, RegistryLink } from './thread-links.js';
import type { FrontWorkerData, ToFront } from './front-ends.js';
import { ThreadMetrics } from './metrics.js';

const data = workerData as FrontWorkerData;
const control = parentPort as MessagePort;
const forwarder = new Forwarder();
const tables = new RegistryLink(data.rpc, new Int32Array(data.word));
const service = new JpipService({
  ...data.settings,
  tables,
  pool: new PoolLink(data.pool),
  frontEnd: data.index,
  forward: (n, inc) => forwarder.forward(n, inc),
  arena: arenaIn(data.memory),
});
forwarder.serve(service);
for (const [n, port] of data.peers) forwarder.addPeer(n, port);

// Log entries go to the main thread in batches (one thread writes the log stream).
let batch: Array<Record<string, unknown>> = [];
const flush = (): void => {
  if (batch.length === 0) return;
  control.postMessage({ op: 'log', entries: batch });
  batch = [];
};
const logTimer = setInterval(flush, 100);
logTimer.unref();
const log = data.log
  ? (e: Record<string, unknown>): void => {
      batch.push({ ...e, front: data.index });
      if (batch.length >= 256) flush();
    }
  : undefined;

// Busy-ness for the autoscaler: event-loop utilisation and responses since the last report.
let elu = performance.eventLoopUtilization();
let front: FrontEnd | null = null;
let served = 0;
const eluTimer = setInterval(() => {
  const now = performance.eventLoopUtilization();
  const total = front?.served() ?? 0;
  control.postMessage({ op: 'elu', value: performance.eventLoopUtilization(now, elu).utilization, served: total - served });
  elu = now;
  served = total;
}, 500);
eluTimer.unref();

// Metrics: this thread counts its requests; a scrape here asks the main thread for the whole server's.
const metrics = new ThreadMetrics(data.index, () => ({ sessions: service.sessions.size, channels: service.sessions.channelCount }));
const scrapes = new Map<number, (text: string | null) => void>();
let scrapeId = 1;
const scrape = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const id = scrapeId++;
    scrapes.set(id, (text) => (text === null ? reject(new Error('no metrics')) : resolve(text)));
    control.postMessage({ op: 'scrape', id });
  });

void startFrontEnd(service, { host: data.host, port: data.port, unixPath: data.unixPath, log, tls: data.tls, viewer: { root: data.settings.root, listing: data.listing }, metrics: { thread: metrics, scrape }, trustProxy: data.settings.trustProxy }).then((f) => {
  front = f;
  control.on('message', (m: ToFront) => onControl(m, f));
  control.postMessage({ op: 'ready' });
});

function onControl(m: ToFront, front: FrontEnd): void {
  if (m.op === 'peer') forwarder.addPeer(m.index, m.port);
  else if (m.op === 'evict') service.streams.dropVersion(m.key);
  else if (m.op === 'metrics-json') control.postMessage({ op: 'metrics-json', id: m.id, json: metrics.json() });
  else if (m.op === 'scraped') {
    scrapes.get(m.id)?.(m.text);
    scrapes.delete(m.id);
  } else if (m.op === 'pause') {
    front.pause();
    control.postMessage({ op: 'paused' });
  } else if (m.op === 'resume')
    front
      .resume()
      .catch((e: unknown) => log?.({ event: 'front-end-error', message: String((e as Error)?.message ?? e) }))
      .finally(() => control.postMessage({ op: 'resumed' }));
  else if (m.op === 'stop') void stop(m.graceMs ?? 0, front);
}

/** Stops this front end: drains its exchanges for up to `graceMs`, then releases everything. */
async function stop(graceMs: number, front: FrontEnd): Promise<void> {
  await front.drain(graceMs);
  service.close();
  flush();
  forwarder.close();
  clearInterval(logTimer);
  clearInterval(eluTimer);
  metrics.close();
  data.rpc.close();
  data.pool.close();
  control.postMessage({ op: 'stopped' });
  control.close();
}
