/**
 * Request semantics through the real server: symlinks out of the root, stateless requests with
 * `model`, target-id mismatch, client window shapes (JHelioviewer's padded rsiz), and the JPIP-*
 * headers that report a changed request.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJppStream, type JppEvent } from '../../src/client/jpp-parser.js';
import { JpipSession } from '../../src/client/session.js';
import * as net from 'node:net';
import { bigMovie, type BigMovie } from '../helpers/big-movie.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';
import { heldBytes, HELD_BUDGET_BYTES, MIN_PIECE_BYTES } from '../../src/server/http.js';
import { DEFAULT_PIECE_BYTES } from '../../src/jpip/arena.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

async function get(url: string): Promise<{ res: Response; events: JppEvent[]; body: Uint8Array }> {
  const res = await fetch(url);
  const body = new Uint8Array(await res.arrayBuffer());
  return { res, body, events: res.status === 200 ? parseJppStream(body) : [] };
}
/** A connection that sends one GET and then does not read (its bytes pile up in the socket buffers). */
async function unreadConnection(port: number, target: string): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.pause();
  sock.write(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
  return sock;
}
/**
 * Opens a channel on the big movie, then asks on it — over a connection that does not read — for
 * every frame at full size (~20 MB, no len): more than the socket buffers hold, so the response stays
 * in flight (the session busy) until the connection reads or goes.
 */
async function unreadWholeMovie(s: TestServer, big: BigMovie): Promise<{ sess: JpipSession; sock: net.Socket }> {
  const sess = new JpipSession(s.base, big.movie);
  await sess.open({ len: 0 });
  const sock = await unreadConnection(s.port, `/jpip?cid=${sess.cid}&context=jpxl<0-${big.frames - 1}>&fsiz=4096,4096`);
  return { sess, sock };
}
/**
 * Resumes reading an unreadConnection and resolves with the bytes received once one whole response
 * (head + Content-Length body) has arrived; rejects if the connection closes first.
 */
function readWholeResponse(sock: net.Socket): Promise<number> {
  let got = 0;
  let head = '';
  const whole = new Promise<number>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (head.length < 4096) head += d.toString('latin1', 0, Math.min(d.length, 4096));
      const end = head.indexOf('\r\n\r\n');
      const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1]);
      if (end > 0 && got >= end + 4 + length) resolve(got);
    });
    sock.on('close', () => reject(new Error(`closed after ${got} bytes`)));
  });
  sock.resume();
  return whole;
}
const classes = (events: JppEvent[]): number[] => events.flatMap((e) => (e.kind === 'message' ? [e.cls] : []));
const eorOf = (events: JppEvent[]): number | undefined => {
  const last = events[events.length - 1];
  return last?.kind === 'eor' ? last.reason : undefined;
};

