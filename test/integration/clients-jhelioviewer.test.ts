/**
 * JHelioviewer replayed byte for byte against the real server (notes §1.6, §2.4, §9.1, §9.2): the
 * newest client (cnew with len=512, /jpip with cid first, metareq=[*]!!, fsiz=W,H,closest with
 * rsiz=W+1,H+1, two pipelined frame requests each in its own write, cclose then an immediate socket
 * close) and the Kakadu-era client (cid last, roff=0,0, no rsiz padding, one request at a time, a
 * case-sensitive header map split on ": "). Every response is checked for what that client depends
 * on, and every frame is reassembled and decoded with OpenJPEG and compared bit-exactly with the
 * original codestream. Targets: an embedded JPX (frames3-128.jpx) and a Helioviewer-style linked JPX
 * built in a temporary root.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { put } from '../../src/bytes/source.js';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { box, colrBox, concatBytes, ftypBox, ihdrBox, signatureBox, xmlBox, ftblBox, dtblBox } from '../../src/j2k/box-writer.js';
import { decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import {
  RawConnection,
  buildRequest,
  cidOf,
  exactHeader,
  headerDims,
  hex,
  jhvHeaders,
  jp2cPayloads,
  levelSize,
  parseJppBody,
  type RawResponse,
} from '../helpers/raw-http.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const JPX = 'frames3-128.jpx';
const LINKED = 'movies/linked.jpx';
/** Original codestreams of the three frames (the same in both targets). */
let frames: Uint8Array[] = [];
let root: string;
let srv: TestServer;
let hostPort: string;
const logs: Array<Record<string, unknown>> = [];

before(async () => {
  const jpx = new Uint8Array(fs.readFileSync(path.join(FIXTURES, JPX)));
  frames = jp2cPayloads(jpx);
  assert.equal(frames.length, 3);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-jhv-root-'));
  fs.mkdirSync(path.join(root, 'frames'));
  fs.mkdirSync(path.join(root, 'movies'));
  fs.writeFileSync(path.join(root, JPX), jpx);
  // Helioviewer layout: one JP2 per frame (FITS header as XML), a movie of ftbl boxes + dtbl.
  const links: Uint8Array[] = [];
  const xmls: Uint8Array[] = [];
  frames.forEach((cs, i) => {
    const head = concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(17)), xmlBox(`<meta><fits><DATE-OBS>2026-01-0${i + 1}</DATE-OBS></fits></meta>`));
    const jp2cHeader = new Uint8Array(8);
    put.u32(jp2cHeader, 0, cs.length + 8);
    jp2cHeader.set(new TextEncoder().encode('jp2c'), 4);
    fs.writeFileSync(path.join(root, 'frames', `f${i}.jp2`), concatBytes(head, jp2cHeader, cs));
    links.push(ftblBox([{ OFF: head.length + 8, LEN: cs.length, DR: i + 1 }]));
    xmls.push(xmlBox(`<meta><fits><DATE-OBS>2026-01-0${i + 1}</DATE-OBS><EXPTIME>2.9</EXPTIME></fits></meta>`));
  });
  const movie = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
    box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(17)),
    ...xmls,
    ...links,
    dtblBox(['../frames/f0.jp2', '../frames/f1.jp2', '../frames/f2.jp2']),
  );
  fs.writeFileSync(path.join(root, LINKED), movie);
  srv = await startTestServer({ root, log: (e) => logs.push(e) });
  hostPort = `127.0.0.1:${srv.port}`;
});

