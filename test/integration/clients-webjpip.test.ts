/**
 * webjpip.js replayed byte for byte against the real server (notes §1.6, §2.4, §9.3): every request
 * goes to the image URL (also those with `cid`) from a browser on another origin, so CORS must expose
 * the JPIP headers; the window-less session-opening request with `qid=1` and `len=10240` must lead,
 * over len-doubling repetitions, to a complete main header; window requests carry `wait=yes`, `qid`
 * and (once known) `tid`, and are re-issued with a doubled `len` after EOR 4/7; it opens extra
 * channels in the same session (`cnew=http&cid=<first>`) on pooled connections, sends a keep-alive
 * request that must be answered at once with EOR 2, and closes with `cclose=*&cid=`. Windows are
 * decoded with OpenJPEG and compared bit-exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { box, concatBytes, ftypBox, ihdrBox, signatureBox } from '../../src/j2k/box-writer.js';
import { cropPixels, decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { RawConnection, anyHeader, browserHeaders, buildRequest, cidOf, hex, jp2cPayloads, parseJppBody, type RawResponse } from '../helpers/raw-http.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

/** A JP2 whose metadata-bin 0 (a 24 KB ICC profile in jp2h) is larger than webjpip's first len. */
const ICC = 'icc-rgb96.jp2';
const TILED = 'gray1000-t512-tpr-rpcl.j2k';
const TLM = 'gray257-eph-tlm.j2k';
let root: string;
let srv: TestServer;
let hostPort: string;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-webjpip-root-'));
  for (const f of [TILED, TLM]) fs.copyFileSync(path.join(FIXTURES, f), path.join(root, f));
  const cs = jp2cPayloads(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'rgb96.jp2'))))[0];
  const icc = new Uint8Array(24_000).map((_, i) => (i * 31) & 0xff);
  const colrIcc = box('colr', Uint8Array.of(2, 0, 0), icc); // METH 2: restricted ICC profile
  fs.writeFileSync(path.join(root, ICC), concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(96, 64, 3, 8), colrIcc), box('jp2c', cs)));
  srv = await startTestServer({ root });
  hostPort = `127.0.0.1:${srv.port}`;
});
after(async () => {
  await srv.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** webjpip.js's XMLHttpRequest GET on the image URL. */
function xhr(image: string, query: string): string {
  return buildRequest('GET', `/${image}?${query}`, browserHeaders(hostPort));
}

function show(req: string, r: RawResponse): string {
  return `${req.split('\r\n')[0]} → ${r.statusLine} | ${r.headerLines.join(' | ')} | body ${hex(r.body, 24)}`;
}

/** What webjpip.js needs of every response (notes §2.4, §9.3); feeds `cache`; returns the EOR. */
function checkWebjpip(req: string, r: RawResponse, cache: DataBinCache, qid: number, tid: { value?: string }): number {
  const ctx = show(req, r);
  assert.equal(r.status, 200, ctx);
  assert.equal(anyHeader(r, 'access-control-allow-origin'), '*', `CORS: ${ctx}`);
  const exposed = (anyHeader(r, 'access-control-expose-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
  for (const h of ['jpip-cnew', 'jpip-tid', 'jpip-qid']) assert.ok(exposed.includes(h), `${h} exposed: ${ctx}`);
  assert.equal(anyHeader(r, 'jpip-qid'), String(qid), `JPIP-qid echoed: ${ctx}`);
  const t = anyHeader(r, 'jpip-tid');
  if (t !== undefined) {
    if (tid.value !== undefined) assert.equal(t, tid.value, 'JPIP-tid constant');
    tid.value = t;
  }
  const jpp = parseJppBody(r.body);
  assert.ok(jpp.endsWithEor && jpp.eorCount === 1, `"EOR at the end of every body": ${ctx}`);
  for (const m of jpp.messages) {
    assert.equal(m.codestream, 0, `non-zero codestream throws in webjpip.js: ${ctx}`);
    assert.ok([0, 1, 2, 6, 8].includes(m.cls), `class ${m.cls}: ${ctx}`);
    cache.add(m);
  }
  const eor = jpp.eor as number;
  assert.ok([1, 2, 4, 5, 7].includes(eor), `EOR ${eor} is an error for webjpip.js: ${ctx}`);
  return eor;
}

/** One webjpip.js channel: qid counter per channel, tid once known. */
interface Channel {
  conn: RawConnection;
  cid: string;
  qid: number;
  tid: { value?: string };
}

/** Session open: the window-less request re-issued with doubled len until the main header is complete. */
async function openSession(conn: RawConnection, image: string, cache: DataBinCache): Promise<{ ch: Channel; requests: number; eors: number[] }> {
  const tid: { value?: string } = {};
  const req = xhr(image, 'type=jpp-stream&stream=0&len=10240&qid=1&cnew=http');
  await conn.write(req);
  const r = await conn.readResponse();
  const eors = [checkWebjpip(req, r, cache, 1, tid)];
  const ch: Channel = { conn, cid: cidOf(anyHeader(r, 'jpip-cnew')), qid: 1, tid };
  let len = 10240;
  const main = { cls: 6, codestream: 0, id: 0 };
  while (eors[eors.length - 1] === 4 || eors[eors.length - 1] === 7) {
    assert.ok(eors.length < 10, 'bounded');
    len *= 2;
    ch.qid++;
    const again = xhr(image, `type=jpp-stream&stream=0&tid=${tid.value}&len=${len}&qid=${ch.qid}&cid=${ch.cid}`);
    const before = cache.stats().bytes;
    await conn.write(again);
    eors.push(checkWebjpip(again, await conn.readResponse(), cache, ch.qid, tid));
    assert.ok(cache.stats().bytes > before || eors[eors.length - 1] !== 4, 'progress');
  }
  assert.ok(cache.isComplete(main), 'Main header was not loaded on session creation');
  return { ch, requests: eors.length, eors };
}

/** A window request re-issued with doubled len after EOR 4/7 until success (webjpip's request object). */
async function fetchWindow(ch: Channel, image: string, cache: DataBinCache, win: string, wait = 'yes'): Promise<number> {
  let len = 10240;
  for (let i = 0; i < 20; i++) {
    ch.qid++;
    const req = xhr(image, `type=jpp-stream&stream=0&tid=${ch.tid.value}&wait=${wait}&${win}&len=${len}&qid=${ch.qid}&cid=${ch.cid}`);
    await ch.conn.write(req);
    const eor = checkWebjpip(req, await ch.conn.readResponse(), cache, ch.qid, ch.tid);
    if (eor === 1 || eor === 2 || eor === 5) return i + 1;
    len *= 2;
  }
  throw new Error('window not complete after 20 doublings');
}

function samePixels(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height && a.pixels.length === b.pixels.length && a.pixels.every((v, i) => v === b.pixels[i]);
}

/** The marker codes of a header data-bin (main: after SOC). */
function markers(bin: Uint8Array, main: boolean): number[] {
  const out: number[] = [];
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  for (let pos = main ? 2 : 0; pos + 4 <= bin.length; pos += 2 + dv.getUint16(pos + 2)) out.push(dv.getUint16(pos));
  return out;
}

describe('webjpip.js', () => {
  it('opens a session window-less (qid=1, len=10240) and gets a complete main header over len-doubling requests', async () => {
    const conn = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const { requests, eors } = await openSession(conn, ICC, cache);
      assert.ok(requests >= 2, `the 24 KB metadata-bin 0 needs more than the first 10240 bytes (EORs ${eors.join(',')})`);
      assert.equal(eors[0], 4);
      assert.ok(cache.isComplete({ cls: 8, codestream: 0, id: 0 }), 'metadata-bin 0 complete');
      assert.ok(cache.isComplete({ cls: 2, codestream: 0, id: 0 }), 'tile header bin served without a window');
    } finally {
      conn.destroy();
    }
  });

  it('serves headers with only the markers webjpip.js parses (no TLM/PLM/PLT), for every tile of a window, and the window bit-exactly', { timeout: 20_000 }, async () => {
    for (const image of [TLM, TILED]) {
      const conn = await RawConnection.connect(srv.port);
      try {
        const cache = new DataBinCache();
        const { ch } = await openSession(conn, image, cache);
        const allowed = [0xff51, 0xff52, 0xff5c, 0xff64]; // SIZ, COD, QCD, COM
        for (const m of markers(cache.get({ cls: 6, codestream: 0, id: 0 }), true)) assert.ok(allowed.includes(m), `${image}: main header marker 0x${m.toString(16)}`);
        const original = new Uint8Array(fs.readFileSync(path.join(root, image)));
        const [W, H] = image === TLM ? [257, 129] : [1000, 700];
        const [x, y, w, h] = image === TLM ? [40, 20, 150, 90] : [400, 300, 300, 200];
        await fetchWindow(ch, image, cache, `fsiz=${W},${H},closest&rsiz=${w},${h}&roff=${x},${y}`);
        const tiles = image === TLM ? [0] : [0, 1, 2, 3];
        for (const t of tiles) {
          const key = { cls: 2, codestream: 0, id: t };
          assert.ok(cache.isComplete(key), `${image}: tile header ${t} complete`);
          for (const m of markers(cache.get(key), false)) assert.ok(allowed.includes(m) && m !== 0xff58, `${image}: tile ${t} header marker 0x${m.toString(16)}`);
        }
        const got = cropPixels(await decodeJ2k(reassembleCodestream(cache, 0)), x, y, w, h);
        const want = cropPixels(await decodeJ2k(original), x, y, w, h);
        assert.ok(samePixels(got, want), `${image}: window decodes bit-exactly`);
      } finally {
        conn.destroy();
      }
    }
  });

  it('adds channels to the session on pooled connections, shares the model, answers the keep-alive with EOR 2, closes with cclose=*', { timeout: 20_000 }, async () => {
    const image = TILED;
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => RawConnection.connect(srv.port)));
    try {
      const cache = new DataBinCache();
      const { ch: ch1 } = await openSession(a, image, cache);
      // Extra channel, same session, on another connection.
      const extraReq = xhr(image, `type=jpp-stream&stream=0&len=10240&qid=1&cnew=http&cid=${ch1.cid}`);
      await b.write(extraReq);
      const extra = await b.readResponse();
      const ch2: Channel = { conn: b, cid: '', qid: 1, tid: ch1.tid };
      checkWebjpip(extraReq, extra, cache, 1, ch2.tid);
      ch2.cid = cidOf(anyHeader(extra, 'jpip-cnew'));
      assert.notEqual(ch2.cid, ch1.cid);
      // The movable channel (wait=no) and the normal one ask overlapping windows; nothing is sent twice.
      await fetchWindow(ch2, image, cache, 'fsiz=500,350,closest&rsiz=200,150&roff=100,100', 'no');
      await fetchWindow(ch1, image, cache, 'fsiz=500,350,closest&rsiz=250,175&roff=0,0');
      assert.equal(cache.stats().duplicateMessages, 0, 'channels of one session share the model');
      assert.equal(cache.stats().redundantBytes, 0);
      // Channel 1's next request arrives on a third pooled connection.
      const moved: Channel = { ...ch1, conn: c };
      await fetchWindow(moved, image, cache, 'fsiz=500,350,closest&rsiz=250,175&roff=250,175');
      // Keep-alive when idle: minimal request, answered at once with EOR 2 and nothing else.
      moved.qid++;
      const keepAlive = xhr(image, `type=jpp-stream&stream=0&tid=${ch1.tid.value}&wait=yes&len=10240&qid=${moved.qid}&cid=${moved.cid}`);
      await c.write(keepAlive);
      const ka = await c.readResponse(2000);
      assert.equal(checkWebjpip(keepAlive, ka, cache, moved.qid, moved.tid), 2);
      assert.deepEqual([...ka.body], [0x00, 0x02, 0x00], show(keepAlive, ka));
      // Close every channel of the session.
      const close = xhr(image, `type=jpp-stream&cclose=*&cid=${ch2.cid}`);
      await b.write(close);
      const closed = await b.readResponse();
      assert.equal(closed.status, 200, show(close, closed));
      assert.equal(anyHeader(closed, 'access-control-allow-origin'), '*');
      for (const [conn, ch] of [
        [a, ch1],
        [b, ch2],
      ] as const) {
        const req = xhr(image, `type=jpp-stream&stream=0&wait=yes&len=10240&qid=99&cid=${ch.cid}`);
        await conn.write(req);
        const r = await conn.readResponse();
        assert.ok(r.status === 404 || r.status === 503, `channel ${ch.cid} gone: ${show(req, r)}`);
        assert.equal(anyHeader(r, 'access-control-allow-origin'), '*', 'CORS on errors too');
      }
    } finally {
      for (const x of [a, b, c]) x.destroy();
    }
  });
});