describe('image root', () => {
  it('never serves a symlink that leaves the root, but serves one that stays inside', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-root-'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-outside-'));
    fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(outside, 'secret.jp2'));
    fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(root, 'real.jp2'));
    fs.symlinkSync(path.join(outside, 'secret.jp2'), path.join(root, 'out.jp2'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'passwd.jp2'));
    fs.symlinkSync(outside, path.join(root, 'dir'));
    fs.symlinkSync('real.jp2', path.join(root, 'alias.jp2'));
    const s = await startTestServer({ root });
    try {
      for (const p of ['out.jp2', 'passwd.jp2', 'dir/secret.jp2']) {
        const { res, body } = await get(`${s.base}/${p}?fsiz=48,32&len=100`);
        assert.equal(res.status, 404, p);
        assert.ok(!new TextDecoder().decode(body).includes(outside));
      }
      const ok = await get(`${s.base}/alias.jp2?fsiz=48,32&len=100`);
      assert.equal(ok.res.status, 200);
    } finally {
      await s.stop();
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('stateless requests and model', () => {
  it('serves without a channel, never grants one, and honours model= for that request only', async () => {
    const base = `${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=257,129`;
    const plain = await get(base);
    assert.equal(plain.res.headers.get('jpip-cnew'), null);
    assert.ok(classes(plain.events).includes(6));
    const withModel = await get(`${base}&model=Hm,H0`);
    assert.ok(!classes(withModel.events).includes(6), 'main header not resent');
    assert.ok(!classes(withModel.events).includes(2), 'tile header not resent');
    const again = await get(base);
    assert.deepEqual(again.body, plain.body, 'nothing remembered between stateless requests');
  });

  it('disregards model= when the tid names another target version, and reports the real tid', async () => {
    const s = new JpipSession(srv.base, 'gray257-n6-defprec-l2.j2k');
    await s.open({ len: 0 });
    const tid = s.tid as string;
    assert.ok(tid);
    const wrong = await s.send({ fsiz: '64,32', tid: 'not-this-one', model: 'Hm' });
    assert.equal(wrong.headers.get('jpip-tid'), tid);
    assert.ok(classes(wrong.events).includes(6), 'model ignored: main header sent');
    const s2 = new JpipSession(srv.base, 'gray257-n6-defprec-l2.j2k');
    await s2.open({ len: 0 });
    const right = await s2.send({ fsiz: '64,32', tid, model: 'Hm' });
    assert.ok(!classes(right.events).includes(6), 'model honoured: main header not sent');
    await s.close();
    await s2.close();
  });
});

describe('window reporting', () => {
  it("clips JHelioviewer's rsiz=W+1,H+1 and reports the served region", async () => {
    const { res, events } = await get(`${srv.base}/gray1000-rpcl-p64-l4.j2k?fsiz=500,350,closest&rsiz=501,351&len=100000`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('jpip-fsiz'), null);
    assert.equal(res.headers.get('jpip-rsiz'), '500,350');
    assert.ok([1, 2, 4].includes(eorOf(events) as number));
  });

  it('reports JPIP-layers when fewer layers exist, and JPIP-len when the budget was too small for progress', async () => {
    const layers = await get(`${srv.base}/gray1000-rpcl-p64-l4.j2k?fsiz=125,88&layers=10&len=100000`);
    assert.equal(layers.res.headers.get('jpip-layers'), '4');
    const tiny = await get(`${srv.base}/gray1000-rpcl-p64-l4.j2k?fsiz=125,88&len=1`);
    assert.equal(eorOf(tiny.events), 4);
    assert.ok(Number(tiny.res.headers.get('jpip-len')) > 1);
    assert.ok(tiny.events.some((e) => e.kind === 'message' && e.length > 0), 'progress made');
  });

  it('ends a whole-image window with EOR 1 and a partial one with EOR 2', async () => {
    const whole = await get(`${srv.base}/rgb96.jp2?fsiz=96,64`);
    assert.equal(eorOf(whole.events), 1);
    const part = await get(`${srv.base}/rgb96.jp2?fsiz=96,64&roff=10,10&rsiz=20,20`);
    assert.equal(eorOf(part.events), 2);
    const reduced = await get(`${srv.base}/rgb96.jp2?fsiz=48,32`);
    assert.equal(eorOf(reduced.events), 2);
  });
});

describe('undelivered responses', () => {
  it('ends the channel when the client goes away in the middle of a streamed response', { timeout: 30_000 }, async () => {
    const big = await bigMovie();
    const s = await startTestServer({ root: big.root });
    try {
      // The server is still producing pieces when this client, which never reads, disconnects.
      const { sess, sock } = await unreadWholeMovie(s, big);
      await new Promise((r) => setTimeout(r, 300));
      sock.destroy();
      let status = 0;
      for (let i = 0; i < 100 && status !== 404; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const r = await fetch(`${s.base}/jpip?cid=${sess.cid}&fsiz=64,64&len=10`);
        status = r.status;
        await r.arrayBuffer();
      }
      assert.equal(status, 404, 'the channel whose response was cut is closed');
    } finally {
      await s.stop();
      big.remove();
    }
  });
});

describe('slow readers', () => {
  it('cannot make a front end hold more than its budget of unsent bytes, and free it all when they go', { timeout: 60_000 }, async () => {
    const big = await bigMovie();
    // One front end (this thread), so its count of unsent bytes is the whole server's.
    const s = await startTestServer({ root: big.root, threads: 1 });
    const socks: net.Socket[] = [];
    try {
      // Stateless ~20 MB responses (every frame at full size) on connections that never read: each
      // one stalls once the kernel's socket buffers are full, with the rest of a piece unsent.
      const n = 40;
      for (let i = 0; i < n; i++) socks.push(await unreadConnection(s.port, `/${big.movie}?type=jpp-stream&context=jpxl<0-${big.frames - 1}>&fsiz=4096,4096`));
      let peak = 0;
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 50));
        peak = Math.max(peak, heldBytes());
      }
      // On loopback the kernel's socket buffers take most of each piece (measured: ~5 MB held for 40
      // connections); the piece-size rules themselves are tested in test/unit/http-pieces.test.ts.
      const bound = HELD_BUDGET_BYTES + DEFAULT_PIECE_BYTES + n * MIN_PIECE_BYTES;
      assert.ok(peak > 0, 'the stalled connections hold unsent bytes');
      assert.ok(peak <= bound, `held ${peak} bytes, bound ${bound}`);
      // An honest client is still served at once.
      const ok = await fetch(`${s.base}/${big.movie}?type=jpp-stream&stream=0&fsiz=256,256&len=4000`);
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      for (const sock of socks) sock.destroy();
      socks.length = 0;
      for (let i = 0; i < 100 && heldBytes() > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(heldBytes(), 0, 'every unsent byte is freed when the readers go');
    } finally {
      for (const sock of socks) sock.destroy();
      await s.stop();
    }
  });
});