after(async () => {
  await srv.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

function samePixels(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height && a.pixels.length === b.pixels.length && a.pixels.every((v, i) => v === b.pixels[i]);
}

/** A JHelioviewer GET request line + headers, query written exactly as given. */
function jhvGet(pathAndQuery: string): string {
  return buildRequest('GET', pathAndQuery, jhvHeaders(hostPort));
}

/** A compact description of a response for failure messages (and bug reports). */
function show(req: string, r: RawResponse): string {
  return `${req.split('\r\n')[0]} → ${r.statusLine} | ${r.headerLines.join(' | ')} | body ${hex(r.body, 24)}`;
}

/**
 * What every JHelioviewer version checks on a data response (notes §2.4, §9.1, §9.2): the exact
 * status line, the exact content type under its canonical name, header lines a `": "` splitter
 * accepts, one EOR at the end, first message spelling out class and codestream, no class 1/5, no
 * JPIP-cnew unless asked; EOR 4/7 must bring progress. Feeds the body to `cache`; returns the EOR.
 */
function checkJhvResponse(req: string, r: RawResponse, cache: DataBinCache, opts: { cnew?: boolean; accept: number[] }): number {
  const ctx = show(req, r);
  assert.equal(r.statusLine, 'HTTP/1.1 200 OK', ctx);
  assert.equal(exactHeader(r, 'Content-Type'), 'image/jpp-stream', ctx);
  assert.deepEqual(r.headerProblems, [], `header lines a ": " splitter rejects: ${ctx}`);
  // The Kakadu-era parser looks framing headers up in a case-sensitive map.
  if (r.chunked) assert.equal(exactHeader(r, 'Transfer-Encoding'), 'chunked', ctx);
  else assert.ok(exactHeader(r, 'Content-Length') !== undefined, `Content-Length spelled canonically: ${ctx}`);
  if (!opts.cnew) assert.equal(exactHeader(r, 'JPIP-cnew'), undefined, ctx);
  const jpp = parseJppBody(r.body);
  assert.ok(jpp.endsWithEor && jpp.eorCount === 1, `exactly one EOR, at the end: ${ctx}`);
  if (jpp.messages.length > 0) assert.equal((r.body[0] >> 5) & 3, 3, `first message uses indicator 3: ${ctx}`);
  const before = cache.stats();
  for (const m of jpp.messages) {
    assert.ok([0, 2, 6, 8].includes(m.cls), `class ${m.cls} is a protocol error for JHelioviewer: ${ctx}`);
    if (m.length === 0) assert.ok(m.complete, `zero-length message without the completed bit: ${ctx}`);
    cache.add(m);
  }
  const eor = jpp.eor as number;
  assert.ok(opts.accept.includes(eor), `EOR ${eor} not accepted (accepts ${opts.accept.join(',')}): ${ctx}`);
  if (eor === 4 || eor === 7) {
    const now = cache.stats();
    assert.ok(now.bytes > before.bytes || now.completeBins > before.completeBins, `byte-limited response made no progress: ${ctx}`);
  }
  return eor;
}

/** Checks a frame response: data of codestream `s` only, and (first time) its main and empty tile header. */
function checkFrameContent(req: string, r: RawResponse, s: number, firstOfFrame: boolean): void {
  const jpp = parseJppBody(r.body);
  for (const m of jpp.messages) assert.equal(m.codestream, s, `message of codestream ${m.codestream} (class ${m.cls}) in a response for stream=${s}: ${show(req, r)}`);
  if (!firstOfFrame) return;
  assert.ok(jpp.messages.some((m) => m.cls === 6 && m.id === 0 && m.complete), `main header of ${s}: ${show(req, r)}`);
  const th = jpp.messages.filter((m) => m.cls === 2);
  assert.equal(th.length, 1, `one tile header message: ${show(req, r)}`);
  assert.deepEqual({ id: th[0].id, offset: th[0].offset, length: th[0].length, complete: th[0].complete }, { id: 0, offset: 0, length: 0, complete: true }, 'tile header bin 0 present, empty and complete');
}

/** Decodes what the cache holds of codestream `s` at `d` discarded levels and compares with the original. */
async function assertFrameDecodes(cache: DataBinCache, s: number, d: number): Promise<void> {
  const got = await decodeJ2k(reassembleCodestream(cache, s), d);
  const want = await decodeJ2k(frames[s], d);
  assert.ok(samePixels(got, want), `frame ${s} at d=${d} decodes bit-exactly (${got.width}x${got.height} vs ${want.width}x${want.height})`);
}

/** Opens a channel as JHelioviewer does; returns cid. Every JHV version sends this request. */
async function jhvOpen(c: RawConnection, target: string, cache: DataBinCache): Promise<string> {
  const req = jhvGet(`/${target}?cnew=http&type=jpp-stream&tid=0&len=512`);
  await c.write(req);
  const r = await c.readResponse();
  // The newest client does not check the EOR of the opening response (it only feeds the cache).
  checkJhvResponse(req, r, cache, { cnew: true, accept: [1, 2, 4, 7] });
  const cnew = exactHeader(r, 'JPIP-cnew');
  assert.match(cnew ?? '', /^cid=[A-Za-z0-9_-]+,path=jpip,transport=http$/, show(req, r));
  assert.ok(r.body.length - 3 <= 512, 'len=512 respected by the first response');
  return cidOf(cnew);
}

/** Repeats `req` until EOR 1/2 (bounded); each response is checked with `check`. */
async function untilComplete(c: RawConnection, req: string, cache: DataBinCache, accept: number[], check: (r: RawResponse, i: number) => void = () => {}): Promise<number> {
  for (let i = 0; i < 50; i++) {
    await c.write(req);
    const r = await c.readResponse();
    const eor = checkJhvResponse(req, r, cache, { accept });
    check(r, i);
    if (eor === 1 || eor === 2) return i + 1;
  }
  throw new Error(`no EOR 1/2 after 50 repetitions of ${req.split('\r\n')[0]}`);
}

/** Bodies of the top-level `xml ` boxes of a file (what JHelioviewer reads as each frame's FITS header). */
function xmlBodies(file: Uint8Array): string[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: string[] = [];
  for (let pos = 0; pos + 8 <= file.length; ) {
    const len = dv.getUint32(pos);
    if (len < 8) break;
    if (String.fromCharCode(...file.subarray(pos + 4, pos + 8)) === 'xml ') out.push(Buffer.from(file.subarray(pos + 8, pos + len)).toString('latin1'));
    pos += len;
  }
  return out;
}

/** Checks metadata-bin 0 and the XML bins JHelioviewer reads after `metareq=[*]!!`. */
function checkMetadata(cache: DataBinCache, target: string): void {
  const bin0 = { cls: 8, codestream: 0, id: 0 };
  assert.ok(cache.isComplete(bin0), 'metadata-bin 0 complete');
  const text = Buffer.from(cache.get(bin0)).toString('latin1');
  assert.ok(text.split('phld').length - 1 >= 3, 'a placeholder per frame');
  const bins = cache.keys().filter((k) => k.cls === 8 && k.id > 0);
  for (const k of bins) assert.ok(cache.isComplete(k), `metadata-bin ${k.id} complete`);
  const got = new Set(bins.map((k) => Buffer.from(cache.get(k)).toString('latin1')));
  const want = xmlBodies(new Uint8Array(fs.readFileSync(path.join(root, target))));
  assert.ok(want.length >= 2);
  for (const x of want) assert.ok(got.has(x), `XML box ${JSON.stringify(x.slice(0, 40))} delivered whole`);
}

for (const target of [JPX, LINKED]) {
  describe(`JHelioviewer newest (source/jpip) on ${target}`, () => {
    it('opens, loads metadata, primes, pipelines two frames (separate writes), decodes them bit-exactly, closes', { timeout: 20_000 }, async () => {
      const cache = new DataBinCache();
      const c = await RawConnection.connect(srv.port);
      try {
        const cid = await jhvOpen(c, target, cache);
        // Metadata until EOR 1/2; `!!` = metadata only.
        const metaReq = jhvGet(`/jpip?cid=${cid}&stream=0&metareq=[*]!!&len=2000000`);
        await untilComplete(c, metaReq, cache, [1, 2, 4, 7], (r) => {
          for (const m of parseJppBody(r.body).messages) assert.equal(m.cls, 8, `metareq=[*]!! answered with class ${m.cls}`);
        });
        checkMetadata(cache, target);
        // First contact: coarse prime of frame 0.
        const prime = jhvGet(`/jpip?cid=${cid}&stream=0&fsiz=64,64,closest&rsiz=64,64&len=2097152`);
        let first = true;
        await untilComplete(c, prime, cache, [1, 2, 4, 7], (r) => {
          checkFrameContent(prime, r, 0, first);
          first = false;
        });
        await assertFrameDecodes(cache, 0, 1);
        // Frames at full size, W,H from each frame's main header; rsiz padded by one pixel.
        const full = (s: number): string => {
          const [w, h] = levelSize(headerDims(cache.get({ cls: 6, codestream: 0, id: 0 })), 0);
          return jhvGet(`/jpip?cid=${cid}&stream=${s}&fsiz=${w},${h},closest&rsiz=${w + 1},${h + 1}&len=2097152`);
        };
        const reqs = [full(1), full(2)];
        assert.equal(reqs[0].split('\r\n')[0], `GET /jpip?cid=${cid}&stream=1&fsiz=128,128,closest&rsiz=129,129&len=2097152 HTTP/1.1`);
        await c.writeEach(reqs, 1);
        const answers = [await c.readResponse(), await c.readResponse()];
        answers.forEach((r, i) => {
          const eor = checkJhvResponse(reqs[i], r, cache, { accept: [1, 2, 4, 7] });
          checkFrameContent(reqs[i], r, i + 1, true);
          assert.ok(eor === 1 || eor === 2, `2 MiB is enough for a 128x128 frame: EOR ${eor}`);
        });
        for (const s of [1, 2]) await assertFrameDecodes(cache, s, 0);
        // Frame 0 at full size continues from the prime.
        await untilComplete(c, full(0), cache, [1, 2, 4, 7], (r) => checkFrameContent(full(0), r, 0, false));
        await assertFrameDecodes(cache, 0, 0);
        for (const k of cache.keys()) if (k.cls === 0) assert.ok(cache.isComplete(k), `precinct ${k.codestream}/${k.id} complete (all layers)`);
        // Close: written, then the socket is dropped without reading the reply.
        await c.write(jhvGet(`/jpip?cclose=${cid}&len=0`));
        c.destroy();
        let status = 0;
        for (let i = 0; i < 20 && status !== 404; i++) {
          const probe = await RawConnection.connect(srv.port);
          await probe.write(jhvGet(`/jpip?cid=${cid}&stream=0&len=0`));
          status = (await probe.readResponse()).status;
          probe.destroy();
          if (status !== 404) await new Promise((res) => setTimeout(res, 50));
        }
        assert.equal(status, 404, 'channel closed by cclose');
        assert.ok(logs.some((e) => e.cclose === 1), 'cclose logged as a normal request');
      } finally {
        c.destroy();
      }
    });

    it('answers a first byte-limited open (len=512) with EOR 4 and progress, and keeps the header rules on it', async () => {
      const cache = new DataBinCache();
      const c = await RawConnection.connect(srv.port);
      try {
        const req = jhvGet(`/${target}?cnew=http&type=jpp-stream&tid=0&len=512`);
        await c.write(req);
        const r = await c.readResponse();
        const eor = checkJhvResponse(req, r, cache, { cnew: true, accept: [4] });
        assert.equal(eor, 4, 'metadata-bin 0 of a 3-frame movie does not fit in 512 bytes');
        assert.ok(cache.stats().bytes > 0);
        assert.equal(exactHeader(r, 'JPIP-tid')?.includes('/'), false, 'tid is no server path');
      } finally {
        c.destroy();
      }
    });
  });

  describe(`JHelioviewer Kakadu era (view/j2k/jpip) on ${target}`, () => {
    it('opens, loads metadata with cid last, then every level of every frame one request at a time, bit-exactly', { timeout: 20_000 }, async () => {
      const cache = new DataBinCache();
      const c = await RawConnection.connect(srv.port);
      try {
        const cid = await jhvOpen(c, target, cache);
        // EOR 1/2 = complete; anything else = repeat the same request (bounded here).
        await untilComplete(c, jhvGet(`/jpip?stream=0&metareq=[*]!!&len=2000000&cid=${cid}`), cache, [1, 2, 4, 7]);
        checkMetadata(cache, target);
        const prime = jhvGet(`/jpip?stream=0&fsiz=64,64,closest&rsiz=64,64&roff=0,0&len=2097152&cid=${cid}`);
        let first = true;
        await untilComplete(c, prime, cache, [1, 2, 4, 7], (r) => {
          checkFrameContent(prime, r, 0, first);
          first = false;
        });
        for (let s = 0; s < 3; s++) {
          const dims = headerDims(frames[s]);
          for (let d = dims.NL; d >= 0; d--) {
            const [w, h] = levelSize(dims, d);
            const req = jhvGet(`/jpip?stream=${s}&fsiz=${w},${h},closest&rsiz=${w},${h}&roff=0,0&len=2097152&cid=${cid}`);
            let firstOfFrame = s > 0 && d === dims.NL;
            await untilComplete(c, req, cache, [1, 2, 4, 7], (r) => {
              // A case-sensitive map: the served window must not be reported when it equals the request.
              assert.equal(exactHeader(r, 'JPIP-fsiz'), undefined, `exact level size ${w}x${h} kept`);
              checkFrameContent(req, r, s, firstOfFrame);
              firstOfFrame = false;
            });
            await assertFrameDecodes(cache, s, d);
          }
        }
        await c.write(jhvGet(`/jpip?cclose=${cid}&len=0`));
        const r = await c.readResponse();
        assert.equal(r.statusLine, 'HTTP/1.1 200 OK');
        assert.deepEqual(r.headerProblems, []);
      } finally {
        c.destroy();
      }
    });
  });
}

describe('JHelioviewer pipelining through the sequencer (docs/decisions/0001-uws-pipelining.md)', () => {
  it(
    'answers two frame requests written in ONE write, in order',
    { timeout: 10_000 },
    async () => {
      const cache = new DataBinCache();
      const c = await RawConnection.connect(srv.port);
      try {
        const cid = await jhvOpen(c, JPX, cache);
        await untilComplete(c, jhvGet(`/jpip?cid=${cid}&stream=0&metareq=[*]!!&len=2000000`), cache, [1, 2, 4, 7]);
        const reqs = [1, 2].map((s) => jhvGet(`/jpip?cid=${cid}&stream=${s}&fsiz=128,128,closest&rsiz=129,129&len=2097152`));
        await c.write(reqs.join(''));
        const answers: RawResponse[] = [];
        for (let i = 0; i < 2; i++) answers.push(await c.readResponse(5000));
        answers.forEach((r, i) => {
          checkJhvResponse(reqs[i], r, cache, { accept: [1, 2] });
          checkFrameContent(reqs[i], r, i + 1, true);
        });
      } finally {
        c.destroy();
      }
    },
  );

  it(
    'answers two frame requests written back to back in separate writes (write+flush twice, as JHelioviewer does), in order',
    { timeout: 10_000 },
    async () => {
      const cache = new DataBinCache();
      const c = await RawConnection.connect(srv.port);
      try {
        const cid = await jhvOpen(c, JPX, cache);
        await untilComplete(c, jhvGet(`/jpip?cid=${cid}&stream=0&metareq=[*]!!&len=2000000`), cache, [1, 2, 4, 7]);
        const reqs = [1, 2].map((s) => jhvGet(`/jpip?cid=${cid}&stream=${s}&fsiz=128,128,closest&rsiz=129,129&len=2097152`));
        await c.writeBackToBack(reqs);
        const answers: RawResponse[] = [];
        for (let i = 0; i < 2; i++) answers.push(await c.readResponse(5000));
        answers.forEach((r, i) => {
          checkJhvResponse(reqs[i], r, cache, { accept: [1, 2] });
          checkFrameContent(reqs[i], r, i + 1, true);
        });
      } finally {
        c.destroy();
      }
    },
  );
});
