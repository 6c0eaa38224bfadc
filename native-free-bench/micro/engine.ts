/**
 * The JPIP engine in-process on one thread, no sockets: a JpipService (as each front-end thread runs
 * it) answering the benchmark scenarios' requests through service.handle(), the way the uWS handler
 * calls it. Reports, per scenario, responses/s and CPU per response on this one thread, JPP MB/s and
 * ns per packet and per message (a message carries one packet, several contiguous packets of one
 * precinct, or a header piece). Images are indexed during an unmeasured
 * warm-up, as they are on a server that has been running.
 *
 * Usage: node --import tsx native-free-bench/micro/engine.ts [--root /tmp/jpipd-bench/images] [--seconds 4]
 *          [--scenario movie,zoom,random,images,large] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { createHarness } from '../../src/server/server.js';
import type { JpipService, Reply } from '../../src/server/service.js';
import { cliArgs } from '../lib/cli.js';
import { query } from '../lib/http-client.js';
import { planSession, prng, type ScenarioOptions } from '../lib/scenarios.js';
import { fmt } from '../lib/stats.js';

/** One scenario's figures. */
export interface EngineResult {
  scenario: string;
  responses: number;
  seconds: number;
  cpuSeconds: number;
  bytes: number;
  messages: number;
  /** Packets sent, whole or in part (a message may carry several). */
  packets: number;
  responsesPerS: number;
  cpuUsPerResponse: number;
  mbPerS: number;
  nsPerMessage: number;
  nsPerPacket: number;
  /** Mean response body size (bytes). */
  meanBytes: number;
}

/** Answers one request on this thread; returns body bytes, messages, packets and the EOR. */
function answer(service: JpipService, path: string, q: string): { bytes: number; messages: number; packets: number; eor: number; cnew?: string } {
  const r = service.handle({ method: 'GET', path, query: q });
  if (r instanceof Promise) throw new Error(`${path}?${q} needed asynchronous work: the images were not warmed up`);
  const reply = r as Reply;
  if (reply.status !== 200) throw new Error(`status ${reply.status}: ${new TextDecoder().decode(reply.body)}`);
  let bytes = reply.body.length;
  let last = reply.body;
  while (reply.more) {
    last = reply.next();
    bytes += last.length;
  }
  const eor = last.length >= 3 && last[last.length - 3] === 0 && last[last.length - 1] === 0 ? last[last.length - 2] : -1;
  const cnew = reply.headers.find(([k]) => k === 'JPIP-cnew')?.[1];
  return { bytes, messages: Number(reply.log.messages ?? 0), packets: Number(reply.log.packets ?? 0), eor, cnew };
}

/** Runs whole sessions of a scenario (open, every window until done, close) for `seconds`. */
function run(service: JpipService, o: ScenarioOptions, len: number, seconds: number): EngineResult {
  const rand = prng(7);
  let responses = 0;
  let bytes = 0;
  let messages = 0;
  let packets = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const plan = planSession(o, rand);
    const opened = answer(service, `/${plan.target}`, query({ cnew: 'http', type: 'jpp-stream', tid: 0, len: 512 }));
    const cid = /cid=([^,]+)/.exec(opened.cnew ?? '')?.[1];
    if (!cid) throw new Error('no channel');
    for (const w of plan.windows) {
      for (let round = 0; round < 1000; round++) {
        const r = answer(service, '/jpip', query({ cid, ...w.fields, len }));
        responses++;
        bytes += r.bytes;
        messages += r.messages;
        packets += r.packets;
        if (r.eor === 1 || r.eor === 2) break;
      }
    }
    answer(service, '/jpip', query({ cclose: cid, len: 0 }));
  }
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuSeconds = (c.user + c.system) / 1e6;
  return {
    scenario: o.name,
    responses,
    seconds: s,
    cpuSeconds,
    bytes,
    messages,
    packets,
    responsesPerS: responses / s,
    cpuUsPerResponse: (cpuSeconds * 1e6) / responses,
    mbPerS: bytes / 1e6 / s,
    nsPerMessage: (cpuSeconds * 1e9) / messages,
    nsPerPacket: (cpuSeconds * 1e9) / packets,
    meanBytes: bytes / responses,
  };
}

const a = cliArgs(process.argv.slice(2));
const root = a.get('root') ?? '/tmp/jpipd-bench/images';
const seconds = Number(a.get('seconds') ?? 4);
const h = createHarness({ root, cacheDir: null });
try {
  const scenarios: Array<[string, ScenarioOptions, number]> = [
    ['movie frame 1024² of 4096² (len 2 MiB)', { name: 'movie' }, 2097152],
    ['15 movie frames per request (len 2 MiB)', { name: 'movie', framesPerRequest: 15 }, 2097152],
    ['zoom sequence, 3 windows (len 128 KiB)', { name: 'zoom' }, 131072],
    ['random 256² windows (len 32 KiB)', { name: 'random' }, 32768],
    ['one 1024² view of five images (len 100000)', { name: 'images' }, 100000],
    ['full 4096² frames (len 2 MiB)', { name: 'large' }, 2097152],
  ];
  // Warm-up: open and index everything the scenarios touch (done by the pool or inline on a server).
  const only = a.get('scenario');
  const chosen = only ? scenarios.filter(([, o]) => only.split(',').includes(o.name)) : scenarios;
  for (const [, o, len] of chosen) {
    const r = h.service.handle({ method: 'GET', path: `/${planSession(o, prng(1)).target}`, query: query({ type: 'jpp-stream', len: 1 }) });
    await r;
    for (let i = 0; i < 3; i++) run(h.service, { ...o, frames: o.name === 'movie' || o.name === 'large' ? 60 : undefined }, len, 0.3);
  }
  const results = chosen.map(([label, o, len]) => ({ label, ...run(h.service, o, len, seconds) }));
  console.log(`# JpipService.handle() in-process on one thread, ${seconds} s per row, node ${process.version}\n`);
  console.log('| scenario | responses/s | CPU µs per response | mean response | MB/s | ns per packet | ns per message |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.label} | ${fmt(r.responsesPerS)} | ${fmt(r.cpuUsPerResponse, 1)} | ${fmt(r.meanBytes / 1000, 1)} kB | ${fmt(r.mbPerS)} | ${fmt(r.nsPerPacket)} | ${fmt(r.nsPerMessage)} |`);
  }
  if (a.has('json')) writeFileSync(a.get('json') as string, JSON.stringify(results, null, 2));
} finally {
  await h.close();
}