describe('images that change while served', () => {
  it('end the channels on the old version with 410 and serve the new version to a new channel', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-root-'));
    const file = path.join(root, 'img.j2k');
    fs.copyFileSync(path.join(FIXTURES, 'gray1000-rpcl-p64-l4.j2k'), file);
    const s = await startTestServer({ root });
    try {
      const a = new JpipSession(s.base, 'img.j2k');
      await a.open({ len: 0 });
      await a.fetchWindow({ fsiz: '125,88' });
      fs.copyFileSync(path.join(FIXTURES, 'gray1000-lrcp-p64-l4.j2k'), file); // rewritten in place
      const future = new Date(Date.now() + 10_000);
      fs.utimesSync(file, future, future);
      const changed = await a.send({ fsiz: '250,175' });
      assert.equal(changed.status, 410);
      assert.equal((await a.send({ fsiz: '250,175' })).status, 404, 'the channel is gone');
      const b = new JpipSession(s.base, 'img.j2k');
      await b.open({ len: 0 });
      assert.notEqual(b.tid, a.tid, 'a new target id for the new version');
      const r = await b.fetchWindow({ fsiz: '250,175' });
      assert.equal(r[r.length - 1].status, 200);
      // The old version's index is gone (its file changed and its session ended): only one is counted.
      const st = s.registry.stats();
      assert.equal(st.images, 1, `${st.images} image versions held`);
      assert.equal(st.unmatchedReleases, 0);
    } finally {
      await s.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('graceful shutdown', () => {
  it('stops accepting at once, lets a response in flight finish, then closes', { timeout: 60_000 }, async () => {
    const big = await bigMovie();
    const s = await startTestServer({ root: big.root });
    try {
      // A ~20 MB streamed response the client is not reading yet: still in flight when the stop begins.
      const { sock } = await unreadWholeMovie(s, big);
      // A load balancer's kept-alive connection polling /readyz.
      const probe = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => probe.once('connect', r));
      const ask = (): Promise<string> =>
        new Promise((resolve) => {
          probe.once('data', (d: Buffer) => resolve(d.toString('latin1')));
          probe.write('GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n');
        });
      assert.match(await ask(), /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nready\n$/);
      await new Promise((r) => setTimeout(r, 300));
      let closed = false;
      const closing = s.close(20_000).then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.match(await ask(), /^HTTP\/1\.1 503 [\s\S]*not ready: the server is stopping\n$/, 'a stopping server is not ready');
      probe.destroy();
      // A new connection is refused; a request on an idle kept-alive connection gets 503 and a close.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const c = net.connect(s.port, '127.0.0.1');
          c.once('connect', () => {
            c.destroy();
            resolve(undefined);
          });
          c.once('error', reject);
        }),
        'new connections are refused while draining',
      );
      const late = await fetch(`${s.base}/rgb96.jp2?fsiz=8,8&len=10`).catch(() => null);
      if (late) {
        assert.equal(late.status, 503);
        await late.arrayBuffer();
      }
      assert.equal(closed, false, 'still draining: the response is in flight');
      const got = await readWholeResponse(sock);
      await closing;
      assert.ok(got > 16_000_000, 'the whole response arrived');
      sock.destroy();
    } finally {
      await s.stop().catch(() => {});
      big.remove();
    }
  });
});

