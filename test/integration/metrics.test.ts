/**
 * /metrics on a real two-front-end server: after traffic on both threads, a scrape — whichever thread
 * answers it — shows the expected counters summed over the threads (requests by status and kind,
 * errors by code, body bytes, latency histogram), per-thread gauges (sessions, channels, event-loop delay) and
 * the main thread's gauges (index, pool, front ends), in the Prometheus text format.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { startTestServer } from '../helpers/server.js';

/** One GET on a fresh connection, so the kernel picks a front end each time. */
function freshGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [key, value] = [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)];
    if (key === name + labels) return Number(value);
  }
  return undefined;
}

describe('metrics', () => {
  it('counts the traffic of every front end, whichever one is scraped', { timeout: 60_000 }, async () => {
    const srv = await startTestServer({ threads: 2, minThreads: 2 });
    try {
      let ok = 0;
      for (let i = 0; i < 30; i++) {
        const r = await freshGet(srv.port, '/rgb96.jp2?type=jpp-stream&fsiz=48,32&len=2000');
        assert.equal(r.status, 200);
        ok++;
      }
      for (let i = 0; i < 4; i++) assert.equal((await freshGet(srv.port, '/no-such.jp2?fsiz=8,8')).status, 404);
      // Two requests over the WebSocket transport (head message, then body message, each).
      const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/jpip-ws`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      let messages = 0;
      const done = new Promise<void>((resolve) => ws.on('message', () => ++messages === 4 && resolve()));
      ws.send('/rgb96.jp2?type=jpp-stream&fsiz=48,32&len=2000');
      ws.send('/rgb96.jp2?type=jpp-stream&fsiz=96,64&len=2000');
      await done;
      ws.close();
      const scrapes = await Promise.all(Array.from({ length: 6 }, () => freshGet(srv.port, '/metrics')));
      for (const m of scrapes) {
        assert.equal(m.status, 200);
        assert.equal(sample(m.body, 'jpipd_requests_total', '{transport="http",status="200",kind="jpp"}'), ok, 'every thread counted');
        assert.equal(sample(m.body, 'jpipd_requests_total', '{transport="http",status="404",kind="error"}'), 4);
        assert.equal(sample(m.body, 'jpipd_requests_total', '{transport="ws",status="200",kind="jpp"}'), 2, 'WebSocket requests counted apart');
        assert.equal(sample(m.body, 'jpipd_errors_total', '{code="ERR_TARGET_NOT_FOUND"}'), 4);
        assert.ok((sample(m.body, 'jpipd_response_bytes_total') ?? 0) > ok * 100, 'body bytes');
        assert.equal(sample(m.body, 'jpipd_request_duration_seconds_count', '{kind="jpp"}'), ok + 2, 'latency of both transports');
        assert.equal(sample(m.body, 'jpipd_request_duration_seconds_bucket', '{le="+Inf",kind="jpp"}'), ok + 2, 'the last bucket holds every request');
        const fast = sample(m.body, 'jpipd_request_duration_seconds_bucket', '{le="0.0005",kind="jpp"}') ?? -1;
        assert.ok(fast >= 0 && fast <= ok + 2, 'buckets are cumulative');
        for (const t of ['0', '1']) {
          assert.notEqual(sample(m.body, 'jpipd_sessions', `{thread="${t}"}`), undefined, `sessions of thread ${t}`);
          assert.notEqual(sample(m.body, 'jpipd_channels', `{thread="${t}"}`), undefined, `channels of thread ${t}`);
          assert.notEqual(sample(m.body, 'jpipd_event_loop_delay_seconds', `{thread="${t}"}`), undefined, `loop delay of thread ${t}`);
        }
        assert.ok((sample(m.body, 'jpipd_index_images') ?? 0) >= 1);
        const levels = (sample(m.body, 'jpipd_index_level_seconds_count', '{where="inline"}') ?? 0) + (sample(m.body, 'jpipd_index_level_seconds_count', '{where="pool"}') ?? 0);
        assert.ok(levels >= 1, 'resolution levels indexed, with their time');
        assert.equal(sample(m.body, 'jpipd_front_ends_accepting'), 2);
        assert.match(m.body, /# TYPE jpipd_requests_total counter/);
      }
    } finally {
      await srv.stop();
    }
  });

  it('times the pool: its tasks by kind, and the levels it indexes', { timeout: 60_000 }, async () => {
    // Nothing opened or indexed inline: every layout and level goes through the pool.
    const srv = await startTestServer({ threads: 1, inlineBudget: { maxReads: 0, maxLinks: 0, maxCacheFileBytes: 0 }, inlineIndexBytes: 0 });
    try {
      for (const f of ['gray1000-rpcl-p64-l4.j2k', 'gray1000-noplt.j2k']) assert.equal((await freshGet(srv.port, `/${f}?type=jpp-stream&fsiz=1000,1000&len=2000`)).status, 200);
      const m = await freshGet(srv.port, '/metrics');
      assert.equal(sample(m.body, 'jpipd_pool_task_seconds_count', '{kind="open"}'), 2, 'one open task per image');
      assert.ok((sample(m.body, 'jpipd_pool_task_seconds_count', '{kind="index"}') ?? 0) >= 2, 'index tasks');
      assert.ok((sample(m.body, 'jpipd_index_level_seconds_count', '{where="pool"}') ?? 0) >= 2, 'levels indexed by the pool');
      assert.equal(sample(m.body, 'jpipd_index_level_seconds_count', '{where="inline"}'), undefined, 'none inline');
    } finally {
      await srv.stop();
    }
  });
});
