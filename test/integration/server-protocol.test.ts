/**
 * The real server on 127.0.0.1 with real worker threads: response framing and headers, channels,
 * cclose, stateless requests, pipelining on one connection, and bad input (each gets a 4xx with a
 * one-line reason, and the server keeps serving everything else).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { JpipSession } from '../../src/client/session.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

/**
 * Sends raw requests on one TCP connection (each part in its own write, 30 ms apart, as a client
 * writing requests one by one does) and collects everything until the server is quiet for `quietMs`.
 */
function raw(port: number, data: string | string[], quietMs = 400): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    sock.on('data', (d) => {
      chunks.push(d);
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    });
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    const parts = Array.isArray(data) ? data : [data];
    parts.forEach((p, i) => setTimeout(() => sock.write(p), i * 30));
    timer = setTimeout(done, 5000);
  });
}

describe('responses', () => {
  it('opens a channel with the exact JPIP-cnew form, JPP content type, CORS and a path-free tid', async () => {
    const res = await fetch(`${srv.base}/gray1000-rpcl-p64-l4.j2k?cnew=http&type=jpp-stream&tid=0&len=512`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpp-stream');
    const cnew = res.headers.get('jpip-cnew') ?? '';
    assert.match(cnew, /^cid=[0-9a-f]{32},path=jpip,transport=http$/);
    const tid = res.headers.get('jpip-tid') ?? '';
    assert.match(tid, /^[A-Za-z0-9_-]{8,64}$/);
    assert.ok(!tid.includes('/'));
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(',');
    for (const h of ['JPIP-cnew', 'JPIP-tid', 'JPIP-qid', 'JPIP-fsiz', 'JPIP-roff', 'JPIP-rsiz', 'JPIP-layers']) assert.ok(exposed.includes(h), h);
    const body = new Uint8Array(await res.arrayBuffer());
    // First message spells out class and codestream (indicator 3) and the body ends with an EOR.
    assert.equal((body[0] >> 5) & 3, 3);
    const events = parseJppStream(body);
    const last = events[events.length - 1];
    assert.equal(last.kind, 'eor');
    // Raw codestream: metadata-bin 0 is empty and complete, and comes first.
    const first = events[0];
    assert.ok(first.kind === 'message' && first.cls === 8 && first.id === 0 && first.complete && first.length === 0);
  });

  it('serves the status line HTTP/1.1 200 OK with a Content-Length, and answers pipelined requests in order', async () => {
    const req = (q: string): string => `GET /gray257-n6-defprec-l2.j2k?${q} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const text = await raw(srv.port, [req('type=jpp-stream&qid=1&len=50&fsiz=257,129'), req('type=jpp-stream&qid=2&len=60'), req('type=jpp-stream&qid=3&len=70')]);
    const lines = text.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 200 OK');
    assert.doesNotMatch(text, /Transfer-Encoding: chunked/i, 'the length of every body is known before it is sent');
    const first = text.slice(0, text.indexOf('HTTP/1.1 200 OK', 10));
    const length = Number(/\r\nContent-Length: (\d+)\r\n/i.exec(first)?.[1]);
    assert.equal(first.length - (first.indexOf('\r\n\r\n') + 4), length, 'Content-Length frames the first response exactly');
    const qids = [...text.matchAll(/JPIP-qid: (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(qids, [1, 2, 3]);
  });

  it('echoes qid, reports the served window when it differs, and ignores unknown fields', async () => {
    const res = await fetch(`${srv.base}/gray1000-rpcl-p64-l4.j2k?type=jpp-stream&qid=7&fsiz=900,600&rsiz=2000,2000&frobnicate=1&len=100`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('jpip-qid'), '7');
    assert.equal(res.headers.get('jpip-fsiz'), '500,350'); // round-down: 1000x700 does not fit, 500x350 does
    assert.equal(res.headers.get('jpip-rsiz'), '500,350');
    await res.arrayBuffer();
  });

  it('routes channel requests by cid on any connection and path, and closes channels', async () => {
    const s = new JpipSession(srv.base, 'gray1000-rpcl-p64-l4.j2k');
    await s.open({ len: 100 });
    assert.ok(s.cid);
    const viaImagePath = await fetch(`${srv.base}/gray1000-rpcl-p64-l4.j2k?cid=${s.cid}&fsiz=125,88&len=100`);
    assert.equal(viaImagePath.status, 200);
    await viaImagePath.arrayBuffer();
    const close = await fetch(`${srv.base}/jpip?cclose=${s.cid}&len=0`);
    assert.equal(close.status, 200);
    await close.arrayBuffer();
    const again = await fetch(`${srv.base}/jpip?cid=${s.cid}&fsiz=125,88`);
    assert.ok(again.status >= 400 && again.status < 500);
    await again.arrayBuffer();
  });

  it('adds channels to a session with cnew+cid and closes them all with cclose=*', async () => {
    const s = new JpipSession(srv.base, 'gray257-n6-defprec-l2.j2k');
    await s.open({ len: 100 });
    const first = s.cid as string;
    const second = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?cnew=http&cid=${first}&len=0`);
    const cid2 = /cid=([0-9a-f]+)/.exec(second.headers.get('jpip-cnew') ?? '')?.[1];
    await second.arrayBuffer();
    assert.ok(cid2 && cid2 !== first);
    const closeAll = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?cclose=*&cid=${cid2}`);
    assert.equal(closeAll.status, 200);
    await closeAll.arrayBuffer();
    for (const cid of [first, cid2]) {
      const r = await fetch(`${srv.base}/jpip?cid=${cid}&len=10`);
      assert.equal(r.status, 404);
      await r.arrayBuffer();
    }
  });

  it('answers OPTIONS with CORS', async () => {
    const res = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k`, { method: 'OPTIONS' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});

describe('bad input', () => {
  const expect4xx = async (url: string, status: number, init?: RequestInit): Promise<string> => {
    const res = await fetch(url, init);
    const text = await res.text();
    assert.equal(res.status, status, `${url}: ${text}`);
    assert.equal(text.trim().split('\n').length, 1, 'one-line reason');
    assert.ok(!text.includes(srv.cacheDir) && !/\/(tmp|work|home|root)\//.test(text), 'no server path in the reason');
    return text;
  };

  it('rejects malformed fields with 400 and a one-line reason', async () => {
    for (const q of ['fsiz=abc', 'fsiz=10', 'fsiz=-5,5', 'roff=1,1', 'len=1e9', 'len=99999999999999999999', 'stream=5-2', 'qid=x', 'wait=maybe', 'metareq=[', 'fsiz=0,10']) {
      await expect4xx(`${srv.base}/gray257-n6-defprec-l2.j2k?${q}`, 400);
    }
  });

  it('answers 404 for unknown targets and anything outside the root, without reading it', async () => {
    for (const p of ['/nope.jp2', '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '//etc/passwd', '/.hidden.jp2']) {
      await expect4xx(`${srv.base}${p}?fsiz=10,10`, 404);
    }
    await expect4xx(`${srv.base}/jpip?target=/etc/passwd&fsiz=10,10`, 404);
    await expect4xx(`${srv.base}/jpip?target=../../etc/passwd&fsiz=10,10`, 404);
  });

  it('answers a 4xx for an unknown cid', async () => {
    await expect4xx(`${srv.base}/jpip?cid=0123456789abcdef0123456789abcdef&fsiz=10,10`, 404);
  });

  it('gives a clear error for broken or unsupported images while every other image keeps being served', async () => {
    await expect4xx(`${srv.base}/gray257-truncated.j2k?fsiz=10,10&len=100`, 415);
    await expect4xx(`${srv.base}/corrupt-boxlen.jp2?fsiz=10,10&len=100`, 415);
    const ok = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=64,32&len=1000`);
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  it('closes after answering a request that says Connection: close, and says so', async () => {
    const got = await new Promise<{ text: string; closedByServer: boolean }>((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ text, closedByServer: false });
      }, 3000);
      sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
      sock.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closedByServer: true });
      });
      sock.write('GET /rgb96.jp2?fsiz=8,8&len=10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    });
    assert.match(got.text, /^HTTP\/1\.1 200 /);
    assert.match(got.text, /\r\nConnection: close\r\n/i);
    assert.ok(got.closedByServer, 'the server closed the connection');
  });

  it('answers HEAD without a body and without stopping the server (regression: the process aborted)', async () => {
    const text = await raw(srv.port, 'HEAD /rgb96.jp2?fsiz=8,8&len=10 HTTP/1.1\r\nHost: a\r\n\r\nGET /rgb96.jp2?fsiz=8,8&len=10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const second = text.indexOf('HTTP/1.1 200');
    assert.match(text, /^HTTP\/1\.1 405 /);
    assert.ok(second > 0, 'the pipelined GET is answered');
    assert.equal(text.slice(0, second).split('\r\n\r\n')[1], '', 'nothing between the HEAD response head and the next response');
    const ok = await fetch(`${srv.base}/rgb96.jp2?fsiz=8,8&len=10`);
    assert.equal(ok.status, 200, 'still serving');
    await ok.arrayBuffer();
  });

  it('rejects unsupported return types and methods', async () => {
    const jpt = await expect4xx(`${srv.base}/gray257-n6-defprec-l2.j2k?type=jpt-stream`, 415);
    assert.match(jpt, /jpp-stream/, 'says what to ask for instead');
    await expect4xx(`${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=10,10`, 405, { method: 'DELETE' });
  });

  it('survives an oversized request head and absurd numbers', async () => {
    const huge = 'x'.repeat(20000);
    const text = await raw(srv.port, `GET /gray257-n6-defprec-l2.j2k?fsiz=10,10&junk=${huge} HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 4\d\d/);
    await expect4xx(`${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=4294967296,10`, 400);
    const big = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=4294967295,4294967295&roff=4294967294,4294967294&len=100`);
    assert.equal(big.status, 200);
    await big.arrayBuffer();
    const ok = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?fsiz=64,32&len=1000`);
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  it('reports changed fields: streams and components past the last, quality not honoured', async () => {
    const get = async (q: string): Promise<Response> => {
      const r = await fetch(`${srv.base}/${q}`);
      await r.arrayBuffer();
      return r;
    };
    const comps = await get('rgb96.jp2?fsiz=96,64&len=100&comps=1-5');
    assert.equal(comps.status, 200);
    assert.equal(comps.headers.get('jpip-comps'), '1-2');
    assert.equal((await get('rgb96.jp2?fsiz=96,64&len=100&comps=0-2')).headers.get('jpip-comps'), null, 'nothing changed');
    assert.equal((await get('rgb96.jp2?fsiz=96,64&len=100&comps=7')).status, 400);
    const streams = await get('frames3-128.jpx?fsiz=128,128&len=100&stream=1-9');
    assert.equal(streams.status, 200);
    assert.equal(streams.headers.get('jpip-stream'), '1,2');
    assert.equal((await get('frames3-128.jpx?fsiz=128,128&len=100&context=jpxl<2-7>')).headers.get('jpip-stream'), '2');
    assert.equal((await get('frames3-128.jpx?fsiz=128,128&len=100&stream=1-')).headers.get('jpip-stream'), null, 'an open range is not past the end');
    assert.equal((await get('rgb96.jp2?fsiz=96,64&len=100&stream=3')).status, 400);
    assert.equal((await get('rgb96.jp2?fsiz=96,64&len=100&quality=50')).headers.get('jpip-quality'), '-1');
    const tcp = await get('rgb96.jp2?cnew=http-tcp&fsiz=96,64&len=100');
    assert.equal(tcp.status, 200);
    assert.equal(tcp.headers.get('jpip-cnew'), null, 'http-tcp is not granted: no channel, no error');
  });

  it('refuses model statements about data-bins the image does not have (they would size the model)', async () => {
    const bad = await fetch(`${srv.base}/rgb96.jp2?cnew=http&type=jpp-stream&fsiz=96,64&len=1000&model=P999999`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /no precinct data-bin 999999/);
    assert.equal(bad.headers.get('jpip-cnew'), null, 'no channel is opened by a refused request');
    const tile = await fetch(`${srv.base}/rgb96.jp2?fsiz=96,64&len=1000&model=H7`);
    assert.equal(tile.status, 400, 'one tile: no tile-header bin 7');
    await tile.arrayBuffer();
    // Real bins (and codestream ranges past the last, which are clamped) are fine.
    const ok = await fetch(`${srv.base}/frames3-128.jpx?fsiz=128,128&len=1000&model=[0-4095],Hm,H0,P0`);
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    // Subtractive statements never allocate, so they are not checked.
    const minus = await fetch(`${srv.base}/rgb96.jp2?fsiz=96,64&len=1000&model=-P999999`);
    assert.equal(minus.status, 200);
    await minus.arrayBuffer();
  });

  it('serves JPP to a client that prefers JPT but accepts JPP, and says so in JPIP-type', async () => {
    const res = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?type=jpt-stream,jpp-stream&fsiz=64,32&len=500`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpp-stream');
    assert.equal(res.headers.get('jpip-type'), 'jpp-stream');
    assert.ok((res.headers.get('access-control-expose-headers') ?? '').includes('JPIP-type'));
    await res.arrayBuffer();
    const plain = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k?type=jpp-stream,jpt-stream&fsiz=64,32&len=500`);
    assert.equal(plain.headers.get('jpip-type'), null, 'JPP was the first preference: nothing changed');
    await plain.arrayBuffer();
  });

  it('accepts POST with a form body like a query', async () => {
    const res = await fetch(`${srv.base}/gray257-n6-defprec-l2.j2k`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'type=jpp-stream&fsiz=64,32&len=500&qid=3',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('jpip-qid'), '3');
    await res.arrayBuffer();
  });
});

describe('connections', () => {
  it('with --keep-alive-s above 10, keeps an idle connection usable past uWebSockets.js’ own 10 s idle close', { timeout: 30_000 }, async () => {
    const relayed = await startTestServer({ keepAliveMs: 120_000 });
    try {
      const sock = net.connect(relayed.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      let text = '';
      sock.on('data', (d) => (text += d.toString('latin1')));
      const req = (q: number) => `GET /gray257-n6-defprec-l2.j2k?type=jpp-stream&qid=${q}&len=20 HTTP/1.1\r\nHost: a\r\n\r\n`;
      sock.write(req(1));
      await new Promise((r) => setTimeout(r, 13_000));
      assert.ok(!sock.destroyed, 'the client connection is still open');
      sock.write(req(2));
      for (let i = 0; i < 50 && !text.includes('JPIP-qid: 2'); i++) await new Promise((r) => setTimeout(r, 50));
      sock.destroy();
      assert.deepEqual([...text.matchAll(/JPIP-qid: (\d+)/g)].map((m) => m[1]), ['1', '2']);
    } finally {
      await relayed.stop();
    }
  });

  it('answers requests pipelined in one segment in order', async () => {
    const req = (q: number) => `GET /gray257-n6-defprec-l2.j2k?type=jpp-stream&qid=${q}&len=${q * 10} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const text = await raw(srv.port, req(1) + req(2) + req(3) + req(4));
    assert.deepEqual([...text.matchAll(/JPIP-qid: (\d+)/g)].map((m) => m[1]), ['1', '2', '3', '4']);
  });
});

describe('POST with Expect: 100-continue', () => {
  it('answers 100 Continue, then the response', async () => {
    const body = 'type=jpp-stream&fsiz=64,32&len=500&qid=9';
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.write(`POST /gray257-n6-defprec-l2.j2k HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    for (let i = 0; i < 40 && !text.includes('100 Continue'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\n/, 'interim response before the body is sent');
    sock.write(body);
    for (let i = 0; i < 80 && !text.includes('JPIP-qid: 9'); i++) await new Promise((r) => setTimeout(r, 25));
    sock.destroy();
    assert.match(text, /HTTP\/1\.1 200 OK[\s\S]*JPIP-qid: 9/);
  });
});