describe('health endpoints', () => {
  it('/healthz answers while the process serves; /readyz says why it is not ready, without a path', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-health-'));
    fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(root, 'a.jp2'));
    const s = await startTestServer({ root });
    try {
      const get = async (u: string, method = 'GET'): Promise<[number, string]> => {
        const r = await fetch(`${s.base}${u}`, { method });
        return [r.status, await r.text()];
      };
      assert.deepEqual(await get('/healthz'), [200, 'ok\n']);
      assert.deepEqual(await get('/readyz'), [200, 'ready\n']);
      assert.deepEqual(await get('/readyz', 'HEAD'), [200, '']);
      fs.rmSync(root, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 1100)); // the root check is reused for 1 s
      const [status, text] = await get('/readyz');
      assert.equal(status, 503);
      assert.equal(text, 'not ready: the image root is not readable\n');
      assert.ok(!text.includes(root), 'no server path');
      assert.deepEqual(await get('/healthz'), [200, 'ok\n'], 'alive all the same');
    } finally {
      await s.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('session-table exhaustion', () => {
  it('a cnew flood neither locks others out nor lets one client hold more than its share', { timeout: 60_000 }, async () => {
    const s = await startTestServer({ sessionLimits: { maxSessions: 50, maxSessionsPerClient: 20 } });
    try {
      const open = async (len: number): Promise<{ status: number; cid?: string }> => {
        const r = await fetch(`${s.base}/rgb96.jp2?cnew=http&type=jpp-stream&fsiz=96,64&len=${len}`);
        await r.arrayBuffer();
        return { status: r.status, cid: /cid=([0-9a-f]+)/.exec(r.headers.get('jpip-cnew') ?? '')?.[1] };
      };
      // 200 channel opens from one client (this test's address): every one is granted...
      const opened = [];
      for (let i = 0; i < 200; i++) opened.push(await open(i % 2 === 0 ? 0 : 2000));
      assert.ok(opened.every((o) => o.status === 200 && o.cid), 'no 503 for the flooding client either');
      // ...but it keeps at most 20 sessions: its oldest channels are gone, its newest work.
      const alive = async (cid: string): Promise<number> => {
        const r = await fetch(`${s.base}/jpip?cid=${cid}&fsiz=96,64&len=10`);
        await r.arrayBuffer();
        return r.status;
      };
      assert.equal(await alive(opened[0].cid as string), 404);
      assert.equal(await alive(opened[199].cid as string), 200);
      let live = 0;
      for (const o of opened) if ((await alive(o.cid as string)) === 200) live++;
      assert.ok(live <= 20, `${live} sessions live for one client`);
    } finally {
      await s.stop();
    }
  });
});

describe('limits', () => {
  it('queues a busy session\'s requests in order, refuses those beyond the bound with 503, and serves the rest', { timeout: 30_000 }, async () => {
    const big = await bigMovie();
    const s = await startTestServer({ root: big.root });
    try {
      // A streamed response the client does not read yet keeps the session busy...
      const { sess, sock } = await unreadWholeMovie(s, big);
      await new Promise((r) => setTimeout(r, 200));
      // ...so these wait in the session's queue (64 at most), in arrival order.
      const results = Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${s.base}/jpip?cid=${sess.cid}&stream=0&fsiz=4096,4096&roff=${i},0&rsiz=64,64&qid=${i}`).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, 500));
      const whole = readWholeResponse(sock);
      const statuses = await results;
      const got = await whole;
      const busy = statuses.filter((x) => x === 503).length;
      const ok = statuses.filter((x) => x === 200).length;
      assert.equal(busy + ok, 100);
      assert.ok(busy >= 36, `${busy} requests refused beyond the queue bound of 64`);
      assert.ok(ok >= 1, 'the queue kept working');
      assert.ok(got > 16_000_000, 'the streamed response went out whole once read');
      sock.destroy();
      const after = await sess.send({ stream: 0, fsiz: '64,64', len: 100 });
      assert.equal(after.status, 200);
      await sess.close();
    } finally {
      await s.stop();
      big.remove();
    }
  });
});

describe('delivery order per request shape', () => {
  it("sends each precinct whole for JHelioviewer's padded region, layer by layer otherwise", async () => {
    const precinctMessages = async (rsiz: string) => {
      const { events } = await get(`${srv.base}/gray1000-rpcl-p64-l4.j2k?fsiz=500,350,closest&rsiz=${rsiz}&len=20000`);
      return events.flatMap((e) => (e.kind === 'message' && e.cls === 0 ? [e] : []));
    };
    const jhv = await precinctMessages('501,351');
    assert.ok(jhv.length > 10);
    // One message per precinct (its layers are contiguous in an RPCL file), each completing its bin,
    // except the one the budget cut.
    assert.equal(new Set(jhv.map((m) => m.id)).size, jhv.length);
    assert.ok(jhv.slice(0, -1).every((m) => m.complete && m.offset === 0));
    const lrcp = await precinctMessages('500,350');
    const firstLayerIds = new Set<number>();
    for (const m of lrcp) {
      if (m.offset !== 0) break;
      firstLayerIds.add(m.id);
    }
    assert.ok(firstLayerIds.size > 10, 'layer 0 of many precincts first');
    assert.ok(lrcp.slice(0, firstLayerIds.size).every((m) => !m.complete), 'no precinct complete after layer 0');
  });
});
