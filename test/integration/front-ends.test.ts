/**
 * Several front-end threads on one port: the kernel spreads connections over them; each answers its
 * own connections, reads the shared index through the registry on the main thread, hands heavy work
 * to the one pool, and forwards requests for channels another thread owns. A channel used from many
 * connections gets every byte once, wherever its requests land; the server starts a second front end
 * by itself when the first is busy.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { JpipSession } from '../../src/client/session.js';
import { startTestServer } from '../helpers/server.js';
import { AUTOSCALE_ELU, AUTOSCALE_FREE_CORES, SHARED_CORE_MIN_MS, shouldAddFrontEnd } from '../../src/server/autoscale.js';

/** One GET on a fresh connection (no keep-alive), so the kernel picks a front end each time. */
function freshGet(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(parts)) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** A cache fed with every message of `body`; returns the EOR reason. */
function feed(cache: DataBinCache, body: Uint8Array): number {
  let eor = -1;
  for (const e of parseJppStream(body)) {
    if (e.kind === 'message') cache.add(e);
    else eor = e.reason;
  }
  return eor;
}

describe('front-end threads', () => {
  it('serve one channel from many connections across threads, every byte once, the index shared', { timeout: 60_000 }, async () => {
    const logs: Array<Record<string, unknown>> = [];
    const poolOnly = { inlineBudget: { maxReads: 0, maxLinks: 0, maxCacheFileBytes: 0 }, inlineIndexBytes: 0 };
    const srv = await startTestServer({ threads: 2, minThreads: 2, log: (e) => logs.push(e), ...poolOnly });
    const ref = await startTestServer({ threads: 1 });
    try {
      assert.equal(srv.fronts.count, 2);
      const image = 'gray1000-rpcl-p64-l4.j2k';
      const open = await freshGet(srv.port, `/${image}?cnew=http&type=jpp-stream&tid=0&len=0`);
      assert.equal(open.status, 200);
      const cid = /cid=([0-9a-f]{32})/.exec(String(open.headers['jpip-cnew']))?.[1];
      assert.ok(cid);
      // Small byte budgets: many requests, each on a new connection, until the window is complete.
      const cache = new DataBinCache();
      let rounds = 0;
      for (let eor = 4; eor === 4; rounds++) {
        const r = await freshGet(srv.port, `/jpip?cid=${cid}&fsiz=500,350&len=800`);
        assert.equal(r.status, 200, new TextDecoder().decode(r.body));
        eor = feed(cache, r.body);
        assert.ok(rounds < 500);
      }
      assert.ok(rounds > 20, `${rounds} rounds`);
      assert.equal(cache.stats().duplicateMessages, 0, 'no byte sent twice across threads');
      // The same window in one go from a single-threaded server: the same bins, the same bytes.
      const whole = new DataBinCache();
      const s = new JpipSession(ref.base, image);
      await s.open({ len: 0 });
      for (const r of await s.fetchWindow({ fsiz: '500,350' })) if (r.status === 200) feed(whole, r.body);
      for (const k of whole.keys()) assert.deepEqual(cache.get(k), whole.get(k));
      assert.equal(cache.keys().length, whole.keys().length);
      // Both threads answered, some requests were forwarded to the channel's owner, and the heavy
      // work (layout and index) went to the pool through the main thread.
      await new Promise((r) => setTimeout(r, 300)); // worker logs arrive in batches
      const fronts = new Set(logs.map((e) => e.front ?? 0));
      assert.ok(fronts.has(0) && fronts.has(1), `requests answered by front ends ${[...fronts]}`);
      assert.ok(logs.some((e) => e.forwarded === true), 'some requests were forwarded to the thread that owns the channel');
      assert.ok(srv.pool.stats().completed >= 2, 'opening and indexing ran in the pool');
      assert.equal(srv.registry.stats().images, 1, 'one shared index for the image, whichever thread asked');
      await freshGet(srv.port, `/jpip?cclose=${cid}&len=0`);
    } finally {
      await srv.stop();
      await ref.stop();
    }
  });

  it('starts a second front end by itself when the first one is busy', { timeout: 60_000 }, async () => {
    // The load comes from this process, so the machine may have no idle core to offer (the other
    // condition, tested below): here only busy-ness counts.
    const srv = await startTestServer({ threads: 2, minThreads: 1, autoscaleFreeCores: 0 });
    try {
      assert.equal(srv.fronts.count, 1);
      const deadline = Date.now() + 30_000;
      const load = async (): Promise<void> => {
        while (srv.fronts.count < 2 && Date.now() < deadline) {
          const r = await fetch(`${srv.base}/gray4096-rpcl-p128-l8.jp2?type=jpp-stream&fsiz=2048,2048&stream=0`);
          await r.arrayBuffer();
        }
      };
      await Promise.all([load(), load(), load(), load()]);
      assert.equal(srv.fronts.count, 2, 'a second front end started under load');
      const r = await freshGet(srv.port, '/rgb96.jp2?type=jpp-stream&fsiz=48,32&len=100');
      assert.equal(r.status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('pauses a front end without losing its channels, and resumes it', { timeout: 60_000 }, async () => {
    const srv = await startTestServer({ threads: 2, minThreads: 1 });
    const open = async (): Promise<string> => {
      const r = await freshGet(srv.port, '/rgb96.jp2?cnew=http&type=jpp-stream&fsiz=48,32&len=64');
      assert.equal(r.status, 200);
      return /cid=([^,]+)/.exec(String(r.headers['jpip-cnew']))?.[1] ?? '';
    };
    // A channel id starts with its owner's front-end number (two hex digits).
    const owner = (cid: string): number => parseInt(cid.slice(0, 2), 16);
    try {
      await srv.fronts.apply('add');
      assert.deepEqual([srv.fronts.count, srv.fronts.threads], [2, 2]);
      let onSecond = '';
      for (let i = 0; i < 200 && !onSecond; i++) {
        const cid = await open();
        if (owner(cid) === 1) onSecond = cid;
      }
      assert.ok(onSecond, 'the kernel gave the second front end some of 200 connections');

      await srv.fronts.apply('pause');
      assert.deepEqual([srv.fronts.count, srv.fronts.threads], [1, 2], 'one accepts, both run');
      const owners = new Set<number>();
      for (let i = 0; i < 40; i++) owners.add(owner(await open()));
      assert.deepEqual([...owners], [0], 'new connections all reach the main thread');
      // The paused thread still owns its channel: a request on it (on a new connection, landing on
      // the main thread) is forwarded there and continues the same stream.
      const more = await freshGet(srv.port, `/rgb96.jp2?cid=${onSecond}&type=jpp-stream&fsiz=48,32&len=2000`);
      assert.equal(more.status, 200);
      assert.ok(more.body.length > 64, `the channel continued (${more.body.length} bytes)`);

      await srv.fronts.apply('add');
      assert.deepEqual([srv.fronts.count, srv.fronts.threads], [2, 2], 'resumed, not a third thread');
      let again = false;
      for (let i = 0; i < 200 && !again; i++) again = owner(await open()) === 1;
      assert.ok(again, 'the resumed front end accepts connections again');
    } finally {
      await srv.stop();
    }
  });

  it('tries another front end only when the front ends are busy and a core is free for it (part of one: for heavy responses), or saturated', () => {
    const heavy = SHARED_CORE_MIN_MS;
    const light = SHARED_CORE_MIN_MS / 2;
    assert.equal(shouldAddFrontEnd(0.9, 1.5, light), true, 'a whole core free: any load');
    assert.equal(shouldAddFrontEnd(AUTOSCALE_ELU, AUTOSCALE_FREE_CORES, heavy), true);
    assert.equal(shouldAddFrontEnd(AUTOSCALE_ELU, AUTOSCALE_FREE_CORES, light), false, 'part of a core free: only for heavy responses');
    assert.equal(shouldAddFrontEnd(0.3, 1.5, heavy), false, 'not busy');
    assert.equal(shouldAddFrontEnd(0.8, 0.2, heavy), false, 'busy, but no core free: another thread would only compete');
    assert.equal(shouldAddFrontEnd(0.95, 0.2, light), true, 'saturated: worth a try (kept only if the rate rises)');
    assert.equal(shouldAddFrontEnd(0.95, 0.2, light, AUTOSCALE_FREE_CORES, false), false, 'saturated, no undo under load: not for light responses');
    assert.equal(shouldAddFrontEnd(0.6, 0, light, 0), true, 'freeCores 0: busy-ness only');
  });
});
